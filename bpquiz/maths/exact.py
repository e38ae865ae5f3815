"""Exact decimal arithmetic for what is printed: numbers as a calculator holds them.

A worked line must give exactly what a student's calculator gives from its printed numbers,
rounded half away from zero. So the rounded path (bpquiz.maths.solution) is computed with exact
rationals from the printed decimals; only σ, tanh, exp and ln are not rational, and those are
computed with Python's decimal module to as many digits as it takes to decide the printed digit.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction

PRECISION = 50
"""Significant digits a transcendental function is first computed to."""
MARGIN = 15
"""Digits of that precision not trusted when deciding a printed digit: a value whose rounding
could change within 10^(MARGIN − PRECISION) of it is computed again with twice the digits."""
MAX_PRECISION = 800


def exact_of(value: float) -> Fraction:
    """The decimal a float stands for, as printed (its shortest repr): 0.1 is 1/10, not the
    binary fraction nearest to it."""
    return Fraction(Decimal(repr(float(value))))


def exponent(x: Fraction) -> int:
    """⌊log₁₀|x|⌋ of a non-zero rational, exactly."""
    n, d = abs(x.numerator), x.denominator
    e = len(str(n)) - len(str(d))
    # Now 10^(e-1) < n/d < 10^(e+1): settle which side of 10^e it falls.
    if e >= 0:
        return e if n >= d * 10**e else e - 1
    return e if n * 10**-e >= d else e - 1


def round_half_away(x: Fraction, place: int) -> Fraction:
    """`x` rounded to a multiple of 10^place, halves away from zero (as a calculator rounds)."""
    n, d = abs(x.numerator), x.denominator
    if place < 0:
        n *= 10**-place
    else:
        d *= 10**place
    whole, rest = divmod(n, d)
    if 2 * rest >= d:
        whole += 1
    whole = whole if x >= 0 else -whole
    return Fraction(whole, 10**-place) if place < 0 else Fraction(whole * 10**place)


def decimal_text(x: Fraction, places: int) -> str:
    """A multiple of 10^-places written with exactly `places` decimals (ASCII minus; no minus
    on zero)."""
    scaled = x * 10**places
    if scaled.denominator != 1:
        raise ValueError(f"{x} has more than {places} decimals")
    digits = str(abs(scaled.numerator)).rjust(places + 1, "0")
    text = digits[:-places] + "." + digits[-places:] if places else digits
    return ("-" if scaled.numerator < 0 else "") + text


def to_decimal(x: Fraction, digits: int) -> Decimal:
    """`x` to `digits` significant digits."""
    with localcontext() as context:
        context.prec = digits
        return Decimal(x.numerator) / Decimal(x.denominator)


def limited(x: Fraction, digits: int) -> Fraction:
    """An approximate value kept to `digits` significant digits, so that a chain of them does
    not grow without bound."""
    return Fraction(to_decimal(x, digits))
