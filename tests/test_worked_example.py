"""Worked examples whose numbers were computed by hand (or published), not by bpquiz."""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import pytest

from bpquiz.exercises.draw import PRESETS, customise, make_variants
from bpquiz.maths.notation import make_notation
from bpquiz.maths.rounding import Mode, Rounding
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


# Han, Kamber & Pei, "Data Mining: Concepts and Techniques" (3rd ed.), Example 9.1 (figure 9.5,
# tables 9.1–9.3): a 3-2-1 sigmoid net trained on x = (1, 0, 1) with target 1 and l = 0.9, in the
# error-term convention Err = O(1 − O)(T − O), w += l·Err·O, θ += l·Err. Neurons 4, 5 are the
# hidden ones and 6 the output; w14 is W⁽¹⁾₁₁, w46 is W⁽²⁾₁₁, θ4 is b⁽¹⁾₁. Published to 3 or 4 places.
HAN_KAMBER = {
    "layers": [3, 2, 1],
    "activations": "sigmoid",
    "loss": "half_sse",
    "delta_sign": "error",
    "learning_rate": 0.9,
    "inputs": [1, 0, 1],
    "targets": [1],
    "weights": [[[0.2, -0.3], [0.4, 0.1], [-0.5, 0.2]], [[-0.3], [-0.2]]],
    "biases": [[-0.4, 0.2], [0.1]],
}


def test_han_kamber_published_values_in_the_error_convention():
    v = Solution(parse_problem(HAN_KAMBER)).values
    published = {
        "z1_1": -0.7,  # net input I4
        "z1_2": 0.1,  # I5
        "a1_1": 0.332,  # O4
        "a1_2": 0.525,  # O5
        "z2_1": -0.105,  # I6
        "a2_1": 0.474,  # O6
        "delta2_1": 0.1311,  # Err6
        "delta1_2": -0.0065,  # Err5
        "delta1_1": -0.0087,  # Err4
        "w_new2_1_1": -0.261,  # w46
        "w_new2_2_1": -0.138,  # w56
        "w_new1_1_1": 0.192,  # w14
        "w_new1_1_2": -0.306,  # w15
        "w_new1_2_1": 0.4,  # w24
        "w_new1_2_2": 0.1,  # w25
        "w_new1_3_1": -0.508,  # w34
        "w_new1_3_2": 0.194,  # w35
        "b_new2_1": 0.218,  # θ6
        "b_new1_2": 0.194,  # θ5
        "b_new1_1": -0.408,  # θ4
    }
    for qid, value in published.items():
        # The book reuses rounded intermediates (its Err6 comes from O6 = 0.474): within one unit
        # of the last digit it prints.
        places = len(str(value).split(".")[1])
        assert abs(v[qid] - value) <= 10**-places, (qid, v[qid])
    # The update adds η·δ·a, which is w − η·∂L/∂w with ∂L/∂w = −δ·a.
    assert v["grad_w2_1_1"] == pytest.approx(-v["delta2_1"] * v["a1_1"])


def test_error_terms_are_the_gradient_deltas_negated():
    """The same problem in both conventions: δ changes sign, the gradients and updates don't."""
    error = Solution(parse_problem(HAN_KAMBER)).values
    gradient = Solution(parse_problem({**HAN_KAMBER, "delta_sign": "gradient"})).values
    for qid, value in gradient.items():
        expected = -value if qid.startswith("delta") else value
        assert error[qid] == pytest.approx(expected, rel=1e-12, abs=1e-15), qid


def test_error_convention_worked_lines_read_as_mitchell_writes_them():
    s = Solution(parse_problem(HAN_KAMBER))
    rule = Rounding(Mode.DECIMALS, 4)
    notation = make_notation("layered", 2, 1)
    assert s.step("delta2_1", notation, rule).formula == "(t₁ − a⁽²⁾₁)·a⁽²⁾₁·(1 − a⁽²⁾₁)"
    assert s.step("grad_w2_1_1", notation, rule).formula == "−(δ⁽²⁾₁·a⁽¹⁾₁)"
    assert s.step("w_new2_1_1", notation, rule).formula == "W⁽²⁾₁₁ − η·∂L/∂W⁽²⁾₁₁"


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
    notation = make_notation("layered", 2, 1)
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


