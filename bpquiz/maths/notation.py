"""How quantities are named on paper: notations as small files (layered, textbook, or a course's own)."""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

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
    """'∂L/∂' for a gradient, 'f′(' for an activation's derivative."""
    suffix: str = ""

    def text(self) -> str:
        out = self.prefix + self.base + self.sup.translate(_SUP) + self.sub.translate(_SUB)
        return out + self.suffix + (f"[{self.example}]" if self.example else "")

    def stem(self) -> Symbol:
        """The symbol without its neuron indices: W⁽¹⁾, w, b⁽²⁾, h."""
        return Symbol(self.base, self.sup)


ROLES = ("input", "target", "net_input", "activation", "delta", "weight", "bias")
"""What a notation file names, each for every layer or per layer (bpquiz/maths/notations/)."""
PER_LAYER = ("net_input", "activation", "delta", "weight", "bias")
KIND_ROLES = {"x": "input", "t": "target", "z": "net_input", "a": "activation", "delta": "delta"}
KIND_ROLES |= {"b": "bias"}
WEIGHT_INDICES = ("from_to", "to_from")
PLACEHOLDERS = ("layer", "neuron", "i", "j")
"""What a symbol's text may hold in braces: {layer}, {neuron}, {i}, {j}, nothing more."""
NOTATION_FOLDER = Path(__file__).parent / "notations"
MAX_NOTATION_BYTES = 64 << 10


@dataclass(frozen=True)
class Notation:
    """How a course names the quantities: a notation file's symbols for a network of this depth.

    A symbol is a base with a superscript and a subscript, in which {layer}, {neuron}, {i} and {j}
    stand for the layer, the neuron, and a weight's two neurons (from, to: `weight_indices` may
    swap them, for courses whose wᵢⱼ goes from j to i). A role is named for every layer, or per
    layer: by number ("1"), or as "hidden" or "output". Gradients, updated values, ∂L/∂a and f′(z)
    are written from these (∂L/∂W, W′, f′(z)).
    """

    name: str
    description: str
    symbols: Mapping[str, Any]
    depth: int
    batch: bool = False
    weight_indices: str = "from_to"

    def _ex(self, example: int | None) -> int | None:
        return example if self.batch else None

    def _made(self, role: str, layer: int, **numbers: int | None) -> Symbol:
        spec = self.symbols[role]
        if role in PER_LAYER and "base" not in spec:
            spec = _for_layer(spec, layer, self.depth)
        values = {k: "" if v is None else str(v) for k, v in numbers.items()}
        values["layer"] = str(layer)

        def fill(key: str) -> str:
            return str(spec.get(key, "")).format(**values)

        return Symbol(fill("base"), fill("sup"), fill("sub"))

    def neuron(self, kind: str, layer: int, neuron: int | None, example: int | None) -> Symbol:
        """z, a, delta, x, t, b; the activation of layer 0 is the input x."""
        role = "input" if kind == "a" and layer == 0 else KIND_ROLES[kind]
        symbol = self._made(role, layer, neuron=neuron, i=None, j=None)
        example = None if kind == "b" else self._ex(example)
        return Symbol(symbol.base, symbol.sup, symbol.sub, example)

    def weight(self, layer: int, i: int, j: int) -> Symbol:
        if self.weight_indices == "to_from":
            i, j = j, i
        return self._made("weight", layer, neuron=None, i=i, j=j)

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
            return self._made("learning_rate", 0)
        if kind == "loss":
            loss = self._made("loss", 0)
            return Symbol(loss.base, loss.sup, loss.sub, self._ex(example))
        if layer is None:
            raise ValueError(f"a {kind} symbol needs its layer")
        if kind in ("w", "grad_w", "w_new"):
            if source is None or target is None:
                raise ValueError(f"a {kind} symbol needs the neurons it connects")
            weight = self.weight(layer, source, target)
            made = {"w": weight, "grad_w": self._gradient(weight), "w_new": _primed(weight)}
            return made[kind]
        match kind:
            case "grad_b":
                return self._gradient(self.neuron("b", layer, neuron, None))
            case "b_new":
                return _primed(self.neuron("b", layer, neuron, None))
            case "grad_a":
                return self._gradient(self.neuron("a", layer, neuron, example))
            case "dact":
                return _prefixed(self.neuron("z", layer, neuron, example), "f′(", ")")
        return self.neuron(kind, layer, neuron, example)

    def _gradient(self, symbol: Symbol) -> Symbol:
        loss = self._made("loss", 0).text()
        return _prefixed(symbol, f"∂{loss}/∂")


def _for_layer(choices: Mapping[str, Any], layer: int, depth: int) -> Mapping[str, Any]:
    for key in (str(layer), "output" if layer == depth else "hidden", "default"):
        if key in choices:
            return choices[key]
    raise KeyError(layer)


def notation_names() -> list[str]:
    """The notations shipped with bpquiz."""
    return sorted(path.stem for path in NOTATION_FOLDER.glob("*.json"))


