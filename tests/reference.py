"""An independent numpy implementation of the forward pass and loss, for checking bpquiz's maths.

Written from the textbook definitions, sharing no code with bpquiz: finite differences of this
loss are the ground truth for every gradient and delta bpquiz computes.
"""

from __future__ import annotations

import numpy as np

ACT = {
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "linear": lambda z: z,
    "softmax": lambda z: np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True),
}


def example_losses(
    spec: dict, nudge: tuple[int, int, int, float] | None = None, after: bool = False
) -> np.ndarray:
    """Each example's loss; `nudge` = (layer, neuron, example, eps) adds eps to one z (1-based),
    or with `after` to that neuron's activation a."""
    x = np.atleast_2d(np.array(spec["inputs"], dtype=float))
    t = np.atleast_2d(np.array(spec["targets"], dtype=float))
    acts = spec["activations"]
    if isinstance(acts, str):
        acts = [acts] * (len(spec["layers"]) - 1)
    a = x
    for l, (w, act) in enumerate(zip(spec["weights"], acts, strict=True), start=1):
        z = a @ np.array(w, dtype=float)
        if spec.get("bias", "per_neuron") == "per_neuron":
            z = z + np.array(spec["biases"][l - 1])
        elif spec["bias"] == "shared":
            z = z + spec["biases"][l - 1]
        if nudge and nudge[0] == l and not after:
            z = z.copy()
            z[nudge[2] - 1, nudge[1] - 1] += nudge[3]
        a = ACT[act](z)
        if nudge and nudge[0] == l and after:
            a = a.copy()
            a[nudge[2] - 1, nudge[1] - 1] += nudge[3]
    k = t.shape[1]
    match spec.get("loss", "half_sse"):
        case "half_sse":
            return 0.5 * ((a - t) ** 2).sum(axis=1)
        case "sse":
            return ((a - t) ** 2).sum(axis=1)
        case "mse":
            return ((a - t) ** 2).sum(axis=1) / k
        case "bce":
            return -(t * np.log(a) + (1 - t) * np.log(1 - a)).sum(axis=1) / k
        case "cross_entropy":
            return -(t * np.log(a)).sum(axis=1)
    raise ValueError(spec["loss"])


def batch_loss(spec: dict) -> float:
    """The batch's loss: the mean of the examples' losses, or their sum (batch_reduction)."""
    losses = example_losses(spec)
    return float(losses.sum() if spec.get("batch_reduction") == "sum" else losses.mean())
