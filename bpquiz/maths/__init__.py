"""The mathematics of one step of gradient descent: pure, numpy in and numbers out, no I/O."""
