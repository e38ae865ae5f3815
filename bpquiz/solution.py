"""One step of gradient descent as a graph of named quantities.

Every quantity a student writes down (z, a, the loss, δ, the gradients, the updated weights) is a
node with an id, its indices and one expression over earlier nodes. Evaluating the graph from the
given numbers is the worked solution; evaluating one node from a student's own earlier answers is
follow-through marking; evaluating with every intermediate rounded is what a careful student gets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bpquiz import functions
from bpquiz.expr import Diff, Expr, Num, Prod, Quot, Ref, Sum
from bpquiz.notation import Notation, Symbol
from bpquiz.rounding import Rounding
from bpquiz.spec import Problem

KINDS = ("z", "a", "loss", "delta", "grad_w", "grad_b", "w_new", "b_new")
GIVEN_KINDS = ("x", "t", "w", "b", "lr")


@dataclass(frozen=True, eq=False)
class Quantity:
    id: str
    kind: str
    expr: Expr | None = None
    """None for a given number."""
    layer: int | None = None
    neuron: int | None = None
    source: int | None = None
    """For weights: i, the neuron in layer l − 1 (JSON 'from')."""
    target: int | None = None
    """For weights: j, the neuron in layer l (JSON 'to')."""
    example: int | None = None

    @property
    def given(self) -> bool:
        return self.expr is None

    def symbol(self, notation: Notation) -> Symbol:
        return notation.symbol(
            self.kind, self.layer, self.neuron, self.source, self.target, self.example
        )

    def inputs(self) -> list[str]:
        """The ids this quantity is computed from, each once, in order of appearance."""
        return list(dict.fromkeys(self.expr.refs())) if self.expr else []

    def indices(self) -> dict[str, int | None]:
        """The key's index fields for this kind of quantity."""
        if self.kind in ("grad_w", "w_new", "w"):
            return {"layer": self.layer, "from": self.source, "to": self.target}
        if self.kind == "loss":
            return {"example": self.example} if self.example else {}
        out: dict[str, int | None] = {"layer": self.layer, "neuron": self.neuron}
        if self.kind in ("z", "a", "delta", "x", "t"):
            out["example"] = self.example or 1
        return out


def neuron_id(kind: str, layer: int, neuron: int | None, example: int | None, batch: bool) -> str:
    """z1_2, a2_1, delta2_1 (and _e2 for example 2 of a batch); grad_b1 for a shared bias."""
    base = f"{kind}{layer}" if neuron is None else f"{kind}{layer}_{neuron}"
    return f"{base}_e{example}" if batch and example else base


def given_id(letter: str, i: int, example: int, batch: bool) -> str:
    """x_1, t_2 (and x_1_e2 for example 2 of a batch)."""
    return f"{letter}_{i}_e{example}" if batch else f"{letter}_{i}"


def weight_id(kind: str, layer: int, i: int, j: int) -> str:
    """w2_1_2, grad_w2_1_2, w_new2_1_2: layer l, from neuron i of layer l − 1, to neuron j."""
    return f"{kind}{layer}_{i}_{j}"


