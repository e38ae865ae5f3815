"""How quantities are named on paper: a general layered notation and a one-hidden-layer textbook one."""

from __future__ import annotations

from dataclasses import dataclass

from bpquiz.errors import OptionError

_SUB = str.maketrans("0123456789,+−()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉,₊₋₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")
_SUP = str.maketrans("0123456789+−()hy", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾ʰʸ")


@dataclass(frozen=True)
class Symbol:
    """A symbol as base, superscript and subscript, written with Unicode sub- and superscripts."""

    base: str
    sup: str = ""
    sub: str = ""
    example: int | None = None
    """Shown as [n] when the exercise has several training examples."""
    prefix: str = ""
    """'∂L/∂' for a gradient."""

    def text(self) -> str:
        out = self.prefix + self.base + self.sup.translate(_SUP) + self.sub.translate(_SUB)
        return out + (f"[{self.example}]" if self.example else "")

    def stem(self) -> Symbol:
        """The symbol without its neuron indices: W⁽¹⁾, w, b⁽²⁾, h."""
        return Symbol(self.base, self.sup)


def _pair(i: int, j: int) -> str:
    return f"{i}{j}" if i < 10 and j < 10 else f"{i},{j}"


class Notation:
    """The layered notation: z⁽ˡ⁾ⱼ, a⁽ˡ⁾ⱼ, W⁽ˡ⁾ᵢⱼ, b⁽ˡ⁾ⱼ, δ⁽ˡ⁾ⱼ, with x and t for inputs and targets."""

    name = "layered"
    description = "z⁽ˡ⁾ⱼ, a⁽ˡ⁾ⱼ, W⁽ˡ⁾ᵢⱼ, b⁽ˡ⁾ⱼ, δ⁽ˡ⁾ⱼ for any number of layers"

    def __init__(self, depth: int, examples: int) -> None:
        self.depth = depth
        self.batch = examples > 1

    def _ex(self, example: int | None) -> int | None:
        return example if self.batch else None

    def neuron(self, kind: str, layer: int, neuron: int | None, example: int | None) -> Symbol:
        """z, a, delta, x, t, b and their layer-0/output special cases."""
        ex = self._ex(example)
        sub = "" if neuron is None else str(neuron)
        if kind == "x" or (kind == "a" and layer == 0):
            return Symbol("x", sub=sub, example=ex)
        if kind == "t":
            return Symbol("t", sub=sub, example=ex)
        base = {"delta": "δ", "b": "b"}.get(kind, kind)
        return Symbol(base, f"({layer})", sub, ex)

    def weight(self, layer: int, i: int, j: int) -> Symbol:
        return Symbol("W", f"({layer})", _pair(i, j))

    def symbol(
        self,
        kind: str,
        layer: int | None = None,
        neuron: int | None = None,
        source: int | None = None,
        target: int | None = None,
        example: int | None = None,
    ) -> Symbol:
        if kind == "lr":
            return Symbol("η")
        if kind == "loss":
            return Symbol("L", example=self._ex(example))
        if layer is None:
            raise ValueError(f"a {kind} symbol needs its layer")
        if kind in ("w", "grad_w", "w_new"):
            if source is None or target is None:
                raise ValueError(f"a {kind} symbol needs the neurons it connects")
            weight = self.weight(layer, source, target)
            return {"w": weight, "grad_w": _prefixed(weight, "∂L/∂"), "w_new": _primed(weight)}[
                kind
            ]
        match kind:
            case "grad_b":
                return _prefixed(self.neuron("b", layer, neuron, None), "∂L/∂")
            case "b_new":
                return _primed(self.neuron("b", layer, neuron, None))
        return self.neuron(kind, layer, neuron, example)


class TextbookNotation(Notation):
    """One hidden layer as in many course notes: x → h → y, weights w (input→hidden) and u
    (hidden→output), pre-activations a⁽¹⁾ⱼ and a⁽²⁾ₖ, deltas δʰⱼ and δʸₖ."""

    name = "textbook"
    description = "x → h → y with weights w and u, one hidden layer (like many course notes)"

    def neuron(self, kind: str, layer: int, neuron: int | None, example: int | None) -> Symbol:
        ex = self._ex(example)
        sub = "" if neuron is None else str(neuron)
        if kind in ("x", "t") or (kind == "a" and layer == 0):
            return Symbol("x" if kind != "t" else "t", sub=sub, example=ex)
        role = "h" if layer == 1 else "y"
        match kind:
            case "a":
                return Symbol(role, sub=sub, example=ex)
            case "z":
                return Symbol("a", f"({layer})", sub, ex)
            case "delta":
                return Symbol("δ", role, sub, ex)
        return Symbol("b", f"({layer})", sub, ex)

    def weight(self, layer: int, i: int, j: int) -> Symbol:
        return Symbol("w" if layer == 1 else "u", sub=_pair(i, j))


NOTATIONS: dict[str, type[Notation]] = {"layered": Notation, "textbook": TextbookNotation}


def make_notation(name: str, depth: int, examples: int) -> Notation:
    """The notation called `name`; the textbook one only fits one hidden layer."""
    if name not in NOTATIONS:
        raise OptionError(f"unknown notation '{name}': expected one of {', '.join(NOTATIONS)}")
    if name == "textbook" and depth != 2:
        raise OptionError(
            "the textbook notation needs exactly one hidden layer (e.g. layers 2,3,2)"
        )
    return NOTATIONS[name](depth, examples)


def _prefixed(symbol: Symbol, prefix: str) -> Symbol:
    return Symbol(symbol.base, symbol.sup, symbol.sub, symbol.example, prefix)


def _primed(symbol: Symbol) -> Symbol:
    return Symbol(symbol.base + "′", symbol.sup, symbol.sub, symbol.example, symbol.prefix)
