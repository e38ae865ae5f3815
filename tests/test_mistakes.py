"""Each catalogued mistake gives what a student making it would write (computed here by hand)."""

from __future__ import annotations

import pytest
from test_worked_example import MAZUR

from bpquiz.exercises.draw import PRESETS, customise, indistinguishable, make_variants
from bpquiz.exercises.key import quantity_entries
from bpquiz.maths.ids import KINDS
from bpquiz.maths.mistakes import CATALOGUE
from bpquiz.maths.notation import make_notation
from bpquiz.maths.solution import Solution
from bpquiz.maths.spec import parse_problem


@pytest.fixture(scope="module")
def mazur():
    return Solution(parse_problem(MAZUR))


def made(solution, qid, code):
    return sorted(solution.mistake_values(qid, solution.values)[code])


def test_update_mistakes(mazur):
    v = mazur.values
    g = v["grad_w2_1_1"]
    assert made(mazur, "w_new2_1_1", "update_sign") == pytest.approx([0.4 + 0.5 * g])
    assert made(mazur, "w_new2_1_1", "no_learning_rate") == pytest.approx([0.4 - g])
    assert made(mazur, "b_new1_2", "update_sign") == pytest.approx([0.35 + 0.5 * v["grad_b1_2"]])


def test_delta_mistakes(mazur):
    v = mazur.values
    a, z, t = v["a2_1"], v["z2_1"], 0.01
    assert made(mazur, "delta2_1", "missing_activation_derivative") == pytest.approx([a - t])
    assert made(mazur, "delta2_1", "derivative_at_preactivation") == pytest.approx(
        [(a - t) * z * (1 - z)]
    )
    assert made(mazur, "delta2_1", "error_sign") == pytest.approx([(t - a) * a * (1 - a)])
    h = v["a1_1"]
    slope = h * (1 - h)
    d1, d2 = v["delta2_1"], v["delta2_2"]
    assert made(mazur, "delta1_1", "missing_activation_derivative") == pytest.approx(
        [d1 * 0.40 + d2 * 0.50]
    )
    assert made(mazur, "delta1_1", "hidden_delta_single_path") == pytest.approx(
        sorted([d1 * 0.40 * slope, d2 * 0.50 * slope])
    )
    updated = d1 * v["w_new2_1_1"] + d2 * v["w_new2_1_2"]
    assert made(mazur, "delta1_1", "hidden_delta_updated_weights") == pytest.approx(
        [updated * slope]
    )
    # W⁽²⁾ is square, so δ⁽¹⁾₁ can be formed with W⁽²⁾₂₁ (0.45) where W⁽²⁾₁₂ (0.50) belongs.
    assert made(mazur, "delta1_1", "transposed_weight") == pytest.approx(
        [(d1 * 0.40 + d2 * 0.45) * slope]
    )


def test_forward_and_loss_mistakes(mazur):
    v = mazur.values
    assert made(mazur, "z2_1", "forward_no_activation") == pytest.approx(
        [v["z1_1"] * 0.40 + v["z1_2"] * 0.45 + 0.60]
    )
    assert made(mazur, "z1_2", "transposed_weight") == pytest.approx(
        [0.05 * 0.20 + 0.10 * 0.30 + 0.35]
    )
    assert made(mazur, "loss", "loss_no_half") == pytest.approx([2 * v["loss"]])
    assert "forward_no_activation" not in mazur.mistake_values("z1_1", v)  # inputs have no z


def test_gradient_mistakes(mazur):
    v = mazur.values
    wrong = made(mazur, "grad_w2_1_1", "gradient_wrong_activation")
    d = v["delta2_1"]
    assert d * 0.05 == pytest.approx(min(wrong, key=lambda w: abs(w - d * 0.05)))  # x₁ for h₁
    assert any(w == pytest.approx(d * v["a2_1"]) for w in wrong)  # its own output
    assert "batch_sum" not in mazur.mistake_values("grad_w2_1_1", v)  # one example: no batch


def test_batch_sum():
    spec = {
        **MAZUR,
        "inputs": [[0.05, 0.1], [0.3, -0.2], [0.5, 0.5]],
        "targets": [[0.01, 0.99]] * 3,
    }
    s = Solution(parse_problem(spec))
    assert made(s, "grad_w1_2_1", "batch_sum") == pytest.approx([3 * s.values["grad_w1_2_1"]])
    assert made(s, "grad_b2_1", "batch_sum") == pytest.approx([3 * s.values["grad_b2_1"]])


def test_every_mistake_is_explained_and_reachable():
    reached = set()
    settings = [customise(preset, batch=2 if preset == "batch" else None) for preset in PRESETS]
    settings += [
        customise("batch", batch=2, delta_sign="error", batch_reduction="sum"),
        customise("classic", asked=["grad_a", "dact", "delta"]),
    ]
    for s in settings:
        for v in make_variants(s, 3, 2):
            for qid in v.solution.values:
                if qid in v.solution.quantities and not v.solution.quantities[qid].given:
                    reached |= set(v.solution.mistake_values(qid, v.solution.values))
    assert reached == set(CATALOGUE)
    for mistake in CATALOGUE.values():
        for text in (mistake.explain("gradient"), mistake.explain("error")):
            assert text.endswith(".") and len(text) < 140


@pytest.mark.parametrize("preset", list(PRESETS))
def test_generated_exercises_tell_every_mistake_from_the_right_answer(preset):
    settings = customise(preset)
    for variant in make_variants(settings, seed=2024, count=12):
        s = variant.solution
        notation = make_notation("layered", s.problem.depth, s.problem.examples)
        for entry in quantity_entries(s, notation, settings.rounding, KINDS):
            if entry["asked"]:
                assert indistinguishable(s, entry["id"], entry["tol"]["abs"]) is None