class Solution:
    """The graph for one problem, evaluated exactly."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.quantities: dict[str, Quantity] = {}
        self._build()
        self.values = self.evaluate()
        bad = [q.id for q in self.computed() if not math.isfinite(self.values[q.id])]
        if bad:
            raise ValueError(
                f"the numbers overflow ({bad[0]} is not finite): use smaller weights or inputs"
            )

    # --- building --------------------------------------------------------------------------

    def _add(self, q: Quantity) -> Ref:
        self.quantities[q.id] = q
        return Ref(q.id)

    def _build(self) -> None:
        p = self.problem
        batch = p.examples > 1
        depth = p.depth
        n = p.layers
        examples = range(1, p.examples + 1)

        def nid(kind: str, layer: int, j: int | None, e: int | None = None) -> str:
            return neuron_id(kind, layer, j, e, batch)

        # Givens.
        rate = self._add(Quantity("eta", "lr"))
        x = {
            (e, i): self._add(Quantity(given_id("x", i, e, batch), "x", None, 0, i, example=e))
            for e in examples
            for i in range(1, n[0] + 1)
        }
        t = {
            (e, k): self._add(Quantity(given_id("t", k, e, batch), "t", None, depth, k, example=e))
            for e in examples
            for k in range(1, n[depth] + 1)
        }
        w = {
            (l, i, j): self._add(Quantity(weight_id("w", l, i, j), "w", None, l, None, i, j))
            for l in range(1, depth + 1)
            for i in range(1, n[l - 1] + 1)
            for j in range(1, n[l] + 1)
        }
        b: dict[tuple[int, int], Ref] = {}
        for l in range(1, depth + 1):
            if p.bias == "shared":
                shared = self._add(Quantity(f"b{l}", "b", None, l))
                b.update({(l, j): shared for j in range(1, n[l] + 1)})
            elif p.bias == "per_neuron":
                for j in range(1, n[l] + 1):
                    b[l, j] = self._add(Quantity(f"b{l}_{j}", "b", None, l, j))

        # Forward pass, one example at a time, layer by layer.
        a: dict[tuple[int, int, int], Ref] = {}
        z: dict[tuple[int, int, int], Ref] = {}
        for e in examples:
            a.update({(e, 0, i): x[e, i] for i in range(1, n[0] + 1)})
            for l in range(1, depth + 1):
                act = functions.ACTIVATIONS[p.activations[l - 1]]
                for j in range(1, n[l] + 1):
                    terms: list[Expr] = [
                        Prod((a[e, l - 1, i], w[l, i, j])) for i in range(1, n[l - 1] + 1)
                    ]
                    if (l, j) in b:
                        terms.append(b[l, j])
                    z[e, l, j] = self._add(
                        Quantity(nid("z", l, j, e), "z", Sum(tuple(terms)), l, j, example=e)
                    )
                layer_z = [z[e, l, j] for j in range(1, n[l] + 1)]
                for j in range(1, n[l] + 1):
                    expr = (
                        functions.softmax(layer_z, j - 1)
                        if act.name == "softmax"
                        else act.apply(z[e, l, j])
                    )
                    a[e, l, j] = self._add(Quantity(nid("a", l, j, e), "a", expr, l, j, example=e))

        # Loss: per example, then the batch mean.
        outputs = range(1, n[depth] + 1)
        losses = []
        for e in examples:
            expr = functions.loss(
                p.loss, [a[e, depth, k] for k in outputs], [t[e, k] for k in outputs]
            )
            loss_id = f"loss_e{e}" if batch else "loss"
            losses.append(self._add(Quantity(loss_id, "loss", expr, example=e if batch else None)))
        if batch:
            self._add(Quantity("loss", "loss", _mean(losses)))

        # Backward pass, with the weights before the update.
        delta: dict[tuple[int, int, int], Ref] = {}
        for e in examples:
            for l in range(depth, 0, -1):
                act = functions.ACTIVATIONS[p.activations[l - 1]]
                for j in range(1, n[l] + 1):
                    if l == depth:
                        slope, done = functions.loss_slope(
                            p.loss, act.name, a[e, l, j], t[e, j], n[depth]
                        )
                        factors = [slope]
                    else:
                        back = Sum(
                            tuple(
                                Prod((delta[e, l + 1, k], w[l + 1, j, k]))
                                for k in range(1, n[l + 1] + 1)
                            )
                        )
                        factors, done = [back], False
                    derivative = None if done else act.derivative(z[e, l, j], a[e, l, j])
                    if derivative is not None:
                        factors.append(derivative)
                    expr = factors[0] if len(factors) == 1 else Prod(tuple(factors))
                    delta[e, l, j] = self._add(
                        Quantity(nid("delta", l, j, e), "delta", expr, l, j, example=e)
                    )

        # Gradients (the batch mean of the per-example gradients), output layer first.
        grad_w: dict[tuple[int, int, int], Ref] = {}
        grad_b: dict[tuple[int, int | None], Ref] = {}
        for l in range(depth, 0, -1):
            for i in range(1, n[l - 1] + 1):
                for j in range(1, n[l] + 1):
                    expr = _mean([Prod((delta[e, l, j], a[e, l - 1, i])) for e in examples])
                    grad_w[l, i, j] = self._add(
                        Quantity(weight_id("grad_w", l, i, j), "grad_w", expr, l, None, i, j)
                    )
            if p.bias == "per_neuron":
                for j in range(1, n[l] + 1):
                    expr = _mean([delta[e, l, j] for e in examples])
                    grad_b[l, j] = self._add(Quantity(f"grad_b{l}_{j}", "grad_b", expr, l, j))
            elif p.bias == "shared":
                # One bias feeds every neuron of the layer, so its gradient sums their deltas.
                per_example = [
                    Sum(tuple(delta[e, l, j] for j in range(1, n[l] + 1))) for e in examples
                ]
                grad_b[l, None] = self._add(Quantity(f"grad_b{l}", "grad_b", _mean(per_example), l))

        # The update: w − η·∂L/∂w.
        for l in range(depth, 0, -1):
            for i in range(1, n[l - 1] + 1):
                for j in range(1, n[l] + 1):
                    expr = Diff(w[l, i, j], Prod((rate, grad_w[l, i, j])))
                    self._add(Quantity(weight_id("w_new", l, i, j), "w_new", expr, l, None, i, j))
            for (layer, j), g in grad_b.items():
                if layer == l:
                    old = b[l, j or 1]
                    qid = f"b_new{l}_{j}" if j else f"b_new{l}"
                    self._add(Quantity(qid, "b_new", Diff(old, Prod((rate, g))), l, j))

    # --- evaluating ------------------------------------------------------------------------

    def givens(self) -> dict[str, float]:
        """The numbers printed on the sheet, by id."""
        p = self.problem
        out: dict[str, float] = {}
        for q in self.quantities.values():
            match q.kind:
                case "lr":
                    out[q.id] = p.learning_rate
                case "x":
                    out[q.id] = float(p.inputs[(q.example or 1) - 1, q.neuron - 1])
                case "t":
                    out[q.id] = float(p.targets[(q.example or 1) - 1, q.neuron - 1])
                case "w":
                    out[q.id] = float(p.weights[q.layer - 1][q.source - 1, q.target - 1])
                case "b":
                    out[q.id] = float(p.biases[q.layer - 1][(q.neuron or 1) - 1])
        return out

    def computed(self) -> Iterable[Quantity]:
        """The asked-for kinds of quantity, in teaching order."""
        return (q for q in self.quantities.values() if not q.given)

    def evaluate(self, rounding: Rounding | None = None) -> dict[str, float]:
        """Every value from the givens; with `rounding`, each result is rounded before it is reused."""
        env = self.givens()
        for q in self.computed():
            value = q.expr.eval(env)
            env[q.id] = rounding.round(value) if rounding else value
        return env

    def recompute(self, qid: str, env: Mapping[str, float]) -> float:
        """One quantity from the values in `env` (e.g. a student's own earlier answers)."""
        return self.quantities[qid].expr.eval(env)

    # --- writing ---------------------------------------------------------------------------

    def sections(self) -> list[tuple[str, list[Quantity]]]:
        """The computed quantities grouped under the headings a teacher uses, in teaching order."""
        depth, batch = self.problem.depth, self.problem.examples > 1
        groups: dict[str, list[Quantity]] = {}
        for q in self.computed():
            ex = f", example {q.example}" if batch and q.example else ""
            match q.kind:
                case "z" | "a":
                    title = f"Forward pass, layer {q.layer}{ex}"
                case "loss":
                    title = "Loss"
                case "delta" if q.layer == depth:
                    title = f"Output deltas{ex}"
                case "delta":
                    title = f"Hidden deltas, layer {q.layer}{ex}"
                case "grad_w" | "grad_b":
                    title = f"Gradients, layer {q.layer}"
                case _:
                    title = f"Updated weights and biases, layer {q.layer}"
            groups.setdefault(title, []).append(q)
        return list(groups.items())

    def step(self, qid: str, notation: Notation, rounding: Rounding, html: bool = False) -> dict:
        """How a teacher writes one quantity: symbol, general formula, numbers substituted, result."""
        q = self.quantities[qid]
        values = self.values

        def as_symbol(ref: str) -> str:
            symbol = self.quantities[ref].symbol(notation)
            return symbol.html() if html else symbol.text()

        def as_number(ref: str) -> str:
            value = values[ref]
            text = (
                functions.number_text(value)
                if self.quantities[ref].given
                else rounding.format(value)
            )
            return f"({text})" if text.startswith("−") else text

        substituted = q.expr.write(as_number) if q.expr else ""
        if isinstance(q.expr, Ref):
            substituted = substituted.removeprefix("(").removesuffix(")")
        return {
            "symbol": as_symbol(qid),
            "formula": q.expr.write(as_symbol) if q.expr else "",
            "substituted": substituted,
            "result": rounding.format(values[qid]),
        }

    def key_entries(
        self, notation: Notation, rounding: Rounding, asked_kinds: Iterable[str] = KINDS
    ) -> list[dict[str, Any]]:
        """The answer key's quantities: every computed value with its tolerance and how it is written."""
        asked_kinds = set(asked_kinds)
        rounded_path = self.evaluate(rounding)
        entries = []
        for q in self.computed():
            value = self.values[q.id]
            step = self.step(q.id, notation, rounding)
            entries.append(
                {
                    "id": q.id,
                    "kind": q.kind,
                    **q.indices(),
                    "value": value,
                    "tol": {"abs": rounding.tolerance(value, rounded_path[q.id])},
                    "points": 1,
                    "asked": q.kind in asked_kinds,
                    "symbol": step["symbol"],
                    "formula": step["formula"],
                    "substituted": step["substituted"],
                }
            )
        return entries


def _mean(terms: list[Expr]) -> Expr:
    if len(terms) == 1:
        return terms[0]
    return Quot(Sum(tuple(terms)), Num(float(len(terms)), str(len(terms))))
