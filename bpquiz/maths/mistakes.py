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
    """A mini-batch's gradients summed where the sheet averages them."""
    batch_mean: bool = False
    """A mini-batch's gradients averaged where the sheet sums them."""
    gradient_sign: bool = False
    """With error-term deltas (δ = −∂L/∂z): the gradient taken as δ·a instead of −δ·a."""
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
    """One sentence on what went wrong, and the right rule (δ = ∂L/∂z, the default convention)."""
    error_explanation: str = ""
    """The same with error-term deltas (δ = −∂L/∂z), where it reads differently."""
    seen_below_output_only: bool = False
    """Only visible in the layer just below the output: deeper down its effect reaches δ through
    products of small deltas, so an exercise is not redrawn to make it visible there."""

    def explain(self, delta_sign: str = "gradient") -> str:
        """The explanation under the sheet's convention for δ (bpquiz.maths.spec.DELTA_SIGNS)."""
        return (
            self.error_explanation
            if delta_sign == "error" and self.error_explanation
            else (self.explanation)
        )


CATALOGUE: dict[str, Mistake] = {
    m.code: m
    for m in [
        Mistake(
            "update_sign",
            Variation(update_sign=True),
            ("w_new", "b_new"),
            "You added η·gradient; gradient descent subtracts it: w′ = w − η·∂L/∂w.",
            "You moved the weight the wrong way; with δ = −∂L/∂z the update adds η·δ·a: "
            "w′ = w + η·δ·a (that is, w − η·∂L/∂w).",
        ),
        Mistake(
            "no_learning_rate",
            Variation(no_learning_rate=True),
            ("w_new", "b_new"),
            "You left out the learning rate; the step is η times the gradient: w′ = w − η·∂L/∂w.",
            "You left out the learning rate; the step is η times δ·a: w′ = w + η·δ·a.",
        ),
        Mistake(
            "missing_activation_derivative",
            Variation(no_derivative=True),
            ("delta",),
            "You left out the activation's derivative; δ = ∂L/∂z includes f′(z), e.g. a(1 − a) for a sigmoid.",
            "You left out the activation's derivative; δ includes f′(z), e.g. δ = (t − y)·y(1 − y) at a sigmoid output (target t, output y).",
        ),
        Mistake(
            "derivative_at_preactivation",
            Variation(derivative_of_z=True),
            ("delta", "dact"),
            "You put z into the derivative's output form (z(1 − z)); σ′(z) = a(1 − a) uses the activation a.",
        ),
        Mistake(
            "error_sign",
            Variation(error_sign=True),
            ("delta", "grad_a"),
            "You used (t − y), target minus output; the loss's slope is (y − t), output minus target, so δ = (y − t)·f′(z) at the output.",
            "You used (y − t), output minus target; with δ = −∂L/∂z (this sheet's convention) the output δ is (t − y)·f′(z), target minus output.",
        ),
        Mistake(
            "hidden_delta_single_path",
            Variation(single_path=True),
            ("delta", "grad_a"),
            "You followed only one outgoing connection; a hidden δ sums δₖ·wⱼₖ over every neuron k it feeds.",
        ),
        Mistake(
            "hidden_delta_updated_weights",
            Variation(updated_weights=True),
            ("delta", "grad_a"),
            "You backpropagated through already-updated weights; every δ uses the weights before the update.",
            seen_below_output_only=True,
        ),
        Mistake(
            "gradient_wrong_activation",
            Variation(wrong_activation=True),
            ("grad_w",),
            "You multiplied δ by the wrong layer's activation; ∂L/∂wᵢⱼ = δⱼ times the activation feeding that weight (aᵢ of the layer before).",
            "You multiplied δ by the wrong layer's activation; ∂L/∂wᵢⱼ = −δⱼ times the activation feeding that weight (aᵢ of the layer before).",
        ),
        Mistake(
            "gradient_sign",
            Variation(gradient_sign=True),
            ("grad_w", "grad_b"),
            "You took the gradient with the wrong sign; ∂L/∂wᵢⱼ = δⱼ·aᵢ.",
            "You wrote δ·a; with δ = −∂L/∂z the gradient is ∂L/∂wᵢⱼ = −δⱼ·aᵢ (and the update w + η·δ·a).",
        ),
        Mistake(
            "forward_no_activation",
            Variation(no_activation=True),
            ("z", "a"),
            "You passed z on without the activation; a neuron's output, and the next layer's input, is a = f(z).",
        ),
        Mistake(
            "loss_no_half",
            Variation(no_half=True),
            ("loss",),
            "You forgot the ½: this loss is L = ½·Σ(y − t)², the sum over the outputs y and their targets t.",
        ),
        Mistake(
            "batch_sum",
            Variation(batch_sum=True),
            ("grad_w", "grad_b"),
            "You summed the examples' gradients; a mini-batch gradient is their mean (divide by the batch size).",
        ),
        Mistake(
            "batch_mean",
            Variation(batch_mean=True),
            ("grad_w", "grad_b"),
            "You averaged the examples' gradients; here the batch's loss is the sum of the examples' losses, so its gradient is the sum of theirs.",
        ),
        Mistake(
            "transposed_weight",
            Variation(transposed_weight=True),
            ("z", "delta", "grad_a"),
            "You used wⱼᵢ where wᵢⱼ belongs; wᵢⱼ connects neuron i of the earlier layer to neuron j of the later one.",
        ),
    ]
}
