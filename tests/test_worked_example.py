"""Worked examples whose numbers were computed by hand (or published), not by bpquiz."""

from __future__ import annotations

import math

import pytest

from bpquiz.maths.notation import Notation
from bpquiz.maths.rounding import Rounding
from bpquiz.maths.solution import Solution
from bpquiz.maths.spec import parse_problem

# Matt Mazur's "A Step by Step Backpropagation Example" (2-2-2 sigmoid net, half squared error),
# with the values published there. His w1..w8 map to W⁽¹⁾ = [[w1, w3], [w2, w4]] and
# W⁽²⁾ = [[w5, w7], [w6, w8]] in the from × to layout.
MAZUR = {
    "layers": [2, 2, 2],
    "activations": "sigmoid",
    "loss": "half_sse",
    "learning_rate": 0.5,
    "inputs": [0.05, 0.10],
    "targets": [0.01, 0.99],
    "weights": [[[0.15, 0.25], [0.20, 0.30]], [[0.40, 0.50], [0.45, 0.55]]],
    "biases": [[0.35, 0.35], [0.60, 0.60]],
}


def test_mazur_published_values():
    v = Solution(parse_problem(MAZUR)).values
    assert v["z1_1"] == pytest.approx(0.3775, abs=1e-12)  # 0.15·0.05 + 0.2·0.1 + 0.35
    assert v["a1_1"] == pytest.approx(0.593269992, abs=1e-9)
    assert v["a1_2"] == pytest.approx(0.596884378, abs=1e-9)
    assert v["z2_1"] == pytest.approx(1.105905967, abs=1e-9)
    assert v["a2_1"] == pytest.approx(0.75136507, abs=1e-8)
    assert v["a2_2"] == pytest.approx(0.772928465, abs=1e-9)
    assert v["loss"] == pytest.approx(0.298371109, abs=1e-9)
    assert v["delta2_1"] == pytest.approx(0.138498562, abs=1e-9)
    assert v["grad_w2_1_1"] == pytest.approx(0.082167041, abs=1e-9)
    assert v["w_new2_1_1"] == pytest.approx(0.35891648, abs=1e-8)  # w5⁺
    assert v["w_new2_2_1"] == pytest.approx(0.408666186, abs=1e-9)  # w6⁺
    assert v["w_new2_1_2"] == pytest.approx(0.511301270, abs=1e-9)  # w7⁺
    assert v["w_new2_2_2"] == pytest.approx(0.561370121, abs=1e-9)  # w8⁺
    assert v["grad_w1_1_1"] == pytest.approx(0.000438568, abs=1e-9)
    assert v["w_new1_1_1"] == pytest.approx(0.149780716, abs=1e-9)  # w1⁺
    assert v["w_new1_2_1"] == pytest.approx(0.19956143, abs=1e-8)  # w2⁺
    assert v["w_new1_1_2"] == pytest.approx(0.24975114, abs=1e-8)  # w3⁺
    assert v["w_new1_2_2"] == pytest.approx(0.29950229, abs=1e-8)  # w4⁺


