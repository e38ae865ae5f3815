"""bpquiz's deltas and gradients against central finite differences of an independent loss."""

from __future__ import annotations

import copy
import itertools
import zlib

import numpy as np
import pytest
from reference import ACT, batch_loss, example_losses

from bpquiz.maths.solution import Solution
from bpquiz.maths.spec import parse_problem

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "linear"]
OUTPUT_LOSS = [
    *((act, loss) for act in HIDDEN for loss in ("half_sse", "sse", "mse")),
    ("sigmoid", "bce"),
    ("softmax", "cross_entropy"),
]
EPS = 1e-6


def random_spec(rng, hidden, output, loss, bias, examples, layers=None):
    layers = layers or [int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(2, 4))]
    spec = {
        "layers": layers,
        "activations": [hidden] * (len(layers) - 2) + [output],
        "loss": loss,
        "learning_rate": 0.5,
        "bias": bias,
        "inputs": rng.uniform(-1, 1, (examples, layers[0])).tolist(),
        "weights": [rng.uniform(-1, 1, (m, n)).tolist() for m, n in itertools.pairwise(layers)],
    }
    k = layers[-1]
    if loss == "cross_entropy":
        spec["targets"] = rng.dirichlet(np.ones(k), examples).tolist()
    elif loss == "bce":
        spec["targets"] = rng.uniform(0, 1, (examples, k)).tolist()
    else:
        spec["targets"] = rng.uniform(-1, 1, (examples, k)).tolist()
    if bias == "per_neuron":
        spec["biases"] = [rng.uniform(-0.5, 0.5, n).tolist() for n in layers[1:]]
    elif bias == "shared":
        spec["biases"] = rng.uniform(-0.5, 0.5, len(layers) - 1).tolist()
    return spec


def central(f, spec, setter):
    plus, minus = copy.deepcopy(spec), copy.deepcopy(spec)
    setter(plus, EPS)
    setter(minus, -EPS)
    return (f(plus) - f(minus)) / (2 * EPS)


def close(exact, approx):
    assert abs(exact - approx) <= 1e-6 * abs(approx) + 1e-8, (exact, approx)


def near_kink(solution):
    """ReLU derivatives jump at z = 0: a finite difference across the kink means nothing."""
    return any(
        q.kind == "z" and abs(solution.values[q.id]) < 1e-3 for q in solution.quantities.values()
    )


CASES = [
    (hidden, output, loss, bias, examples, "gradient", "mean")
    for hidden in HIDDEN
    for output, loss in OUTPUT_LOSS
    for bias in ("per_neuron", "shared", "none")
    for examples in (1, 3)
] + [
    # Each convention with every loss, over mini-batches and both bias modes.
    (hidden, output, loss, bias, 3, sign, reduction)
    for hidden in ("sigmoid", "tanh", "relu")
    for output, loss in [
        ("sigmoid", "half_sse"),
        ("linear", "sse"),
        ("tanh", "mse"),
        ("sigmoid", "bce"),
        ("softmax", "cross_entropy"),
    ]
    for bias in ("per_neuron", "shared")
    for sign, reduction in (("error", "mean"), ("gradient", "sum"), ("error", "sum"))
]


@pytest.mark.parametrize(
    ("hidden", "output", "loss", "bias", "examples", "sign", "reduction"), CASES
)
def test_every_gradient_matches_finite_differences(
    hidden, output, loss, bias, examples, sign, reduction
):
    """∂L/∂w, ∂L/∂b and the loss against finite differences of the batch's loss (mean or sum);
    δ against those of its example's own loss (minus them for error terms); with the intermediate
    steps ∂L/∂a and f′(z) against finite differences of the loss in a, and of the activation."""
    seed = zlib.crc32(f"{hidden}{output}{loss}{bias}{examples}{sign}{reduction}".encode())
    rng = np.random.default_rng(seed)
    for _ in range(20):
        spec = random_spec(rng, hidden, output, loss, bias, examples)
        spec |= {"delta_sign": sign, "batch_reduction": reduction}
        solution = Solution(parse_problem(spec), intermediates=True)
        if not near_kink(solution):
            break
    values = solution.values
    direction = -1 if sign == "error" else 1
    checked = 0
    for q in solution.computed():
        if q.kind == "grad_w":

            def nudge_w(s, eps, q=q):
                s["weights"][q.layer - 1][q.source - 1][q.target - 1] += eps

            close(values[q.id], central(batch_loss, spec, nudge_w))
        elif q.kind == "grad_b" and bias == "per_neuron":

            def nudge_b(s, eps, q=q):
                s["biases"][q.layer - 1][q.neuron - 1] += eps

            close(values[q.id], central(batch_loss, spec, nudge_b))
        elif q.kind == "grad_b":

            def nudge_shared(s, eps, q=q):
                s["biases"][q.layer - 1] += eps

            close(values[q.id], central(batch_loss, spec, nudge_shared))
        elif q.kind == "delta":
            # δ is ∂L/∂z of the example's own loss.
            e = q.example or 1

            def example_loss(s, q=q, e=e):
                return example_losses(s, s["_nudge"])[e - 1]

            plus = {**spec, "_nudge": (q.layer, q.neuron, e, EPS)}
            minus = {**spec, "_nudge": (q.layer, q.neuron, e, -EPS)}
            fd = (example_loss(plus) - example_loss(minus)) / (2 * EPS)
            close(values[q.id], direction * fd)
        elif q.kind == "grad_a":
            e = q.example or 1
            nudged = [
                example_losses(spec, (q.layer, q.neuron, e, step), after=True)[e - 1]
                for step in (EPS, -EPS)
            ]
            close(values[q.id], (nudged[0] - nudged[1]) / (2 * EPS))
        elif q.kind == "dact":
            z = values[q.id.replace("dact", "z", 1)]
            act = ACT[spec["activations"][q.layer - 1]]
            close(values[q.id], (act(z + EPS) - act(z - EPS)) / (2 * EPS))
        elif q.kind == "loss":
            expected = (
                batch_loss(spec) if q.example is None else example_losses(spec)[q.example - 1]
            )
            close(values[q.id], expected)
        else:
            continue
        checked += 1
    assert checked >= 4


