"""The kinds of exercise `bpquiz generate` draws, and a teacher's choice of one.

Plain data, without numpy, so that listing the presets and the command line's defaults are quick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bpquiz.maths.ids import DEFAULT_ASKED, INTERMEDIATE_KINDS
from bpquiz.maths.rounding import Rounding

if TYPE_CHECKING:
    from bpquiz.maths.spec import Problem  # type-only: the spec module needs numpy


@dataclass(frozen=True)
class Settings:
    """What to draw: a preset with the teacher's overrides applied."""

    preset: str
    description: str
    layers: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str = "half_sse"
    bias: str = "per_neuron"
    batch: tuple[int, int] = (1, 1)
    """Smallest and largest number of examples."""
    learning_rate: float | None = None
    """None: drawn from LEARNING_RATES."""
    xor: bool = False
    rounding: Rounding = field(default_factory=Rounding)
    asked: tuple[str, ...] = DEFAULT_ASKED
    delta_sign: str = "gradient"
    """bpquiz.maths.spec.DELTA_SIGNS: δ = ∂L/∂z, or the error term −∂L/∂z."""
    batch_reduction: str = "mean"
    points: tuple[tuple[str, float], ...] = ()
    """Points per kind of quantity, where not 1 (e.g. (("delta", 2),))."""
    problem: Problem | None = field(default=None, compare=False)
    """A typed-in problem set as every variant, instead of drawn ones."""

    @property
    def intermediates(self) -> bool:
        """Whether δ is asked in steps: ∂L/∂a, f′(z), then δ."""
        return any(kind in self.asked for kind in INTERMEDIATE_KINDS)

    def points_of(self, kind: str) -> float:
        return dict(self.points).get(kind, 1.0)


PRESETS: dict[str, Settings] = {
    s.preset: s
    for s in [
        Settings(
            "classic",
            "2-3-2 sigmoid net, half squared error (the default)",
            (2, 3, 2),
            ("sigmoid", "sigmoid"),
        ),
        Settings(
            "chain", "1-1-1 chain: one neuron per layer, sigmoid", (1, 1, 1), ("sigmoid", "sigmoid")
        ),
        Settings(
            "xor",
            "2-2-1 sigmoid net on one binary XOR example",
            (2, 2, 1),
            ("sigmoid", "sigmoid"),
            xor=True,
        ),
        Settings(
            "single-output",
            "2-3-1: three hidden neurons, one sigmoid output",
            (2, 3, 1),
            ("sigmoid", "sigmoid"),
        ),
        Settings(
            "batch",
            "2-2-1 sigmoid net on a mini-batch of 2–4 examples (mean gradient)",
            (2, 2, 1),
            ("sigmoid", "sigmoid"),
            batch=(2, 4),
        ),
        Settings(
            "softmax",
            "2-3-3 ReLU hidden layer, softmax output, cross-entropy",
            (2, 3, 3),
            ("relu", "softmax"),
            loss="cross_entropy",
        ),
        Settings(
            "deep",
            "2-2-2-1: two sigmoid hidden layers",
            (2, 2, 2, 1),
            ("sigmoid", "sigmoid", "sigmoid"),
        ),
        Settings(
            "mitchell",
            "3-2-1 sigmoid net with error terms δ = (t − y)·y(1 − y), as in Mitchell and Han & Kamber",
            (3, 2, 1),
            ("sigmoid", "sigmoid"),
            delta_sign="error",
        ),
    ]
}
DEFAULT_PRESET = "classic"