def test_chain_by_hand():
    # x = 1, w1 = 0.5, w2 = -1, one bias per neuron b1 = 0, b2 = 0.5, t = 1, η = 1.
    spec = {
        "layers": [1, 1, 1],
        "activations": "sigmoid",
        "learning_rate": 1,
        "inputs": [1.0],
        "targets": [1.0],
        "weights": [[[0.5]], [[-1.0]]],
        "biases": [[0.0], [0.5]],
    }
    v = Solution(parse_problem(spec)).values
    h = 1 / (1 + math.exp(-0.5))  # z1 = 1·0.5 + 0 = 0.5
    assert v["a1_1"] == pytest.approx(0.6224593312, abs=1e-10)
    assert h == pytest.approx(0.6224593312, abs=1e-10)
    z2 = -0.6224593312 + 0.5  # = -0.1224593312
    y = 1 / (1 + math.exp(0.1224593312))  # e^0.12246 ≈ 1.1302736, so y ≈ 1/2.1302736
    assert v["z2_1"] == pytest.approx(z2, abs=1e-10)
    assert v["a2_1"] == pytest.approx(0.4694233690, abs=1e-9)
    assert v["loss"] == pytest.approx(0.5 * (y - 1) ** 2, abs=1e-12)
    d2 = (0.4694233690 - 1) * 0.4694233690 * (1 - 0.4694233690)  # ≈ -0.1321481
    assert v["delta2_1"] == pytest.approx(d2, abs=1e-9)
    d1 = d2 * -1.0 * 0.6224593312 * (1 - 0.6224593312)  # back through w2 = -1, then σ′
    assert v["delta1_1"] == pytest.approx(d1, abs=1e-9)
    assert v["w_new2_1_1"] == pytest.approx(-1.0 - 1 * d2 * 0.6224593312, abs=1e-9)
    assert v["w_new1_1_1"] == pytest.approx(0.5 - d1 * 1.0, abs=1e-9)
    assert v["b_new2_1"] == pytest.approx(0.5 - d2, abs=1e-9)


def test_worked_step_reads_like_the_textbook():
    solution = Solution(parse_problem(MAZUR))
    notation = Notation(2, 1)
    step = solution.step("delta2_1", notation, Rounding())
    assert step.symbol == "δ⁽²⁾₁"
    assert step.formula == "(a⁽²⁾₁ − t₁)·a⁽²⁾₁·(1 − a⁽²⁾₁)"
    assert step.substituted == "(0.7514 − 0.01)·0.7514·(1 − 0.7514)"
    assert step.result == "0.1385"
    hidden = solution.step("delta1_1", notation, Rounding())
    assert hidden.formula == "(δ⁽²⁾₁·W⁽²⁾₁₁ + δ⁽²⁾₂·W⁽²⁾₁₂)·a⁽¹⁾₁·(1 − a⁽¹⁾₁)"
    assert hidden.substituted == "(0.1385·0.4 + (−0.0381)·0.5)·0.5933·(1 − 0.5933)"
    update = solution.step("w_new2_1_1", notation, Rounding())
    assert update.substituted == "0.4 − 0.5·0.0822"
    assert update.result == "0.3589"


def _calculator(line: str) -> float:
    """Evaluate a worked line as a student's calculator would: the printed numbers, nothing else."""
    import re

    text = line.replace("·", "*").replace("−", "-").replace("½", "0.5").replace("²", "**2")
    text = re.sub(r"relu′\(", "relu_slope(", text)
    text = re.sub(r"lrelu′\(", "lrelu_slope(", text)
    names = {
        "σ": lambda z: 1 / (1 + math.exp(-z)),
        "tanh": math.tanh,
        "relu": lambda z: max(z, 0.0),
        "lrelu": lambda z: z if z > 0 else 0.01 * z,
        "relu_slope": lambda z: 1.0 if z > 0 else 0.0,
        "lrelu_slope": lambda z: 1.0 if z > 0 else 0.01,
        "exp": math.exp,
        "ln": math.log,
    }
    text = text.replace("σ(", "sigma(")
    names["sigma"] = names.pop("σ")
    return eval(text, {"__builtins__": {}}, names)


@pytest.mark.parametrize("preset", ["classic", "batch", "softmax", "deep", "chain"])
def test_every_worked_line_adds_up_on_a_calculator(preset):
    from bpquiz.exercises.draw import customise, make_variants

    settings = customise(preset)
    rounding = settings.rounding
    for variant in make_variants(settings, seed=11, count=4):
        s = variant.solution
        notation = Notation(s.problem.depth, s.problem.examples)
        for q in s.computed():
            step = s.step(q.id, notation, rounding)
            shown = float(step.result.replace("−", "-"))
            assert rounding.round(_calculator(step.substituted)) == pytest.approx(shown), (
                q.id,
                step,
            )
