"""The kinds of exercise `bpquiz generate` draws, and a teacher's choice of one (with its points).

Plain data, without numpy, so that listing the presets and the command line's defaults are quick.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bpquiz.errors import OptionError
from bpquiz.maths.ids import DEFAULT_ASKED, INTERMEDIATE_KINDS, KINDS
from bpquiz.maths.rounding import Rounding

if TYPE_CHECKING:
    from bpquiz.maths.spec import Problem  # type-only: the spec module needs numpy


MAX_POINTS = 100
POINTS_DECIMALS = 2
"""Points are whole hundredths: an LMS export scales each box's points by at most 100 to make
them whole (a Moodle Cloze gap takes whole marks: bpquiz.lms.moodle), and a sheet prints them."""


def checked_points(points: Mapping[str, float]) -> dict[str, float]:
    """Points per kind of quantity (`--points`), checked: kinds a sheet can ask, each from 0 to
    MAX_POINTS in whole hundredths (OptionError otherwise)."""
    checked = {}
    for kind, value in points.items():
        if kind not in KINDS:
            raise OptionError(f"--points: unknown kind '{kind}' (the kinds: {', '.join(KINDS)})")
        if not (isinstance(value, int | float) and 0 <= value <= MAX_POINTS):  # not NaN either
            raise OptionError(f"--points: {kind} needs a number of points from 0 to {MAX_POINTS}")
        if round(value, POINTS_DECIMALS) != value:  # exact: 0.07 is the float nearest 0.07
            raise OptionError(
                f"--points: {kind}={value:g} is finer than 0.01: give points in whole hundredths "
                "(an LMS export can't carry finer marks)"
            )
        checked[kind] = float(value)
    return checked


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
