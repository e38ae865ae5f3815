"""One step of gradient descent as a graph of named quantities.

Every quantity a student writes down (z, a, the loss, δ, the gradients, the updated weights) is a
node with an id, its indices and one expression over earlier nodes. Evaluating the graph from the
given numbers is the worked solution; evaluating one node from a student's own earlier answers is
follow-through marking; evaluating with every intermediate rounded is what a careful student gets;
each builder's variation of its expression is what a catalogued mistake gives (bpquiz.maths
.mistakes). One module on purpose: the builders are the one home of every formula.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from typing import Any, cast

from bpquiz.maths.exact import MARGIN, MAX_PRECISION, PRECISION, exact_of, limited
from bpquiz.maths.expr import Diff, ExactEnv, Expr, Neg, Prod, Quot, Ref, Sum
from bpquiz.maths.functions import ACTIVATIONS, constant, loss, loss_slope, number_text, softmax
from bpquiz.maths.ids import (
    LEARNING_RATE,
    bias_id,
    given_id,
    loss_id,
    neuron_id,
    weight_id,
)
from bpquiz.maths.mistakes import CATALOGUE, RIGHT, Mistake, Variation
from bpquiz.maths.notation import Notation, Symbol
from bpquiz.maths.rounding import Rounding
from bpquiz.maths.spec import Problem, SpecError
from bpquiz.maths.step import Step

Builder = Callable[[Variation], list[Expr]]

MEMO_SIZE = 200_000
"""Values remembered per variant for marking (`Solution._memo`), a few MB at most."""
_NOTHING = object()
MAX_VALUE = 1e11
"""The largest value a quantity may have: a float holds 4 decimals of it exactly."""
MAX_Z = 1000.0
"""The largest |z| an activation is taken of: σ(−1000) is about 10^−434, which exact arithmetic
still writes; σ(−10^5) would need a hundred-thousand-digit fraction."""


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
        if self.kind in ("z", "a", "grad_a", "dact", "delta", "x", "t"):
            out["example"] = self.example or 1
        return out


class Solution:
    """The graph for one problem, evaluated exactly.

    With `intermediates`, each δ below a simplified output is computed in two asked steps first:
    ∂L/∂a (grad_a) and f′(z) (dact), and δ from them.
    """

    def __init__(self, problem: Problem, intermediates: bool = False) -> None:
        self.problem = problem
        self.intermediates = intermediates
        self.quantities: dict[str, Quantity] = {}
        self._builders: dict[str, Builder] = {}
        self._batch = problem.examples > 1
        self._rounded: dict[Rounding, dict[str, Fraction]] = {}
        self._exact: dict[int, tuple[dict[str, Fraction], frozenset[str]]] = {}
        self._mistakes: dict[str, tuple[tuple[Mistake, tuple[Expr, ...]], ...]] = {}
        self._refs: dict[Hashable, tuple[str, ...]] = {}
        self._memos: dict[tuple[Hashable, ...], Any] = {}
        self._examples = range(1, problem.examples + 1)
        self._build()
        try:
            self.values = self.evaluate()
        except ArithmeticError:  # e.g. a softmax whose every exponential underflows to 0
            raise SpecError("the numbers overflow: use smaller weights or inputs") from None
        self._check_sizes()

    def _check_sizes(self) -> None:
        """SpecError for values no exercise has, before exact arithmetic is tried on them: beyond
        MAX_VALUE a float no longer holds the decimals a sheet asks for, and an activation of a
        z beyond MAX_Z needs more digits than exact arithmetic can write."""
        for q in self.computed():
            value = self.values[q.id]
            if not math.isfinite(value):
                raise SpecError(
                    f"the numbers overflow ({q.id} is not finite): use smaller weights or inputs"
                )
            if abs(value) > MAX_VALUE or (q.kind == "z" and abs(value) > MAX_Z):
                limit = MAX_Z if abs(value) <= MAX_VALUE else MAX_VALUE
                raise SpecError(
                    f"the numbers grow too large ({q.id} is {value:.3g}, beyond ±{limit:g}): "
                    "use smaller weights, inputs or learning rate"
                )

    # --- building --------------------------------------------------------------------------
    # Each kind of quantity has one builder. Called with RIGHT it gives the real computation;
    # called with a mistake's Variation it gives that variation of the same computation (a list:
    # some mistakes can be made in several ways; empty: the variation has no place here).

    def _ref(self, kind: str, layer: int, j: int, e: int) -> Ref:
        if kind == "a" and layer == 0:
            return Ref(given_id("x", j, e, self._batch))
        return Ref(neuron_id(kind, layer, j, e, self._batch))

    def _w(self, l: int, i: int, j: int, kind: str = "w") -> Ref:
        return Ref(weight_id(kind, l, i, j))

    def _bias(self, l: int, j: int) -> Ref | None:
        match self.problem.bias:
            case "shared":
                return Ref(bias_id("b", l, None))
            case "per_neuron":
                return Ref(bias_id("b", l, j))
        return None

    def _z(self, e: int, l: int, j: int, v: Variation = RIGHT) -> list[Expr]:
        """z⁽ˡ⁾ⱼ = Σᵢ a⁽ˡ⁻¹⁾ᵢ·W⁽ˡ⁾ᵢⱼ + b⁽ˡ⁾ⱼ."""
        if not v.within("no_activation", "transposed_weight"):
            return []
        n = self.problem.layers
        sources = range(1, n[l - 1] + 1)
        previous, weight = "a", lambda i: self._w(l, i, j)
        if v.no_activation:
            if l < 2:
                return []
            previous = "z"
        if v.transposed_weight:
            if not (j <= n[l - 1] and n[l - 1] <= n[l]):
                return []
            weight = lambda i: self._w(l, j, i)  # noqa: E731
        terms: list[Expr] = [Prod((self._ref(previous, l - 1, i, e), weight(i))) for i in sources]
        bias = self._bias(l, j)
        return [Sum((*terms, bias) if bias else tuple(terms))]

    def _a(self, e: int, l: int, j: int, v: Variation = RIGHT) -> list[Expr]:
        act = ACTIVATIONS[self.problem.activations[l - 1]]
        z = self._ref("z", l, j, e)
        if v.no_activation and v.within("no_activation"):
            # Not where a = z would make the loss's logarithm meaningless (bce, cross-entropy).
            logged = l == self.problem.depth and self.problem.loss in ("bce", "cross_entropy")
            return [] if act.function is None or logged else [z]
        if v != RIGHT:
            return []
        if act.layerwise:
            layer_z = [self._ref("z", l, k, e) for k in range(1, self.problem.layers[l] + 1)]
            return [softmax(layer_z, j - 1)]
        return [act.apply(z)]

    def _loss(self, e: int, v: Variation = RIGHT) -> list[Expr]:
        p = self.problem
        outputs = range(1, p.layers[-1] + 1)
        a = [self._ref("a", p.depth, k, e) for k in outputs]
        t = [Ref(given_id("t", k, e, self._batch)) for k in outputs]
        if v == RIGHT:
            return [loss(p.loss, a, t)]
        if v.no_half and v.within("no_half") and p.loss == "half_sse":
            return [loss(p.loss, a, t, half=False)]
        return []

    def _batch_loss(self, v: Variation = RIGHT) -> list[Expr]:
        """The batch's loss: the mean (or sum) of its examples' losses (a method, not a lambda, so
        a Solution can be sent to worker processes)."""
        losses: list[Expr] = [Ref(loss_id(e)) for e in self._examples]
        return [self._reduce(losses)] if v == RIGHT else []

    def _reduce(self, terms: Sequence[Expr]) -> Expr:
        """A batch's examples combined: their mean, or their sum (batch_reduction)."""
        return _mean(terms) if self.problem.batch_reduction == "mean" else _total(terms)

    def _error_sign(self) -> bool:
        return self.problem.delta_sign == "error"

    def _simplified(self, l: int) -> bool:
        """Whether the output layer's δ is taught simplified (sigmoid with bce, softmax with
        cross-entropy: the activation's derivative has cancelled)."""
        p = self.problem
        return (
            l == p.depth
            and loss_slope(p.loss, p.activations[l - 1], Ref("a"), Ref("t"), p.layers[l])[1]
        )

    def _split(self, l: int) -> bool:
        """Whether δ of layer l is computed from its own asked steps grad_a and dact."""
        return self.intermediates and not self._simplified(l)

    def _backward(self, e: int, l: int, j: int, v: Variation, error: bool) -> list[Expr] | None:
        """What δ⁽ˡ⁾ⱼ multiplies f′ by: at the output the loss's slope, written with (a − t), or
        with (t − a) when `error`; below, Σₖ δ⁽ˡ⁺¹⁾ₖ·W⁽ˡ⁺¹⁾ⱼₖ. None: the variation has no place here."""
        p, n = self.problem, self.problem.layers
        if l == p.depth:
            if v.single_path or v.updated_weights:
                return None
            a, t = self._ref("a", l, j, e), Ref(given_id("t", j, e, self._batch))
            pair = (t, a) if error != v.error_sign else (a, t)
            return [loss_slope(p.loss, p.activations[l - 1], *pair, n[l])[0]]
        if v.error_sign:
            return None
        weight = lambda k: self._w(l + 1, j, k)  # noqa: E731
        if v.updated_weights:
            weight = lambda k: self._w(l + 1, j, k, "w_new")  # noqa: E731
        elif v.transposed_weight:
            if not (j <= n[l + 1] and n[l + 1] <= n[l]):
                return None
            weight = lambda k: self._w(l + 1, k, j)  # noqa: E731
        paths: list[Expr] = [
            Prod((self._ref("delta", l + 1, k, e), weight(k))) for k in range(1, n[l + 1] + 1)
        ]
        if v.single_path:
            return paths if len(paths) > 1 else None
        return [Sum(tuple(paths))]

    def _grad_a(self, e: int, l: int, j: int, v: Variation = RIGHT) -> list[Expr]:
        """∂L/∂a⁽ˡ⁾ⱼ: the loss's slope (a − t) at the output; below, the deltas of the next layer
        sent back through its weights (with error-term deltas, minus that sum)."""
        if not v.within("error_sign", "single_path", "updated_weights", "transposed_weight"):
            return []
        backs = self._backward(e, l, j, v, error=False) or []
        if l < self.problem.depth and self._error_sign():
            return [Neg(back) for back in backs]
        return backs

    def _dact(self, e: int, l: int, j: int, v: Variation = RIGHT) -> list[Expr]:
        """f′(z⁽ˡ⁾ⱼ), written in terms of the activation where that is how it is taught."""
        act = ACTIVATIONS[self.problem.activations[l - 1]]
        z, a = self._ref("z", l, j, e), self._ref("a", l, j, e)
        if v == RIGHT:
            return [act.slope(z, a) or constant(Fraction(1))]
        if v.derivative_of_z and v.within("derivative_of_z") and act.output_form:
            return [cast(Expr, act.slope(z, z))]
        return []

    def _delta(self, e: int, l: int, j: int, v: Variation = RIGHT) -> list[Expr]:
        """δ⁽ˡ⁾ⱼ = ∂L/∂z⁽ˡ⁾ⱼ (or −∂L/∂z⁽ˡ⁾ⱼ, the error term): the loss's slope (output) or the
        sum over the next layer, times f′."""
        if self._split(l):
            return self._delta_from_steps(e, l, j, v)
        if not v.within(
            "error_sign",
            "single_path",
            "updated_weights",
            "transposed_weight",
            "no_derivative",
            "derivative_of_z",
        ):
            return []
        act = ACTIVATIONS[self.problem.activations[l - 1]]
        backs = self._backward(e, l, j, v, error=self._error_sign())
        if backs is None:
            return []
        a, z = self._ref("a", l, j, e), self._ref("z", l, j, e)
        done = self._simplified(l)
        derivative = None if done else act.slope(z, a)
        if v.no_derivative:
            if derivative is None:
                return []
            derivative = None
        elif v.derivative_of_z:
            if done or not act.output_form:
                return []
            derivative = act.slope(z, z)
        return [back if derivative is None else Prod((back, derivative)) for back in backs]

    def _delta_from_steps(self, e: int, l: int, j: int, v: Variation) -> list[Expr]:
        """δ = ∂L/∂a·f′(z) from the asked steps (with error-term deltas, minus that)."""
        grad_a = Ref(neuron_id("grad_a", l, j, e, self._batch))
        dact = Ref(neuron_id("dact", l, j, e, self._batch))
        if v == RIGHT:
            made: Expr = Prod((grad_a, dact))
        elif v.no_derivative and v.within("no_derivative"):
            made = grad_a
        else:
            return []
        return [Neg(made) if self._error_sign() else made]

    def _grad_w(self, l: int, i: int, j: int, v: Variation = RIGHT) -> list[Expr]:
        """∂L/∂W⁽ˡ⁾ᵢⱼ = mean (or sum) over examples of δ⁽ˡ⁾ⱼ·a⁽ˡ⁻¹⁾ᵢ (minus that for error terms)."""
        n, examples = self.problem.layers, self._examples
        delta = [self._ref("delta", l, j, e) for e in examples]
        if v.wrong_activation and v.within("wrong_activation"):
            # Another layer's activation with the same index, or the receiving neuron's own.
            wrong = [(m, i) for m in range(len(n)) if m != l - 1 and i <= n[m]]
            wrong += [(l, j)] if (l, j) not in wrong else []
            return [
                self._signed(
                    self._reduce(
                        [
                            Prod((d, self._ref("a", m, k, e)))
                            for d, e in zip(delta, examples, strict=True)
                        ]
                    )
                )
                for m, k in wrong
            ]
        terms: list[Expr] = [
            Prod((d, self._ref("a", l - 1, i, e))) for d, e in zip(delta, examples, strict=True)
        ]
        return self._gradient(terms, v)

    def _grad_b(self, l: int, j: int | None, v: Variation = RIGHT) -> list[Expr]:
        """∂L/∂b: mean δ; a shared bias feeds every neuron of its layer, so it sums their δ."""
        examples = self._examples
        if j is not None:
            return self._gradient([self._ref("delta", l, j, e) for e in examples], v)
        neurons = range(1, self.problem.layers[l] + 1)
        per_example: list[Expr] = [
            Sum(tuple(self._ref("delta", l, k, e) for k in neurons)) for e in examples
        ]
        return self._gradient(per_example, v)

    def _signed(self, gradient: Expr) -> Expr:
        """A gradient from deltas: with error-term deltas (δ = −∂L/∂z), minus it."""
        return Neg(gradient) if self._error_sign() else gradient

    def _gradient(self, terms: Sequence[Expr], v: Variation) -> list[Expr]:
        """The batch's reduction of per-example terms, signed; the variations of summing where the
        sheet averages (or averaging where it sums), and of the gradient's sign."""
        mean = self.problem.batch_reduction == "mean"
        if v == RIGHT:
            return [self._signed(self._reduce(terms))]
        if v.batch_sum and v.within("batch_sum") and mean and len(terms) > 1:
            return [self._signed(_total(terms))]
        if v.batch_mean and v.within("batch_mean") and not mean and len(terms) > 1:
            return [self._signed(_mean(terms))]
        if v.gradient_sign and v.within("gradient_sign") and self._error_sign():
            return [self._reduce(terms)]
        return []

    def _update(self, old: Ref, grad: Ref, v: Variation = RIGHT) -> list[Expr]:
        """w − η·∂L/∂w."""
        step = Prod((Ref(LEARNING_RATE), grad))
        if v == RIGHT:
            return [Diff(old, step)]
        if v.update_sign and v.within("update_sign"):
            return [Sum((old, step))]
        if v.no_learning_rate and v.within("no_learning_rate"):
            return [Diff(old, grad)]
        return []

    def _add(self, qid: str, kind: str, build: Builder, **indices: int | None) -> None:
        [expr] = build(RIGHT)
        self.quantities[qid] = Quantity(qid, kind, expr, **indices)
        self._builders[qid] = build

    def _given(self, qid: str, kind: str, **indices: int | None) -> None:
        self.quantities[qid] = Quantity(qid, kind, None, **indices)

    def _build(self) -> None:
        p = self.problem
        n, depth, batch = p.layers, p.depth, self._batch
        layers = range(1, depth + 1)

        self._given(LEARNING_RATE, "lr")
        for e in self._examples:
            for i in range(1, n[0] + 1):
                self._given(given_id("x", i, e, batch), "x", layer=0, neuron=i, example=e)
            for k in range(1, n[depth] + 1):
                self._given(given_id("t", k, e, batch), "t", layer=depth, neuron=k, example=e)
        for l in layers:
            for i, j in itertools.product(range(1, n[l - 1] + 1), range(1, n[l] + 1)):
                self._given(weight_id("w", l, i, j), "w", layer=l, source=i, target=j)
            if p.bias == "shared":
                self._given(bias_id("b", l, None), "b", layer=l)
            elif p.bias == "per_neuron":
                for j in range(1, n[l] + 1):
                    self._given(bias_id("b", l, j), "b", layer=l, neuron=j)

        # Forward pass, one example at a time, layer by layer.
        for e in self._examples:
            for l in layers:
                for kind, build in (("z", self._z), ("a", self._a)):
                    for j in range(1, n[l] + 1):
                        qid = neuron_id(kind, l, j, e, batch)
                        self._add(qid, kind, partial(build, e, l, j), layer=l, neuron=j, example=e)

        # Loss: per example, then the batch mean.
        for e in self._examples:
            example = e if batch else None
            self._add(loss_id(example), "loss", partial(self._loss, e), example=example)
        if batch:
            self._add(loss_id(None), "loss", self._batch_loss)

        # Backward pass, with the weights before the update.
        for e in self._examples:
            for l in reversed(layers):
                kinds = [("delta", self._delta)]
                if self._split(l):
                    kinds = [("grad_a", self._grad_a), ("dact", self._dact), *kinds]
                for kind, build in kinds:
                    for j in range(1, n[l] + 1):
                        qid = neuron_id(kind, l, j, e, batch)
                        self._add(qid, kind, partial(build, e, l, j), layer=l, neuron=j, example=e)

        # Gradients, output layer first, then the updates.
        for l in reversed(layers):
            for i, j in itertools.product(range(1, n[l - 1] + 1), range(1, n[l] + 1)):
                qid = weight_id("grad_w", l, i, j)
                self._add(
                    qid, "grad_w", partial(self._grad_w, l, i, j), layer=l, source=i, target=j
                )
            for b in self._bias_neurons(l):
                qid = bias_id("grad_b", l, b)
                self._add(qid, "grad_b", partial(self._grad_b, l, b), layer=l, neuron=b)
        for l in reversed(layers):
            for i, j in itertools.product(range(1, n[l - 1] + 1), range(1, n[l] + 1)):
                old, grad = self._w(l, i, j), self._w(l, i, j, "grad_w")
                qid = weight_id("w_new", l, i, j)
                self._add(
                    qid, "w_new", partial(self._update, old, grad), layer=l, source=i, target=j
                )
            for b in self._bias_neurons(l):
                bias = self._bias(l, b or 1)
                assert bias is not None  # a layer with bias neurons has a bias
                grad = Ref(bias_id("grad_b", l, b))
                qid = bias_id("b_new", l, b)
                self._add(qid, "b_new", partial(self._update, bias, grad), layer=l, neuron=b)

    def _bias_neurons(self, l: int) -> list[int | None]:
        """The neurons with a bias of their own in layer l: all, none, or [None] for a shared one."""
        match self.problem.bias:
            case "per_neuron":
                return list(range(1, self.problem.layers[l] + 1))
            case "shared":
                return [None]
        return []

    # --- mistakes --------------------------------------------------------------------------

    def mistaken(self, qid: str, mistake: Mistake) -> list[Expr]:
        """What `mistake` computes for this quantity instead (empty if it can't be made here)."""
        build = self._builders.get(qid)
        return build(mistake.variation) if build else []

    def mistakes_at(self, qid: str) -> tuple[tuple[Mistake, tuple[Expr, ...]], ...]:
        """The catalogued mistakes that can be made at this quantity, with their expressions:
        built once per quantity, since marking a class asks for them at every wrong answer."""
        made = self._mistakes.get(qid)
        if made is None:
            kind = self.quantities[qid].kind
            made = tuple(
                (mistake, tuple(exprs))
                for mistake in CATALOGUE.values()
                if kind in mistake.kinds and (exprs := self.mistaken(qid, mistake))
            )
            self._mistakes[qid] = made
        return made

    def mistake_values(self, qid: str, env: Mapping[str, float]) -> dict[str, list[float]]:
        """For every catalogued mistake that can be made at this quantity: the value(s) it gives,
        computed from the values in `env` (the key's, or a student's own earlier answers)."""
        made = self.mistakes_at(qid)
        return self._memo(
            ("mistakes", qid),
            [expr for _, exprs in made for expr in exprs],
            env,
            lambda: {m.code: [expr.eval(env) for expr in exprs] for m, exprs in made},
        )

    def _memo(self, what: Hashable, exprs: Sequence[Expr], env: Mapping[str, float], compute):
        """`compute()`, remembered by `what` and the values in `env` that `exprs` read: in a class,
        many students' work gives the same inputs to a step (grading 10,000 answer files asked
        for the same few thousand values hundreds of thousands of times)."""
        refs = self._refs.get(what)
        if refs is None:
            refs = self._refs[what] = tuple(dict.fromkeys(r for e in exprs for r in e.refs()))
        key = (what, *(env[r] for r in refs))
        found = self._memos.get(key, _NOTHING)
        if found is _NOTHING:
            if len(self._memos) > MEMO_SIZE:
                self._memos.clear()
            found = self._memos[key] = compute()
        return found

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
                    out[q.id] = float(p.inputs[(q.example or 1) - 1, _index(q.neuron)])
                case "t":
                    out[q.id] = float(p.targets[(q.example or 1) - 1, _index(q.neuron)])
                case "w":
                    out[q.id] = float(
                        p.weights[_index(q.layer)][_index(q.source), _index(q.target)]
                    )
                case "b":
                    out[q.id] = float(p.biases[_index(q.layer)][(q.neuron or 1) - 1])
        return out

    def computed(self) -> Iterable[Quantity]:
        """The asked-for kinds of quantity, in teaching order."""
        return (q for q in self.quantities.values() if not q.given)

    def evaluate(self) -> dict[str, float]:
        """Every value from the givens, in floats (quick, for drawing and marking)."""
        env = self.givens()
        for q in self.computed():
            env[q.id] = _expr(q).eval(env)
        return env

    def recompute(self, qid: str, env: Mapping[str, float]) -> float:
        """One quantity from the values in `env` (e.g. a student's own earlier answers)."""
        expr = _expr(self.quantities[qid])
        return self._memo(("float", qid), [expr], env, lambda: expr.eval(env))

    def recompute_rounded(self, qid: str, env: Mapping[str, float], rounding: Rounding) -> float:
        """One quantity from the numbers in `env` (each the decimal it prints as), computed exactly
        and rounded as `rounding` says: what a calculator gives from those numbers."""
        expr = _expr(self.quantities[qid])
        return self._memo(
            ("rounded", qid, rounding),
            [expr],
            env,
            lambda: float(_decided(expr, _Printed(env), rounding)),
        )

    def exact_values(self) -> dict[str, Fraction]:
        """Every value from the printed givens, exactly (but for σ, tanh, exp and ln, to
        bpquiz.maths.exact.PRECISION digits): the key's values, and the unrounded results."""
        return self._exact_path(PRECISION)[0]

    def exact_text(self, qid: str, rounding: Rounding) -> str:
        """The unrounded value of `qid`, written to `rounding`: computed with as many digits as it
        takes to decide the last one."""
        digits = PRECISION
        while True:
            values, approximate = self._exact_path(digits)
            value = values[qid]
            if qid not in approximate:
                return rounding.format(value)
            slack = (abs(value) + 1) * Fraction(10) ** (2 * MARGIN - digits)
            low, high = rounding.round_exact(value - slack), rounding.round_exact(value + slack)
            if low == high or digits >= MAX_PRECISION:
                return rounding.format(value)
            digits *= 2

    def _exact_path(self, digits: int) -> tuple[dict[str, Fraction], frozenset[str]]:
        """The unrounded values computed exactly to `digits`, and which of them are approximate
        (computed through σ, tanh, exp or ln)."""
        if digits not in self._exact:
            env: dict[str, Fraction] = {k: exact_of(v) for k, v in self.givens().items()}
            approximate: set[str] = set()
            for q in self.computed():
                expr = _expr(q)
                value = expr.exact(env, digits)
                if expr.approximate() or not approximate.isdisjoint(q.inputs()):
                    approximate.add(q.id)
                    value = limited(value, digits)
                env[q.id] = value
            self._exact[digits] = (env, frozenset(approximate))
        return self._exact[digits]

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
                case "delta" | "grad_a" | "dact" if q.layer == depth:
                    title = f"Output deltas{ex}"
                case "delta" | "grad_a" | "dact":
                    title = f"Hidden deltas, layer {q.layer}{ex}"
                case "grad_w" | "grad_b":
                    title = f"Gradients, layer {q.layer}"
                case _:
                    title = f"Updated weights and biases, layer {q.layer}"
            groups.setdefault(title, []).append(q)
        return list(groups.items())

    def rounded_path(self, rounding: Rounding) -> dict[str, Fraction]:
        """Every value as a careful student gets it with a calculator: each result computed exactly
        from the printed numbers before it, rounded, then reused (cached)."""
        if rounding not in self._rounded:
            env: dict[str, Fraction] = {k: exact_of(v) for k, v in self.givens().items()}
            for q in self.computed():
                env[q.id] = _decided(_expr(q), env, rounding)
            self._rounded[rounding] = env
        return self._rounded[rounding]

    def step(self, qid: str, notation: Notation, rounding: Rounding) -> Step:
        """How a teacher writes one quantity: symbol, general formula, numbers substituted, result.

        The numbers are the rounded results of the steps before, and the result is what those
        numbers give, rounded: every line can be checked with a calculator. The step's `exact` is
        the result from unrounded values (the key's value), which may differ in the last digit.
        """
        q = self.quantities[qid]
        rounded = self.rounded_path(rounding)

        def as_symbol(ref: str) -> str:
            return self.quantities[ref].symbol(notation).text()

        def as_number(ref: str) -> str:
            value = rounded[ref]
            given = self.quantities[ref].given
            text = number_text(float(value)) if given else rounding.format(value)
            return f"({text})" if text.startswith("−") else text

        substituted = q.expr.write(as_number) if q.expr else ""
        if isinstance(q.expr, Ref):
            substituted = substituted.removeprefix("(").removesuffix(")")
        return Step(
            id=qid,
            symbol=as_symbol(qid),
            formula=q.expr.write(as_symbol) if q.expr else "",
            substituted=substituted,
            result=rounding.format(rounded[qid]),
            exact=self.exact_text(qid, rounding),
        )