def _calculator(line: str) -> Fraction:
    """Evaluate a worked line as a student's calculator would: the printed numbers, nothing else,
    exactly (σ, tanh, exp and ln to 60 digits, with Python's decimal module)."""

    def decimal_of(function):
        def call(x: Fraction) -> Fraction:
            with localcontext() as context:
                context.prec = 60
                return Fraction(function(Decimal(x.numerator) / Decimal(x.denominator)))

        return call

    names = {
        "sigma": decimal_of(lambda z: 1 / (1 + (-z).exp())),
        "tanh": decimal_of(lambda z: ((2 * z).exp() - 1) / ((2 * z).exp() + 1)),
        "exp": decimal_of(lambda z: z.exp()),
        "ln": decimal_of(lambda z: z.ln()),
        "relu": lambda z: max(z, Fraction(0)),
        "lrelu": lambda z: z if z > 0 else Fraction(1, 100) * z,
        "relu_slope": lambda z: Fraction(1) if z > 0 else Fraction(0),
        "lrelu_slope": lambda z: Fraction(1) if z > 0 else Fraction(1, 100),
        "F": Fraction,
    }
    text = line.replace("·", "*").replace("−", "-").replace("½", "F(1, 2)").replace("²", "**2")
    text = text.replace("relu′(", "relu_slope(").replace("lrelu′(", "lrelu_slope(")
    text = text.replace("σ(", "sigma(")
    text = re.sub(r"(?<![\w.])(\d+(?:\.\d+)?)", r"F('\1')", text)
    return eval(text, {"__builtins__": {}}, names)


def _calculator_rounds(value: Fraction, rounding: Rounding) -> str:
    """`value` rounded half away from zero as the sheet's rule says, written as a sheet does:
    independently of bpquiz's own rounding (Decimal's ROUND_HALF_UP). A zero (a ReLU's output for
    z < 0) has no significant figures: it is written 0."""
    if value == 0 and rounding.mode is Mode.SIGFIGS:
        return "0"
    with localcontext() as context:
        context.prec = 120
        number = Decimal(value.numerator) / Decimal(value.denominator)
        if rounding.mode is Mode.DECIMALS:
            places = rounding.digits
        else:
            places = rounding.digits - 1 - number.copy_abs().adjusted()
        rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        if (
            rounding.mode is Mode.SIGFIGS
            and rounded.copy_abs().adjusted() > number.copy_abs().adjusted()
        ):
            places -= 1  # 9.996 → 10.0 to three figures
            rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        text = f"{rounded:f}"
    if not text.lstrip("-").strip("0."):
        text = text.lstrip("-")  # a zero has no sign
    return text.replace("-", "−")


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_worked_line_adds_up_on_a_calculator(preset):
    """Every worked line of every preset, over 60 variants each (and three rounding rules for some):
    its printed numbers, evaluated exactly and rounded half away from zero, give the printed result."""
    rules = [Rounding()] + (
        [Rounding(Mode.DECIMALS, 8), Rounding(Mode.SIGFIGS, 3)]
        if preset in ("classic", "softmax")
        else []
    )
    for rounding in rules:
        settings = customise(preset, rounding=rounding)
        for variant in make_variants(settings, seed=11, count=60 if len(rules) == 1 else 20):
            s = variant.solution
            notation = make_notation("layered", s.problem.depth, s.problem.examples)
            for q in s.computed():
                step = s.step(q.id, notation, rounding)
                assert _calculator_rounds(_calculator(step.substituted), rounding) == step.result, (
                    q.id,
                    step,
                )


def test_ties_round_as_a_calculator_does():
    """Three lines a float rounds the wrong way: exact decimal ties go away from zero, as on a
    calculator (bpquiz's rounding of the exact value, and the independent calculator's)."""
    for line, rule, printed in [
        ("(−0.48) − 0.25·(−0.0762)", Rounding(), "−0.4610"),
        ("0.0185·(−0.3)", Rounding(), "−0.0056"),
        ("0.15 − 0.5·0.00043857", Rounding(Mode.DECIMALS, 8), "0.14978072"),
    ]:
        assert _calculator_rounds(_calculator(line), rule) == printed
        assert rule.format(_calculator(line)) == printed


def test_the_solution_diagram_shows_the_steps_numbers():
    from bpquiz.sheets.context import solution_context
    from bpquiz.sheets.options import SheetOptions

    settings = customise("classic")
    for variant in make_variants(settings, seed=5, count=10):
        context = solution_context(variant, settings, SheetOptions())
        results = {
            f"{step['symbol']} = {step['result']}"
            for section in context["sections"]
            for step in section["steps"]
        }
        shown = re.findall(r">([zaδ][^<]*? = −?[0-9.]+)</text>", str(context["diagram"]))
        assert shown and set(shown) <= results, set(shown) - results
