"""Small arithmetic expressions that compute a quantity *and* write it the way a teacher does.

One expression per quantity is the single home of its formula: evaluating it gives the worked
solution's value (from the key's values), the follow-through value (from a student's own earlier
answers) or the rounded-path value (from rounded intermediates); writing it with symbols gives the
general formula and writing it with numbers gives the substituted line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

Env = Mapping[str, float]
Leaf = Callable[[str], str]
"""How to write a reference: its symbol, or its number."""

# Binding strength, used only to decide where brackets are needed when writing.
_SUM, _PRODUCT, _ATOM = 1, 2, 3


class Expr:
    prec: int = _ATOM

    def eval(self, env: Env) -> float:
        raise NotImplementedError

    def refs(self) -> Iterator[str]:
        raise NotImplementedError

    def write(self, leaf: Leaf) -> str:
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

    def refs(self) -> Iterator[str]:
        yield self.id

    def write(self, leaf: Leaf) -> str:
        return leaf(self.id)


@dataclass(frozen=True)
class Num(Expr):
    value: float
    text: str

    def eval(self, env: Env) -> float:
        return self.value

    def refs(self) -> Iterator[str]:
        yield from ()

    def write(self, leaf: Leaf) -> str:
        return self.text


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

    def refs(self) -> Iterator[str]:
        for term in self.terms:
            yield from term.refs()

    def write(self, leaf: Leaf) -> str:
        return " + ".join(term._wrapped(leaf, _SUM) for term in self.terms)


@dataclass(frozen=True)
class Diff(Expr):
    left: Expr
    right: Expr
    prec = _SUM

    def eval(self, env: Env) -> float:
        return self.left.eval(env) - self.right.eval(env)

    def refs(self) -> Iterator[str]:
        yield from self.left.refs()
        yield from self.right.refs()

    def write(self, leaf: Leaf) -> str:
        return f"{self.left._wrapped(leaf, _SUM)} − {self.right._wrapped(leaf, _PRODUCT)}"


@dataclass(frozen=True)
class Prod(Expr):
    factors: tuple[Expr, ...]
    prec = _PRODUCT

    def eval(self, env: Env) -> float:
        product = 1.0
        for factor in self.factors:
            product *= factor.eval(env)
        return product

    def refs(self) -> Iterator[str]:
        for factor in self.factors:
            yield from factor.refs()

    def write(self, leaf: Leaf) -> str:
        return "·".join(factor._wrapped(leaf, _PRODUCT) for factor in self.factors)


@dataclass(frozen=True)
class Quot(Expr):
    num: Expr
    den: Expr
    prec = _PRODUCT

    def eval(self, env: Env) -> float:
        return self.num.eval(env) / self.den.eval(env)

    def refs(self) -> Iterator[str]:
        yield from self.num.refs()
        yield from self.den.refs()

    def write(self, leaf: Leaf) -> str:
        return f"{self.num._wrapped(leaf, _PRODUCT)}/{self.den._wrapped(leaf, _ATOM)}"


@dataclass(frozen=True)
class Neg(Expr):
    arg: Expr
    prec = _PRODUCT

    def eval(self, env: Env) -> float:
        return -self.arg.eval(env)

    def refs(self) -> Iterator[str]:
        yield from self.arg.refs()

    def write(self, leaf: Leaf) -> str:
        return f"−{self.arg._wrapped(leaf, _ATOM)}"


@dataclass(frozen=True)
class Square(Expr):
    arg: Expr

    def eval(self, env: Env) -> float:
        value = self.arg.eval(env)
        return value * value

    def refs(self) -> Iterator[str]:
        yield from self.arg.refs()

    def write(self, leaf: Leaf) -> str:
        return f"{self.arg._wrapped(leaf, _ATOM + 1)}²"


@dataclass(frozen=True)
class Call(Expr):
    """A named function of one argument: σ(z), tanh(z), e^z, ln(a), relu′(z)."""

    name: str
    fn: Callable[[float], float]
    arg: Expr

    def eval(self, env: Env) -> float:
        return self.fn(self.arg.eval(env))

    def refs(self) -> Iterator[str]:
        yield from self.arg.refs()

    def write(self, leaf: Leaf) -> str:
        inner = self.arg.write(leaf)
        if isinstance(self.arg, Ref) and inner.startswith("(") and inner.endswith(")"):
            inner = inner[1:-1]  # σ(−0.2), not σ((−0.2))
        return f"{self.name}({inner})"


def sigmoid(z: float) -> float:
    # Written in two branches so a large |z| neither overflows nor loses digits.
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


ONE = Num(1.0, "1")
HALF = Num(0.5, "½")
