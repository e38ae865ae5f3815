"""Activations and losses, each written once as expressions (value and derivative).

`ACTIVATIONS` is the one table of what an activation is: its function, its derivative as taught,
how a sheet states both, and what the exercise generator must avoid with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

from bpquiz.maths.expr import (
    HALF,
    ONE,
    Call,
    Diff,
    Expr,
    Function,
    Neg,
    Num,
    Prod,
    Quot,
    Square,
    Sum,
    sigmoid,
)

LEAKY_SLOPE = Fraction(1, 100)


def _in_decimal(function: Callable[[Decimal], Decimal], x: Fraction, digits: int) -> Fraction:
    """`function` of a rational, computed to `digits` significant digits."""
    with localcontext() as context:
        context.prec = digits
        return Fraction(function(Decimal(x.numerator) / Decimal(x.denominator)))


def _sigmoid_decimal(x: Decimal) -> Decimal:
    # exp of minus |x| only: it neither overflows nor loses digits.
    if x >= 0:
        return 1 / (1 + (-x).exp())
    e = x.exp()
    return e / (1 + e)


def _tanh_decimal(x: Decimal) -> Decimal:
    e = (-2 * abs(x)).exp()
    value = (1 - e) / (1 + e)
    return value if x >= 0 else -value


# Module-level functions, not closures: expressions travel to worker processes (pickled).
def _sigmoid_precise(x: Fraction, digits: int) -> Fraction:
    return _in_decimal(_sigmoid_decimal, x, digits)


def _tanh_precise(x: Fraction, digits: int) -> Fraction:
    return _in_decimal(_tanh_decimal, x, digits)


def _exp_precise(x: Fraction, digits: int) -> Fraction:
    return _in_decimal(Decimal.exp, x, digits)


def _ln_precise(x: Fraction, digits: int) -> Fraction:
    return _in_decimal(Decimal.ln, x, digits)


def _exp(x: float) -> float:
    return math.exp(x) if x < 709.0 else math.inf


def _ln(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf


def _relu(z: float) -> float:
    return z if z > 0 else 0.0


def _leaky_relu(z: float) -> float:
    return z if z > 0 else float(LEAKY_SLOPE) * z


# A ReLU's derivative at exactly 0 is taken as 0 (the usual convention); generated exercises avoid z = 0.
def _relu_slope(z: float) -> float:
    return 1.0 if z > 0 else 0.0


def _leaky_slope(z: float) -> float:
    return 1.0 if z > 0 else float(LEAKY_SLOPE)


def _relu_exact(z: Fraction, digits: int) -> Fraction:
    return z if z > 0 else Fraction(0)


def _leaky_relu_exact(z: Fraction, digits: int) -> Fraction:
    return z if z > 0 else LEAKY_SLOPE * z


def _relu_slope_exact(z: Fraction, digits: int) -> Fraction:
    return Fraction(1) if z > 0 else Fraction(0)


def _leaky_slope_exact(z: Fraction, digits: int) -> Fraction:
    return Fraction(1) if z > 0 else LEAKY_SLOPE


SIGMOID = Function("σ", sigmoid, _sigmoid_precise)
TANH = Function("tanh", math.tanh, _tanh_precise)
EXP = Function("exp", _exp, _exp_precise)
LN = Function("ln", _ln, _ln_precise)
RELU = Function("relu", _relu, _relu_exact, rational=True)
LEAKY_RELU = Function("lrelu", _leaky_relu, _leaky_relu_exact, rational=True)
RELU_SLOPE = Function("relu′", _relu_slope, _relu_slope_exact, rational=True)
LEAKY_SLOPE_FN = Function("lrelu′", _leaky_slope, _leaky_slope_exact, rational=True)


def number_text(value: float) -> str:
    """A constant as a teacher writes it: 2, 0.5, 0.01 (shortest exact form, typographic minus)."""
    text = repr(float(value))
    if text.endswith(".0"):
        text = text[:-2]
    return text.replace("-", "−")


def constant(value: Fraction) -> Num:
    """A whole number or fraction in a formula: 2, 2/3."""
    return Num(value, str(value.numerator) if value.denominator == 1 else str(value))


Slope = Callable[[Expr, Expr], Expr | None]
"""f′(z) as an expression of z and of the activation a; None for a slope of 1."""


def _sigmoid_slope(z: Expr, a: Expr) -> Expr:
    return Prod((a, Diff(ONE, a)))


def _tanh_slope(z: Expr, a: Expr) -> Expr:
    return Diff(ONE, Square(a))


def _relu_slope_of(z: Expr, a: Expr) -> Expr:
    return Call(RELU_SLOPE, z)


def _leaky_slope_of(z: Expr, a: Expr) -> Expr:
    return Call(LEAKY_SLOPE_FN, z)


def _one(z: Expr, a: Expr) -> None:
    return None


@dataclass(frozen=True)
class Activation:
    name: str
    function: Function | None
    """The function, as a formula writes it (σ(z)); None where a = z (linear) or it is
    layer-wide (softmax)."""
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
        return Call(self.function, z) if self.function else z


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation(
            "sigmoid",
            SIGMOID,
            _sigmoid_slope,
            "σ(x) = 1/(1 + e^(−x))",
            "σ′(x) = σ(x)·(1 − σ(x))",
            output_form=True,
            saturates=3.0,
            targets=(1, 99, 100),
        ),
        Activation(
            "tanh",
            TANH,
            _tanh_slope,
            "tanh(x)",
            "tanh′(x) = 1 − tanh²(x)",
            output_form=True,
            saturates=2.0,
            targets=(-9, 9, 10),
        ),
        Activation(
            "relu",
            RELU,
            _relu_slope_of,
            "relu(x) = max(0, x)",
            "relu′(x) = 1 if x > 0, else 0",
            kinked=True,
        ),
        Activation(
            "leaky_relu",
            LEAKY_RELU,
            _leaky_slope_of,
            f"lrelu(x) = x if x > 0, else {float(LEAKY_SLOPE)}·x",
            f"lrelu′(x) = 1 if x > 0, else {float(LEAKY_SLOPE)}",
            kinked=True,
        ),
        Activation("linear", None, _one, "", "derivative 1"),
        Activation(
            "softmax",
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
    "sse": "L = Σₖ (aₖ − tₖ)²",
    "mse": "L = (1/K)·Σₖ (aₖ − tₖ)²",
    "bce": "L = −(1/K)·Σₖ [tₖ·ln(aₖ) + (1 − tₖ)·ln(1 − aₖ)]",
    "cross_entropy": "L = −Σₖ tₖ·ln(aₖ)",
}


def softmax(z: Sequence[Expr], j: int) -> Expr:
    return Quot(Call(EXP, z[j]), Sum(tuple(Call(EXP, zk) for zk in z)))


def _mean_over(terms: Sequence[Expr], k: int) -> Expr:
    total = Sum(tuple(terms))
    return total if k == 1 else Quot(total, constant(Fraction(k)))


def loss(name: str, a: Sequence[Expr], t: Sequence[Expr], half: bool = True) -> Expr:
    """One example's loss over its K outputs (half=False: the ½ of half_sse forgotten)."""
    k = len(a)
    match name:
        case "half_sse" | "sse":
            total = Sum(tuple(Square(Diff(ak, tk)) for ak, tk in zip(a, t, strict=True)))
            return Prod((HALF, total)) if half and name == "half_sse" else total
        case "mse":
            return _mean_over([Square(Diff(ak, tk)) for ak, tk in zip(a, t, strict=True)], k)
        case "bce":
            terms = [
                Sum(
                    (
                        Prod((tk, Call(LN, ak))),
                        Prod((Diff(ONE, tk), Call(LN, Diff(ONE, ak)))),
                    )
                )
                for ak, tk in zip(a, t, strict=True)
            ]
            return Neg(_mean_over(terms, k))
        case "cross_entropy":
            return Neg(Sum(tuple(Prod((tk, Call(LN, ak))) for ak, tk in zip(a, t, strict=True))))
    raise ValueError(name)


def loss_slope(name: str, activation: str, a: Expr, t: Expr, k: int) -> tuple[Expr, bool]:
    """∂L/∂a for one output, and whether it already includes the activation's derivative (with
    the arguments swapped, minus that: the error-term convention's (t − a)).

    Sigmoid with binary cross-entropy and softmax with cross-entropy are taught in their simplified
    form (a − t), where the activation's derivative has cancelled.
    """
    error = Diff(a, t)
    match name:
        case "half_sse":
            return error, False
        case "sse":
            return Prod((constant(Fraction(2)), error)), False
        case "mse":
            return Prod((constant(Fraction(2, k)), error)), False
        case "bce" if activation == "sigmoid":
            return (error if k == 1 else Quot(error, constant(Fraction(k)))), True
        case "cross_entropy" if activation == "softmax":
            return error, True
    raise ValueError(f"{name} with {activation}")
