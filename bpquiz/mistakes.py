"""The catalogue of known backpropagation mistakes.

A mistake is not a second copy of the maths: each one is a small variation that the quantity
builders in `solution.py` know how to make (look for its code there). This module names the
mistakes, explains them in a teacher's words, and evaluates what they would give.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from bpquiz.expr import Expr

if TYPE_CHECKING:
    from bpquiz.solution import Solution


@dataclass(frozen=True)
class Mistake:
    code: str
    kinds: tuple[str, ...]
    """The kinds of quantity where the mistake is first made (later ones are follow-through)."""
    explanation: str
    """One sentence on what went wrong, and the right rule."""
    seen_below_output_only: bool = False
    """Only visible in the layer just below the output: deeper down its effect reaches δ through
    products of small deltas, so an exercise is not redrawn to make it visible there."""


CATALOGUE: dict[str, Mistake] = {
    m.code: m
    for m in [
        Mistake(
            "update_sign",
            ("w_new", "b_new"),
            "You added η·gradient; gradient descent subtracts it: w′ = w − η·∂L/∂w.",
        ),
        Mistake(
            "no_learning_rate",
            ("w_new", "b_new"),
            "You left out the learning rate; the step is η times the gradient: w′ = w − η·∂L/∂w.",
        ),
        Mistake(
            "missing_activation_derivative",
            ("delta",),
            "You left out the activation's derivative; δ = ∂L/∂z includes f′(z), e.g. a(1 − a) for a sigmoid.",
        ),
        Mistake(
            "derivative_at_preactivation",
            ("delta",),
            "You put z into the derivative's output form (z(1 − z)); σ′(z) = a(1 − a) uses the activation a.",
        ),
        Mistake(
            "error_sign",
            ("delta",),
            "You used (t − y); the loss's slope is (y − t), so δ = (y − t)·f′(z) at the output.",
        ),
        Mistake(
            "hidden_delta_single_path",
            ("delta",),
            "You followed only one outgoing connection; a hidden δ sums δₖ·wⱼₖ over every neuron k it feeds.",
        ),
        Mistake(
            "hidden_delta_updated_weights",
            ("delta",),
            "You backpropagated through already-updated weights; every δ uses the weights before the update.",
            seen_below_output_only=True,
        ),
        Mistake(
            "gradient_wrong_activation",
            ("grad_w",),
            "You multiplied δ by the wrong layer's activation; ∂L/∂wᵢⱼ = δⱼ times the activation feeding that weight (aᵢ of the layer before).",
        ),
        Mistake(
            "forward_no_activation",
            ("z",),
            "You passed z on to the next layer; the next layer's input is the activation a = f(z).",
        ),
        Mistake(
            "loss_no_half",
            ("loss",),
            "You forgot the ½: this loss is L = ½·Σ(y − t)².",
        ),
        Mistake(
            "batch_sum",
            ("grad_w", "grad_b"),
            "You summed the examples' gradients; a mini-batch gradient is their mean (divide by the batch size).",
        ),
        Mistake(
            "transposed_weight",
            ("z", "delta"),
            "You used wⱼᵢ where wᵢⱼ belongs; wᵢⱼ connects neuron i of the earlier layer to neuron j of the later one.",
        ),
    ]
}


def mistake_values(
    solution: Solution, qid: str, env: Mapping[str, float]
) -> dict[str, list[float]]:
    """For every catalogued mistake that can be made at this quantity: the value(s) it gives,
    computed from the values in `env` (the key's, or a student's own earlier answers)."""
    return {code: [expr.eval(env) for expr in exprs] for code, exprs in _mistaken_at(solution, qid)}


@lru_cache(maxsize=8192)
def _mistaken_at(solution: Solution, qid: str) -> tuple[tuple[str, tuple[Expr, ...]], ...]:
    """The mistakes that can be made at this quantity, with their expressions: built once per
    quantity, since marking a class asks for them at every wrong answer (solutions hash by
    identity, so this holds one entry per quantity of each variant seen)."""
    kind = solution.quantities[qid].kind
    return tuple(
        (code, tuple(exprs))
        for code, mistake in CATALOGUE.items()
        if kind in mistake.kinds and (exprs := solution.mistaken(qid, code))
    )


def indistinguishable(
    solution: Solution, qid: str, tolerance: float, env: Mapping[str, float] | None = None
) -> str | None:
    """A mistake whose value at `qid` lands within `tolerance` of the right one (but not exactly on
    it: a mistake that changes nothing here, like leaving out a ReLU's slope of 1, is harmless)."""
    env = solution.values if env is None else env
    q = solution.quantities[qid]
    right = solution.values[qid]
    for code, values in mistake_values(solution, qid, env).items():
        if CATALOGUE[code].seen_below_output_only and q.layer < solution.problem.depth - 1:
            continue
        if any(0 < abs(value - right) <= tolerance for value in values):
            return code
    return None
