"""Activations and losses, each written once as expressions (value and derivative).

`ACTIVATIONS` is the one table of what an activation is: its function, its derivative as taught,
how a sheet states both, and what the exercise generator must avoid with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bpquiz.maths.expr import (
    HALF,
    ONE,
    Call,
    Diff,
    Expr,
    Neg,
    Num,
    Prod,
    Quot,
    Square,
    Sum,
    sigmoid,
)

LEAKY_SLOPE = 0.01


def _exp(x: float) -> float:
    return math.exp(x) if x < 709.0 else math.inf


def _ln(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf


def _relu(z: float) -> float:
    return z if z > 0 else 0.0


def _leaky_relu(z: float) -> float:
    return z if z > 0 else LEAKY_SLOPE * z


# A ReLU's derivative at exactly 0 is taken as 0 (the usual convention); generated exercises avoid z = 0.
def _relu_slope(z: float) -> float:
    return 1.0 if z > 0 else 0.0


def _leaky_slope(z: float) -> float:
    return 1.0 if z > 0 else LEAKY_SLOPE


def number_text(value: float) -> str:
    """A constant as a teacher writes it: 2, 0.5, 0.01 (shortest exact form, typographic minus)."""
    text = repr(float(value))
    if text.endswith(".0"):
        text = text[:-2]
    return text.replace("-", "−")


Slope = Callable[[Expr, Expr], Expr | None]
"""f′(z) as an expression of z and of the activation a; None for a slope of 1."""


def _sigmoid_slope(z: Expr, a: Expr) -> Expr:
    return Prod((a, Diff(ONE, a)))


def _tanh_slope(z: Expr, a: Expr) -> Expr:
    return Diff(ONE, Square(a))


def _relu_slope_of(z: Expr, a: Expr) -> Expr:
    return Call("relu′", _relu_slope, z)


def _leaky_slope_of(z: Expr, a: Expr) -> Expr:
    return Call("lrelu′", _leaky_slope, z)


def _one(z: Expr, a: Expr) -> None:
    return None


@dataclass(frozen=True)
class Activation:
    name: str
    written: str
    """The function's name in a formula (σ(z)); empty where a = z (linear) or it is layer-wide."""
    fn: Callable[[float], float] | None
    slope: Slope
    """f′(z), written in terms of the activation a where that is how it is taught."""
    definition: str
    """How the sheet states the function, of a neutral x (each notation names z and a its way);
    empty where the sheet states nothing (linear, softmax)."""
    derivative_text: str
    output_form: bool = False
    """The derivative is taught in terms of the output (σ′ = a(1 − a)): putting z in its place
    is a catalogued mistake."""
    saturates: float | None = None
    """Beyond this |z| the derivative is so flat that an exercise teaches little."""
    kinked: bool = False
    """Piecewise linear with a kink at 0: the generator avoids z = 0 and neurons dead throughout."""
    layerwise: bool = False
    """Computed from the whole layer's z (softmax)."""
    targets: tuple[int, int, int] = (-10, 15, 10)
    """Targets the generator draws for an output layer of this kind: k/scale, k in [low, high]."""

    def apply(self, z: Expr) -> Expr:
        return Call(self.written, self.fn, z) if self.fn else z


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation(
            "sigmoid",
            "σ",
            sigmoid,
            _sigmoid_slope,
            "σ(x) = 1/(1 + e^(−x))",
            "σ′(x) = σ(x)·(1 − σ(x))",
            output_form=True,
            saturates=3.0,
            targets=(1, 99, 100),
        ),
        Activation(
            "tanh",
            "tanh",
            math.tanh,
            _tanh_slope,
            "tanh(x)",
            "tanh′(x) = 1 − tanh²(x)",
            output_form=True,
            saturates=2.0,
            targets=(-9, 9, 10),
        ),
        Activation(
            "relu",
            "relu",
            _relu,
            _relu_slope_of,
            "relu(x) = max(0, x)",
            "relu′(x) = 1 if x > 0, else 0",
            kinked=True,
        ),
        Activation(
            "leaky_relu",
            "lrelu",
            _leaky_relu,
            _leaky_slope_of,
            f"lrelu(x) = x if x > 0, else {LEAKY_SLOPE}·x",
            f"lrelu′(x) = 1 if x > 0, else {LEAKY_SLOPE}",
            kinked=True,
        ),
        Activation("linear", "", None, _one, "", "derivative 1"),
        Activation(
            "softmax",
            "",
            None,
            _one,
            "",
            "with cross-entropy the output δ is output − target",
            layerwise=True,
        ),
    ]
}

LOSSES: dict[str, str] = {
    "half_sse": "L = ½·Σₖ (aₖ − tₖ)²",
    "mse": "L = (1/K)·Σₖ (aₖ − tₖ)²",
    "bce": "L = −(1/K)·Σₖ [tₖ·ln(aₖ) + (1 − tₖ)·ln(1 − aₖ)]",
    "cross_entropy": "L = −Σₖ tₖ·ln(aₖ)",
}


def softmax(z: Sequence[Expr], j: int) -> Expr:
    return Quot(Call("exp", _exp, z[j]), Sum(tuple(Call("exp", _exp, zk) for zk in z)))


def _mean_over(terms: Sequence[Expr], k: int) -> Expr:
    total = Sum(tuple(terms))
    return total if k == 1 else Quot(total, Num(float(k), str(k)))


def loss(name: str, a: Sequence[Expr], t: Sequence[Expr], half: bool = True) -> Expr:
    """One example's loss over its K outputs (half=False: the ½ of half_sse forgotten)."""
    k = len(a)
    match name:
        case "half_sse":
            total = Sum(tuple(Square(Diff(ak, tk)) for ak, tk in zip(a, t, strict=True)))
            return Prod((HALF, total)) if half else total
        case "mse":
            return _mean_over([Square(Diff(ak, tk)) for ak, tk in zip(a, t, strict=True)], k)
        case "bce":
            terms = [
                Sum(
                    (
                        Prod((tk, Call("ln", _ln, ak))),
                        Prod((Diff(ONE, tk), Call("ln", _ln, Diff(ONE, ak)))),
                    )
                )
                for ak, tk in zip(a, t, strict=True)
            ]
            return Neg(_mean_over(terms, k))
        case "cross_entropy":
            return Neg(
                Sum(tuple(Prod((tk, Call("ln", _ln, ak))) for ak, tk in zip(a, t, strict=True)))
            )
    raise ValueError(name)


def loss_slope(name: str, activation: str, a: Expr, t: Expr, k: int) -> tuple[Expr, bool]:
    """∂L/∂a for one output, and whether it already includes the activation's derivative.

    Sigmoid with binary cross-entropy and softmax with cross-entropy are taught in their simplified
    form (a − t), where the activation's derivative has cancelled.
    """
    error = Diff(a, t)
    match name:
        case "half_sse":
            return error, False
        case "mse":
            return Prod((Num(2.0 / k, "2" if k == 1 else f"2/{k}"), error)), False
        case "bce" if activation == "sigmoid":
            return (error if k == 1 else Quot(error, Num(float(k), str(k)))), True
        case "cross_entropy" if activation == "softmax":
            return error, True
    raise ValueError(f"{name} with {activation}")