class _Printed(dict[str, Fraction]):
    """Numbers given as floats, read as the decimals they print as (looked up lazily)."""

    def __init__(self, env: Mapping[str, float]) -> None:
        super().__init__()
        self._env = env

    def __missing__(self, qid: str) -> Fraction:
        value = exact_of(self._env[qid])
        self[qid] = value
        return value


def _decided(expr: Expr, env: ExactEnv, rounding: Rounding) -> Fraction:
    """`expr` from exact numbers, rounded as `rounding` says. Where it is only approximate (σ,
    tanh, exp, ln), with as many digits as it takes to decide the rounded digit."""
    digits = PRECISION
    while True:
        value = expr.exact(env, digits)
        if not expr.approximate():
            return rounding.round_exact(value)
        slack = (abs(value) + 1) * Fraction(10) ** (MARGIN - digits)
        low, high = rounding.round_exact(value - slack), rounding.round_exact(value + slack)
        if low == high or digits >= MAX_PRECISION:
            return rounding.round_exact(value)
        digits *= 2


def _expr(q: Quantity) -> Expr:
    if q.expr is None:
        raise ValueError(f"{q.id} is a given number, not computed")
    return q.expr


def _index(value: int | None) -> int:
    """A 1-based index of a given number as a 0-based array index (every given has its indices)."""
    assert value is not None
    return value - 1


def _total(terms: Sequence[Expr]) -> Expr:
    return terms[0] if len(terms) == 1 else Sum(tuple(terms))


def _mean(terms: Sequence[Expr]) -> Expr:
    if len(terms) == 1:
        return terms[0]
    return Quot(Sum(tuple(terms)), constant(Fraction(len(terms))))
