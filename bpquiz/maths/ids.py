"""Quantity ids: short, stable and readable, because students type them.

The one place ids are spelled. Kept apart from the maths so that grading can name quantities
without importing numpy.
"""

from __future__ import annotations

KINDS = ("z", "a", "loss", "grad_a", "dact", "delta", "grad_w", "grad_b", "w_new", "b_new")
"""The kinds of quantity a student computes, in teaching order."""
INTERMEDIATE_KINDS = ("grad_a", "dact")
"""∂L/∂a and f′(z): asked only when a course computes δ in these steps (then δ is made from them)."""
DEFAULT_ASKED = tuple(k for k in KINDS if k not in INTERMEDIATE_KINDS)
"""What a sheet asks for unless told otherwise."""


def neuron_id(kind: str, layer: int, neuron: int | None, example: int | None, batch: bool) -> str:
    """z1_2, a2_1, delta2_1 (and _e2 for example 2 of a batch); grad_b1 for a shared bias."""
    base = f"{kind}{layer}" if neuron is None else f"{kind}{layer}_{neuron}"
    return f"{base}_e{example}" if batch and example else base


def bias_id(kind: str, layer: int, neuron: int | None) -> str:
    """b2_1, grad_b2_1, b_new2_1; b2, grad_b2, b_new2 for a layer's shared bias (neuron None)."""
    return neuron_id(kind, layer, neuron, None, False)


def given_id(letter: str, i: int, example: int, batch: bool) -> str:
    """x_1, t_2 (and x_1_e2 for example 2 of a batch)."""
    return f"{letter}_{i}_e{example}" if batch else f"{letter}_{i}"


def weight_id(kind: str, layer: int, i: int, j: int) -> str:
    """w2_1_2, grad_w2_1_2, w_new2_1_2: layer l, from neuron i of layer l − 1, to neuron j."""
    return f"{kind}{layer}_{i}_{j}"


def loss_id(example: int | None) -> str:
    """loss (the batch's, or the only example's); loss_e2 for example 2 of a batch."""
    return f"loss_e{example}" if example else "loss"


LEARNING_RATE = "eta"
