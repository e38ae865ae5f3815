"""The problem a teacher (or the generator) describes: the network, its numbers and one training step."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np

from bpquiz.errors import BpquizError
from bpquiz.maths.functions import ACTIVATIONS, LOSSES

BIAS_MODES = ("per_neuron", "shared", "none")
DELTA_SIGNS = ("gradient", "error")
"""gradient: δ = ∂L/∂z, w′ = w − η·∂L/∂w (the default); error: δ = −∂L/∂z = (t − y)·f′(z) at the
output and w′ = w + η·δ·a (Mitchell's Machine Learning, Han & Kamber)."""
REDUCTIONS = ("mean", "sum")
"""How a mini-batch's examples combine: the mean of their losses and gradients, or the sum."""
MAX_NEURONS = 9
MAX_LAYERS = 6
MAX_EXAMPLES = 8
MAX_GIVEN = 1_000_000
"""The largest size of a number a spec gives (an input, target, weight or bias): exam numbers are
a few units; what is computed from them is held to bpquiz.maths.solution.MAX_VALUE."""
FIELDS = (
    "layers",
    "activations",
    "loss",
    "learning_rate",
    "bias",
    "delta_sign",
    "batch_reduction",
    "inputs",
    "targets",
    "weights",
    "biases",
)


class SpecError(BpquizError):
    """A problem description that can't be solved; the message names the field and what was expected."""

    def __init__(self, message: str, field: str | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.field = field
        """The field at fault, as 'activations[0]', where the message names one."""
        self.detail = detail
        """What is wrong with it, 'expected …, got …', for a caller that names it otherwise (an
        option that set the field)."""


@dataclass(frozen=True, eq=False)
class Problem:
    layers: tuple[int, ...]
    activations: tuple[str, ...]
    """One per non-input layer: activations[l - 1] belongs to layer l."""
    loss: str
    learning_rate: float
    bias: str
    inputs: np.ndarray
    """Shape (examples, n_0)."""
    targets: np.ndarray
    """Shape (examples, n_L)."""
    weights: tuple[np.ndarray, ...]
    """weights[l - 1][i - 1, j - 1] connects neuron i of layer l − 1 to neuron j of layer l."""
    biases: tuple[np.ndarray, ...]
    """biases[l - 1]: n_l values (per_neuron), one value (shared) or none."""
    delta_sign: str = "gradient"
    batch_reduction: str = "mean"

    @property
    def depth(self) -> int:
        """L, the index of the output layer."""
        return len(self.layers) - 1

    @property
    def examples(self) -> int:
        return self.inputs.shape[0]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "layers": list(self.layers),
            "activations": list(self.activations),
            "loss": self.loss,
            "learning_rate": self.learning_rate,
            "bias": self.bias,
            "delta_sign": self.delta_sign,
            "batch_reduction": self.batch_reduction,
            "inputs": self.inputs.tolist(),
            "targets": self.targets.tolist(),
            "weights": [w.tolist() for w in self.weights],
        }
        if self.bias == "per_neuron":
            data["biases"] = [b.tolist() for b in self.biases]
        elif self.bias == "shared":
            data["biases"] = [float(b[0]) for b in self.biases]
        return data


def load_problem(path: Path) -> Problem:
    """Read and check a spec file; every problem is reported as a SpecError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read the file ({exc.__class__.__name__})") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise SpecError(f"{path}: not valid JSON ({exc})") from None
    return parse_problem(data, source=str(path))


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_problem(data: object, source: str = "spec") -> Problem:
    """Check a decoded spec and build the Problem, or raise SpecError('<source>: field …: expected …')."""
    check = _Checker(source)
    if not isinstance(data, dict):
        raise check.error(None, "a JSON object with the fields " + ", ".join(FIELDS), data)
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise SpecError(
            f"{source}: unknown field '{unknown[0]}' (the fields are: {', '.join(FIELDS)})"
        )
    for name in ("layers", "inputs", "targets", "weights"):
        if name not in data:
            raise SpecError(f"{source}: field '{name}' is missing")

    layers = data["layers"]
    if (
        not isinstance(layers, list)
        or not 3 <= len(layers) <= MAX_LAYERS
        or not all(_is_int(n) and 1 <= n <= MAX_NEURONS for n in layers)
    ):
        raise check.error(
            "layers",
            f"a list of 3 to {MAX_LAYERS} neuron counts, each 1 to {MAX_NEURONS} "
            "(inputs first, e.g. [2, 3, 2])",
            layers,
        )
    layers = tuple(int(n) for n in layers)
    depth = len(layers) - 1

    activations = data.get("activations", "sigmoid")
    if isinstance(activations, str):
        activations = [activations] * depth
    if not isinstance(activations, list) or len(activations) != depth:
        raise check.error(
            "activations",
            f"one activation name or a list of {depth} (one per layer after the inputs)",
            activations,
        )
    for l, name in enumerate(activations, start=1):
        if not isinstance(name, str) or name not in ACTIVATIONS:
            raise check.error(f"activations[{l - 1}]", "one of " + ", ".join(ACTIVATIONS), name)
        if name == "softmax" and l < depth:
            raise check.error(f"activations[{l - 1}]", "softmax only on the output layer", name)
    activations = tuple(activations)
    output = activations[-1]

    loss = data.get("loss", "half_sse")
    if not isinstance(loss, str) or loss not in LOSSES:
        raise check.error("loss", "one of " + ", ".join(LOSSES), loss)
    if output == "softmax" and loss != "cross_entropy":
        raise check.error("loss", "cross_entropy with a softmax output layer", loss)
    if loss == "cross_entropy" and output != "softmax":
        raise check.error(
            "activations", "softmax on the output layer for the cross_entropy loss", output
        )
    if output == "softmax" and layers[-1] < 2:
        raise check.error("layers", "at least 2 outputs for softmax", list(layers))
    if loss == "bce" and output != "sigmoid":
        raise check.error("activations", "sigmoid on the output layer for the bce loss", output)

    rate = data.get("learning_rate", 0.5)
    if not _is_number(rate) or not 0 < rate <= 10:
        raise check.error("learning_rate", "a number greater than 0 (and at most 10)", rate)

    bias = data.get("bias", "per_neuron")
    if not isinstance(bias, str) or bias not in BIAS_MODES:
        raise check.error("bias", "one of " + ", ".join(BIAS_MODES), bias)
    delta_sign = data.get("delta_sign", "gradient")
    if not isinstance(delta_sign, str) or delta_sign not in DELTA_SIGNS:
        raise check.error("delta_sign", "one of " + ", ".join(DELTA_SIGNS), delta_sign)
    reduction = data.get("batch_reduction", "mean")
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise check.error("batch_reduction", "one of " + ", ".join(REDUCTIONS), reduction)

    inputs = check.rows("inputs", data["inputs"], layers[0])
    targets = check.rows("targets", data["targets"], layers[-1])
    if len(targets) != len(inputs):
        raise SpecError(
            f"{source}: field 'targets': expected one row per input row ({len(inputs)}), "
            f"got {len(targets)}"
        )
    if loss == "bce" and not np.all((targets >= 0) & (targets <= 1)):
        raise check.error("targets", "values between 0 and 1 for the bce loss", targets.tolist())
    if loss == "cross_entropy" and (
        np.any(targets < 0) or np.any(np.abs(targets.sum(axis=1) - 1) > 1e-9)
    ):
        raise check.error(
            "targets",
            "probabilities for cross_entropy: each row ≥ 0 and summing to 1 (e.g. one-hot)",
            targets.tolist(),
        )

    weights = data["weights"]
    if not isinstance(weights, list) or len(weights) != depth:
        raise check.error("weights", f"a list of {depth} weight matrices", weights)
    weights = tuple(
        check.matrix(f"weights[{l - 1}]", weights[l - 1], layers[l - 1], layers[l])
        for l in range(1, depth + 1)
    )

    biases = data.get("biases")
    if bias == "none":
        if biases is not None:
            raise check.error("biases", 'no biases (or null) when "bias" is "none"', biases)
        bias_arrays = tuple(np.zeros(0) for _ in range(depth))
    else:
        if biases is None:
            raise SpecError(f'{source}: field \'biases\' is missing (or set "bias": "none")')
        if not isinstance(biases, list) or len(biases) != depth:
            raise check.error("biases", f"a list of {depth} entries, one per layer", biases)
        if bias == "shared":
            bias_arrays = tuple(
                np.array([check.number(f"biases[{l}]", b)]) for l, b in enumerate(biases)
            )
        else:
            bias_arrays = tuple(
                check.vector(f"biases[{l - 1}]", biases[l - 1], layers[l])
                for l in range(1, depth + 1)
            )

    return Problem(
        layers=layers,
        activations=activations,
        loss=loss,
        learning_rate=float(rate),
        bias=bias,
        inputs=inputs,
        targets=targets,
        weights=weights,
        biases=bias_arrays,
        delta_sign=delta_sign,
        batch_reduction=reduction,
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and abs(value) <= MAX_GIVEN  # first: math.isfinite(10**400) is an OverflowError
        and math.isfinite(value)
    )


def _short(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, np.ndarray) else str(value.tolist())
    return text if len(text) <= 60 else text[:57] + "..."


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, field: str | None, expected: str, got: object) -> SpecError:
        where = f"field '{field}': " if field else ""
        detail = f"expected {expected}, got {_short(got)}"
        return SpecError(f"{self.source}: {where}{detail}", field, detail)

    def number(self, field: str, value: object) -> float:
        if not _is_number(value):
            raise self.error(field, f"a number of size at most {MAX_GIVEN}", value)
        return float(value)

    def vector(self, field: str, value: object, n: int) -> np.ndarray:
        if not isinstance(value, list) or len(value) != n:
            raise self.error(field, f"a list of {n} numbers", value)
        return np.array([self.number(f"{field}[{i}]", v) for i, v in enumerate(value)])

    def matrix(self, field: str, value: object, rows: int, cols: int) -> np.ndarray:
        if not isinstance(value, list) or len(value) != rows:
            raise self.error(field, f"{rows} rows of {cols} numbers (from-layer × to-layer)", value)
        return np.array([self.vector(f"{field}[{i}]", row, cols) for i, row in enumerate(value)])

    def rows(self, field: str, value: object, n: int) -> np.ndarray:
        """One row per example; a flat list is one example."""
        if isinstance(value, list) and value and not isinstance(value[0], list):
            value = [value]
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_EXAMPLES:
            raise self.error(field, f"1 to {MAX_EXAMPLES} rows of {n} numbers", value)
        return np.array([self.vector(f"{field}[{e}]", row, n) for e, row in enumerate(value)])