@cache
def load_notation(name: str) -> dict[str, Any]:
    """A notation file's contents: a shipped notation by name, or a course's file by path (raises
    OptionError naming the file and what is wrong)."""
    path = Path(name) if name.endswith(".json") else NOTATION_FOLDER / f"{name}.json"
    if not name.endswith(".json") and name not in notation_names():
        raise OptionError(
            f"unknown notation '{name}': expected one of {', '.join(notation_names())}, "
            "or a notation file NAME.json"
        )
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_NOTATION_BYTES + 1)
        if len(data) > MAX_NOTATION_BYTES:
            raise OptionError(f"{path}: larger than 64 kB, not a notation file")
        document = json.loads(data.decode("utf-8"))
    except OSError as exc:
        raise OptionError(f"{path}: cannot read the notation file ({exc.strerror})") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise OptionError(f"{path}: not a JSON notation file ({exc})") from None
    _check(document, str(path))
    return document


def _check(document: Any, source: str) -> None:
    def bad(field: str, expected: str) -> OptionError:
        return OptionError(f"{source}: field '{field}': expected {expected}")

    if not isinstance(document, dict):
        raise bad("(top)", "a JSON object with name, description and symbols")
    symbols = document.get("symbols")
    if not isinstance(symbols, dict):
        raise bad("symbols", "an object naming " + ", ".join(ROLES))
    for role in (*ROLES, "loss", "learning_rate"):
        spec = symbols.get(role)
        if role in ("loss", "learning_rate") and spec is None:
            continue
        options = spec.values() if isinstance(spec, dict) and "base" not in spec else [spec]
        if role not in PER_LAYER and spec is not None and "base" not in spec:
            raise bad(f"symbols.{role}", 'one symbol like {"base": "x", "sub": "{neuron}"}')
        for option in options:
            if not (isinstance(option, dict) and isinstance(option.get("base"), str)):
                raise bad(f"symbols.{role}", 'a symbol like {"base": "z", "sup": "({layer})"}')
            for key, value in option.items():
                if key not in ("base", "sup", "sub") or not isinstance(value, str):
                    raise bad(f"symbols.{role}.{key}", 'only "base", "sup" and "sub", as text')
                if not _plain_placeholders(value):
                    raise bad(f"symbols.{role}.{key}", "text with {layer}, {neuron}, {i}, {j} only")
    if document.get("weight_indices", "from_to") not in WEIGHT_INDICES:
        raise bad("weight_indices", " or ".join(WEIGHT_INDICES))
    hidden = document.get("hidden_layers")
    if hidden is not None and not (
        isinstance(hidden, list) and all(isinstance(h, int) and h >= 1 for h in hidden)
    ):
        raise bad("hidden_layers", "a list of hidden-layer counts it fits, e.g. [1]")


def _plain_placeholders(text: str) -> bool:
    """Whether every {…} in `text` is one of PLACEHOLDERS, as it is: str.format would also read
    {0}, {neuron.__class__}, {i[0]}, {j!r} or {i:>9}, none of which a symbol needs."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:  # a brace never closed
        return False
    return all(
        name is None or (name in PLACEHOLDERS and not spec and conversion is None)
        for _, name, spec, conversion in fields
    )


def make_notation(name: str, depth: int, examples: int) -> Notation:
    """The notation called `name` (shipped with bpquiz) or in the file `name` (NAME.json), for a
    network of this depth; OptionError when it does not name every symbol such a network needs."""
    document = load_notation(name)
    label = document.get("name", Path(name).stem)
    hidden = document.get("hidden_layers")
    if hidden is not None and depth - 1 not in hidden:
        counts = " or ".join(_number_word(h) for h in hidden)
        plural = "s" if hidden != [1] else ""
        raise OptionError(
            f"the {label} notation needs exactly {counts} hidden layer{plural} (e.g. layers 2,3,2)"
        )
    notation = Notation(
        label,
        str(document.get("description", "")),
        {**{"loss": {"base": "L"}, "learning_rate": {"base": "η"}}, **document["symbols"]},
        depth,
        examples > 1,
        document.get("weight_indices", "from_to"),
    )
    for role in PER_LAYER:
        for layer in range(1, depth + 1):
            try:
                notation._made(role, layer, neuron=1, i=1, j=1)
            except KeyError:
                raise OptionError(
                    f"the {label} notation names no {role.replace('_', ' ')} symbol for layer "
                    f'{layer} of {depth}: give it one (per layer, or as "hidden"/"output")'
                ) from None
    return notation


def _number_word(n: int) -> str:
    return {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}.get(n, str(n))


def _prefixed(symbol: Symbol, prefix: str, suffix: str = "") -> Symbol:
    return Symbol(symbol.base, symbol.sup, symbol.sub, symbol.example, prefix, suffix)


def _primed(symbol: Symbol) -> Symbol:
    return Symbol(symbol.base + "′", symbol.sup, symbol.sub, symbol.example, symbol.prefix)
