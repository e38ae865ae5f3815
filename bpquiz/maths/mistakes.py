"""The catalogue of known backpropagation mistakes.

A mistake is not a second copy of the maths: each one is a `Variation`, a small typed departure
from the right computation, which the quantity builders in `solution.py` apply to their own
expressions (`Solution.mistaken`). This module names the mistakes, says which variation each is,
and explains it in a teacher's words.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Variation:
    """How a computation departs from the right one. The default departs in nothing."""

    no_activation: bool = False
    """The next layer takes z instead of a = f(z)."""
    transposed_weight: bool = False
    """wⱼᵢ used where wᵢⱼ belongs."""
    error_sign: bool = False
    """The output's error taken as (t − y) instead of (y − t)."""
    single_path: bool = False
    """A hidden δ takes one outgoing connection instead of the sum over all."""
    updated_weights: bool = False
    """A hidden δ is backpropagated through the already updated weights."""
    no_derivative: bool = False
    """δ without the activation's derivative."""
    derivative_of_z: bool = False
    """The derivative's output form evaluated on z (z(1 − z) instead of a(1 − a))."""
    wrong_activation: bool = False
    """A weight's gradient takes another layer's (or neuron's) activation."""
    no_half: bool = False
    """The ½ of the half squared error left out."""
    batch_sum: bool = False
    """A mini-batch's gradients summed instead of averaged."""
    update_sign: bool = False
    """η·gradient added instead of subtracted."""
    no_learning_rate: bool = False
    """The update takes the gradient without η."""

    def within(self, *names: str) -> bool:
        """Whether every departure of this variation is one of `names` (a builder's own)."""
        return all(field.name in names for field in fields(self) if getattr(self, field.name))


RIGHT = Variation()


@dataclass(frozen=True)
class Mistake:
    code: str
    variation: Variation
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
            Variation(update_sign=True),
            ("w_new", "b_new"),
            "You added η·gradient; gradient descent subtracts it: w′ = w − η·∂L/∂w.",
        ),
        Mistake(
            "no_learning_rate",
            Variation(no_learning_rate=True),
            ("w_new", "b_new"),
            "You left out the learning rate; the step is η times the gradient: w′ = w − η·∂L/∂w.",
        ),
        Mistake(
            "missing_activation_derivative",
            Variation(no_derivative=True),
            ("delta",),
            "You left out the activation's derivative; δ = ∂L/∂z includes f′(z), e.g. a(1 − a) for a sigmoid.",
        ),
        Mistake(
            "derivative_at_preactivation",
            Variation(derivative_of_z=True),
            ("delta",),
            "You put z into the derivative's output form (z(1 − z)); σ′(z) = a(1 − a) uses the activation a.",
        ),
        Mistake(
            "error_sign",
            Variation(error_sign=True),
            ("delta",),
            "You used (t − y); the loss's slope is (y − t), so δ = (y − t)·f′(z) at the output.",
        ),
        Mistake(
            "hidden_delta_single_path",
            Variation(single_path=True),
            ("delta",),
            "You followed only one outgoing connection; a hidden δ sums δₖ·wⱼₖ over every neuron k it feeds.",
        ),
        Mistake(
            "hidden_delta_updated_weights",
            Variation(updated_weights=True),
            ("delta",),
            "You backpropagated through already-updated weights; every δ uses the weights before the update.",
            seen_below_output_only=True,
        ),
        Mistake(
            "gradient_wrong_activation",
            Variation(wrong_activation=True),
            ("grad_w",),
            "You multiplied δ by the wrong layer's activation; ∂L/∂wᵢⱼ = δⱼ times the activation feeding that weight (aᵢ of the layer before).",
        ),
        Mistake(
            "forward_no_activation",
            Variation(no_activation=True),
            ("z",),
            "You passed z on to the next layer; the next layer's input is the activation a = f(z).",
        ),
        Mistake(
            "loss_no_half",
            Variation(no_half=True),
            ("loss",),
            "You forgot the ½: this loss is L = ½·Σ(y − t)².",
        ),
        Mistake(
            "batch_sum",
            Variation(batch_sum=True),
            ("grad_w", "grad_b"),
            "You summed the examples' gradients; a mini-batch gradient is their mean (divide by the batch size).",
        ),
        Mistake(
            "transposed_weight",
            Variation(transposed_weight=True),
            ("z", "delta"),
            "You used wⱼᵢ where wᵢⱼ belongs; wᵢⱼ connects neuron i of the earlier layer to neuron j of the later one.",
        ),
    ]
}