def test_deeper_network_gradients():
    rng = np.random.default_rng(7)
    spec = random_spec(rng, "tanh", "sigmoid", "half_sse", "per_neuron", 2, layers=[3, 2, 3, 2, 2])
    solution = Solution(parse_problem(spec))
    for q in solution.computed():
        if q.kind == "grad_w":

            def nudge(s, eps, q=q):
                s["weights"][q.layer - 1][q.source - 1][q.target - 1] += eps

            close(solution.values[q.id], central(batch_loss, spec, nudge))


def test_update_subtracts_learning_rate_times_gradient():
    rng = np.random.default_rng(3)
    spec = random_spec(rng, "sigmoid", "sigmoid", "half_sse", "per_neuron", 2)
    solution = Solution(parse_problem(spec))
    v = solution.values
    eta = spec["learning_rate"]
    for q in solution.computed():
        if q.kind == "w_new":
            old = spec["weights"][q.layer - 1][q.source - 1][q.target - 1]
            grad = v[f"grad_w{q.layer}_{q.source}_{q.target}"]
            assert v[q.id] == pytest.approx(old - eta * grad, rel=1e-15, abs=1e-15)
        if q.kind == "b_new":
            old = spec["biases"][q.layer - 1][q.neuron - 1]
            assert v[q.id] == pytest.approx(old - eta * v[f"grad_b{q.layer}_{q.neuron}"])


def test_hidden_deltas_use_the_weights_before_the_update():
    spec = random_spec(
        np.random.default_rng(5), "sigmoid", "sigmoid", "half_sse", "none", 1, [2, 2, 2]
    )
    v = Solution(parse_problem(spec)).values
    w2 = spec["weights"][1]
    for j in (1, 2):
        back_old = sum(v[f"delta2_{k}"] * w2[j - 1][k - 1] for k in (1, 2))
        back_new = sum(v[f"delta2_{k}"] * v[f"w_new2_{j}_{k}"] for k in (1, 2))
        slope = v[f"a1_{j}"] * (1 - v[f"a1_{j}"])
        assert v[f"delta1_{j}"] == pytest.approx(back_old * slope, rel=1e-12)
        assert v[f"delta1_{j}"] != pytest.approx(back_new * slope, rel=1e-6)


def test_shared_bias_gradient_is_the_sum_over_the_layer():
    spec = random_spec(
        np.random.default_rng(11), "tanh", "sigmoid", "half_sse", "shared", 2, [2, 3, 2]
    )
    shared = Solution(parse_problem(spec)).values
    per_neuron = {
        **spec,
        "bias": "per_neuron",
        "biases": [[b] * n for b, n in zip(spec["biases"], spec["layers"][1:], strict=True)],
    }
    separate = Solution(parse_problem(per_neuron)).values
    assert shared["grad_b1"] == pytest.approx(sum(separate[f"grad_b1_{j}"] for j in (1, 2, 3)))
    assert shared["grad_b2"] == pytest.approx(sum(separate[f"grad_b2_{k}"] for k in (1, 2)))
    assert shared["z1_1_e1"] == pytest.approx(separate["z1_1_e1"])


def test_batch_gradient_is_the_mean_of_the_example_gradients():
    spec = random_spec(
        np.random.default_rng(13), "sigmoid", "sigmoid", "half_sse", "per_neuron", 3, [2, 2, 1]
    )
    batch = Solution(parse_problem(spec)).values
    singles = [
        Solution(parse_problem({**spec, "inputs": [x], "targets": [t]})).values
        for x, t in zip(spec["inputs"], spec["targets"], strict=True)
    ]
    for qid in ("grad_w1_2_1", "grad_w2_1_1", "grad_b1_1", "grad_b2_1"):
        assert batch[qid] == pytest.approx(np.mean([s[qid] for s in singles]), rel=1e-12)
    assert batch["loss"] == pytest.approx(np.mean([s["loss"] for s in singles]), rel=1e-12)
