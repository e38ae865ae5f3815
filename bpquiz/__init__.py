"""bpquiz: backpropagation exercises, exact worked solutions, exam sheets and marking."""

__version__ = "0.1.0"
