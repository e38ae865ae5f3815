"""Small arithmetic expressions that compute a quantity *and* write it the way a teacher does.

One expression per quantity is the single home of its formula: evaluating it gives the worked
solution's value (from the key's values), the follow-through value (from a student's own earlier
answers) or the rounded-path value (from rounded intermediates); writing it with symbols gives the
general formula and writing it with numbers gives the substituted line.

An expression evaluates in floats (`eval`, fast: drawing exercises, marking) or exactly
(`exact`: rationals, with σ, tanh, exp and ln to a given number of significant digits), which is
what a printed digit is decided from (bpquiz.maths.exact).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

Env = Mapping[str, float]
ExactEnv = Mapping[str, Fraction]
Leaf = Callable[[str], str]
"""How to write a reference: its symbol, or its number."""
Tree = list[Any]
"""An expression as JSON: its node type (the class name) first, then its parts, e.g.
["Prod", ["Ref", "eta"], ["Ref", "grad_w2_1_1"]]; a Num is ["Num", numerator, denominator], a
Call ["Call", name, argument]. The practice page evaluates these (bpquiz.sheets.practice)."""

# Binding strength, used only to decide where brackets are needed when writing.
_SUM, _PRODUCT, _ATOM = 1, 2, 3


class Expr:
    prec: int = _ATOM

    def eval(self, env: Env) -> float:
        raise NotImplementedError

    def exact(self, env: ExactEnv, digits: int) -> Fraction:
        """The value from exact inputs: exact, but for σ, tanh, exp and ln, which are computed to
        `digits` significant digits (see `approximate`)."""
        raise NotImplementedError

    def approximate(self) -> bool:
        """Whether `exact` is only approximate: a function here is not rational."""
        return False

    def refs(self) -> Iterator[str]:
        raise NotImplementedError

    def write(self, leaf: Leaf) -> str:
        raise NotImplementedError

    def tree(self) -> Tree:
        """This expression as JSON (see `Tree`)."""
        raise NotImplementedError

    def binding(self) -> int:
        """How strongly this expression binds, to decide where brackets are needed."""
        return self.prec

    def _wrapped(self, leaf: Leaf, prec: int) -> str:
        text = self.write(leaf)
        return f"({text})" if self.binding() < prec else text


@dataclass(frozen=True)
class Ref(Expr):
    """Another quantity (or a given), by id."""

    id: str

    def eval(self, env: Env) -> float:
        return env[self.id]

    def exact(self, env: ExactEnv, digits: int) -> Fraction:
        return env[self.id]

    def refs(self) -> Iterator[str]:
        yield self.id

    def write(self, leaf: Leaf) -> str:
        return leaf(self.id)

    def tree(self) -> Tree:
        return ["Ref", self.id]


@dataclass(frozen=True)
class Num(Expr):
    """A constant, as written (½, 2/3) and as an exact rational."""

    rational: Fraction
    text: str

    @property
    def value(self) -> float:
        return float(self.rational)

    def eval(self, env: Env) -> float:
        return self.value

    def exact(self, env: ExactEnv, digits: int) -> Fraction:
        return self.rational

    def refs(self) -> Iterator[str]:
        yield from ()

    def write(self, leaf: Leaf) -> str:
        return self.text

    def tree(self) -> Tree:
        return ["Num", self.rational.numerator, self.rational.denominator]


@dataclass(frozen=True)
class Sum(Expr):
    terms: tuple[Expr, ...]

    prec = _SUM

    def binding(self) -> int:
        # A sum of one term (one output, one outgoing connection) needs no brackets of its own.
        return self.terms[0].binding() if len(self.terms) == 1 else _SUM

    def eval(self, env: Env) -> float:
        total = 0.0
        for term in self.terms:
            total += term.eval(env)
        return total

    def exact(self, env: ExactEnv, digits: int) -> Fraction:
        return sum((term.exact(env, digits) for term in self.terms), Fraction(0))

    def approximate(self) -> bool:
        return any(term.approximate() for term in self.terms)

    def refs(self) -> Iterator[str]:
        for term in self.terms:
            yield from term.refs()

    def write(self, leaf: Leaf) -> str:
        return " + ".join(term._wrapped(leaf, _SUM) for term in self.terms)

    def tree(self) -> Tree:
        return ["Sum", *(term.tree() for term in self.terms)]


@dataclass(frozen=True)
class Diff(Expr):
    left: Expr
    right: Expr
    prec = _SUM

    def eval(self, env: Env) -> float:
        return self.left.eval(env) - self.right.eval(env)

    def exact(self, env: ExactEnv, digits: int) -> Fraction:
        return self.left.exact(env, digits) - self.right.exact(env, digits)

    def approximate(self) -> bool:
        return self.left.approximate() or self.right.approximate()

    def refs(self) -> Iterator[str]:
        yield from self.left.refs()
        yield from self.right.refs()

    def write(self, leaf: Leaf) -> str:
        return f"{self.left._wrapped(leaf, _SUM)} − {self.right._wrapped(leaf, _PRODUCT)}"

    def tree(self) -> Tree:
        return ["Diff", self.left.tree(), self.right.tree()]


@dataclass(frozen=True)
class Prod(Expr):
    factors: tuple[Expr, ...]
    prec = _PRODUCT

    def eval(self, env: Env) -> float:
        product = 1.0
        for factor in self.factors:
            product *= factor.eval(env)
        return product

    def exact(self, env: ExactEnv, digits: int) -> Fraction:
        product = Fraction(1)
        for factor in self.factors:
            product *= factor.exact(env, digits)
        return product

    def approximate(self) -> bool:
        return any(factor.approximate() for factor in self.factors)

    def refs(self) -> Iterator[str]:
        for factor in self.factors:
            yield from factor.refs()

    def write(self, leaf: Leaf) -> str:
        return "·".join(factor._wrapped(leaf, _PRODUCT) for factor in self.factors)

    def tree(self) -> Tree:
        return ["Prod", *(factor.tree() for factor in self.factors)]


@dataclass(frozen=True)
class Quot(Expr):
    num: Expr
    den: Expr
    prec = _PRODUCT

    def eval(self, env: Env) -> float:
        return self.num.eval(env) / self.den.eval(env)

    def exact(self, env: ExactEnv, digits: int) -> Fraction:
        return self.num.exact(env, digits) / self.den.exact(env, digits)

    def approximate(self) -> bool:
        return self.num.approximate() or self.den.approximate()

    def refs(self) -> Iterator[str]:
        yield from self.num.refs()
        yield from self.den.refs()

    def write(self, leaf: Leaf) -> str:
        return f"{self.num._wrapped(leaf, _PRODUCT)}/{self.den._wrapped(leaf, _ATOM)}"

    def tree(self) -> Tree:
        return ["Quot", self.num.tree(), self.den.tree()]


@dataclass(frozen=True)
class Neg(Expr):
    arg: Expr
    prec = _PRODUCT

    def eval(self, env: Env) -> float:
        return -self.arg.eval(env)

    def exact(self, env: ExactEnv, digits: int) -> Fraction:
        return -self.arg.exact(env, digits)

    def approximate(self) -> bool:
        return self.arg.approximate()

    def refs(self) -> Iterator[str]:
        yield from self.arg.refs()

    def write(self, leaf: Leaf) -> str:
        inner = self.arg._wrapped(leaf, _ATOM)
        # −(0.1311) as −(−0.0087) is written: a number after the minus is bracketed, so the line
        # has the same shape whatever the number's sign.
        return f"−({inner})" if inner[:1].isdigit() else f"−{inner}"

    def tree(self) -> Tree:
        return ["Neg", self.arg.tree()]


@dataclass(frozen=True)
class Square(Expr):
    arg: Expr

    def eval(self, env: Env) -> float:
        value = self.arg.eval(env)
        return value * value

    def exact(self, env: ExactEnv, digits: int) -> Fraction:
        value = self.arg.exact(env, digits)
        return value * value

    def approximate(self) -> bool:
        return self.arg.approximate()

    def refs(self) -> Iterator[str]:
        yield from self.arg.refs()

    def write(self, leaf: Leaf) -> str:
        return f"{self.arg._wrapped(leaf, _ATOM + 1)}²"

    def tree(self) -> Tree:
        return ["Square", self.arg.tree()]


@dataclass(frozen=True)
class Function:
    """A function of one number, as written (σ, tanh, exp, ln, relu′), in floats and exactly."""

    name: str
    fn: Callable[[float], float]
    precise: Callable[[Fraction, int], Fraction]
    """The value of a rational, exact or to the given number of significant digits."""
    rational: bool = False
    """Whether `precise` is exact (piecewise linear functions)."""


@dataclass(frozen=True)
class Call(Expr):
    """A named function of one argument: σ(z), tanh(z), e^z, ln(a), relu′(z)."""

    function: Function
    arg: Expr

    @property
    def name(self) -> str:
        return self.function.name

    def eval(self, env: Env) -> float:
        return self.function.fn(self.arg.eval(env))

    def exact(self, env: ExactEnv, digits: int) -> Fraction:
        return self.function.precise(self.arg.exact(env, digits), digits)

    def approximate(self) -> bool:
        return not self.function.rational or self.arg.approximate()

    def refs(self) -> Iterator[str]:
        yield from self.arg.refs()

    def write(self, leaf: Leaf) -> str:
        inner = self.arg.write(leaf)
        if isinstance(self.arg, Ref) and inner.startswith("(") and inner.endswith(")"):
            inner = inner[1:-1]  # σ(−0.2), not σ((−0.2))
        return f"{self.name}({inner})"

    def tree(self) -> Tree:
        return ["Call", self.name, self.arg.tree()]


def sigmoid(z: float) -> float:
    # Written in two branches so a large |z| neither overflows nor loses digits.
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


ONE = Num(Fraction(1), "1")
HALF = Num(Fraction(1, 2), "½")
