"""Random exercises: determinism, exam-friendly numbers, worthwhile draws, tolerances."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bpquiz.errors import OptionError
from bpquiz.exercises.draw import (
    CODE_ALPHABET,
    PRESETS,
    customise,
    make_variants,
    not_worth_doing,
    variant_codes,
)
from bpquiz.exercises.key import dumps, key_document, quantity_entries
from bpquiz.maths.ids import KINDS
from bpquiz.maths.notation import NOTATION_FOLDER, make_notation
from bpquiz.maths.rounding import Mode, Rounding


def decimals_of(value: float) -> int:
    text = repr(float(value)).rstrip("0").rstrip(".")
    return len(text.split(".")[1]) if "." in text else 0


@pytest.mark.parametrize("preset", list(PRESETS))
def test_rounded_path_answers_fall_inside_every_tolerance(preset):
    for rounding in (Rounding(), Rounding(Mode.DECIMALS, 5), Rounding(Mode.SIGFIGS, 3)):
        settings = customise(preset, rounding=rounding)
        for variant in make_variants(settings, seed=101, count=8):
            solution = variant.solution
            rounded_path = {k: float(v) for k, v in solution.rounded_path(rounding).items()}
            notation = make_notation("layered", solution.problem.depth, solution.problem.examples)
            entries = quantity_entries(solution, notation, rounding, KINDS)
            for entry in entries:
                exact, tol = entry["value"], entry["tol"]["abs"]
                assert abs(rounded_path[entry["id"]] - exact) <= tol, entry["id"]
                assert abs(rounding.round(exact) - exact) <= tol, entry["id"]
                # …and not looser than it needs to be.
                assert tol <= abs(rounded_path[entry["id"]] - exact) + 0.61 * rounding.unit(exact)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_numbers_are_exam_friendly_and_worth_doing(preset):
    settings = customise(preset)
    for variant in make_variants(settings, seed=7, count=15):
        p = variant.problem
        givens = [p.learning_rate, *p.inputs.ravel(), *p.targets.ravel()]
        givens += [w for m in p.weights for w in m.ravel()] + [b for v in p.biases for b in v]
        assert all(decimals_of(g) <= 2 for g in givens)
        assert not_worth_doing(variant.solution, settings) is None
        for q in variant.solution.computed():
            value = variant.solution.values[q.id]
            if q.kind == "z" and p.activations[q.layer - 1] == "sigmoid":
                assert abs(value) <= 3
            if q.kind in ("grad_w", "grad_b"):
                assert abs(value) >= 2e-4 or value == 0  # 0: through an inactive ReLU


def test_a_relu_layer_of_three_has_exactly_one_inactive_neuron():
    """Every softmax variant's ReLU layer has one neuron inactive (z ≤ 0): a = 0 and no gradient
    flows through it, which finite differences of the independent loss confirm; the others are
    active, so every variant of a class set is as much work as another."""
    import copy

    from reference import batch_loss

    for variant in make_variants(customise("softmax"), seed=3, count=12):
        values = variant.solution.values
        inactive = [j for j in (1, 2, 3) if values[f"z1_{j}"] <= 0]
        assert len(inactive) == 1
        (j,) = inactive
        assert values[f"a1_{j}"] == values[f"delta1_{j}"] == values[f"grad_b1_{j}"] == 0
        assert all(values[f"grad_w2_{j}_{k}"] == 0 for k in (1, 2, 3))
        assert all(values[f"grad_w1_{i}_{j}"] == 0 for i in (1, 2))
        spec = variant.problem.to_dict()
        for i in (0, 1):  # the weights into it: the loss does not change with them
            nudged = [copy.deepcopy(spec), copy.deepcopy(spec)]
            nudged[0]["weights"][0][i][j - 1] += 1e-6
            nudged[1]["weights"][0][i][j - 1] -= 1e-6
            assert abs(batch_loss(nudged[0]) - batch_loss(nudged[1])) < 1e-12
        active = next(k for k in (1, 2, 3) if k != j)
        nudged = [copy.deepcopy(spec), copy.deepcopy(spec)]
        nudged[0]["weights"][0][0][active - 1] += 1e-6
        nudged[1]["weights"][0][0][active - 1] -= 1e-6
        assert abs(batch_loss(nudged[0]) - batch_loss(nudged[1])) > 1e-12  # the test can fail


def test_presets_have_their_shape():
    xor = make_variants(customise("xor"), seed=1, count=10)
    for v in xor:
        x, t = v.problem.inputs[0], v.problem.targets[0, 0]
        assert set(x) <= {0.0, 1.0} and t == float(x[0] != x[1])
    # One batch size for a whole class set (fairness), drawn afresh for each exam.
    sizes = [
        {v.problem.examples for v in make_variants(customise("batch"), seed=seed, count=6)}
        for seed in range(12)
    ]
    assert all(len(size) == 1 for size in sizes)
    assert set().union(*sizes) == {2, 3, 4}
    soft = make_variants(customise("softmax"), seed=1, count=5)
    assert all(v.problem.targets.sum() == 1 for v in soft)
    assert PRESETS["deep"].layers == (2, 2, 2, 1)


def test_same_seed_same_key_and_different_seeds_differ():
    settings = customise("classic")

    def key(seed):
        return dumps(key_document("x", seed, settings, make_variants(settings, seed, 3)))

    assert key(42) == key(42)
    assert key(42) != key(43)
    variants = json.loads(key(42))["variants"]
    assert len({json.dumps(v["problem"]) for v in variants}) == 3


def test_variant_codes_are_unique_unambiguous_and_hide_the_seed():
    codes = variant_codes(42, 2000)
    assert len(set(codes)) == 2000
    assert all(len(c) == 5 and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not set("01OIL") & set(CODE_ALPHABET)
    assert "42" not in codes[0]
    assert variant_codes(42, 5) == codes[:5]


def test_overrides_apply_and_bad_combinations_are_refused():
    s = customise("classic", layers=[3, 2, 2], activations=["tanh", "sigmoid"], learning_rate=0.25)
    v = make_variants(s, seed=3, count=1)[0]
    assert v.problem.layers == (3, 2, 2) and v.problem.activations == ("tanh", "sigmoid")
    assert v.problem.learning_rate == 0.25
    assert customise("classic", batch=3).batch == (3, 3)
    with pytest.raises(OptionError, match="loss"):
        customise("classic", loss="cross_entropy")
    with pytest.raises(OptionError, match="preset"):
        customise("nope")
    with pytest.raises(OptionError, match="--ask"):
        customise("classic", asked=["z", "gradient"])


def test_rounding_rule():
    r = Rounding()
    assert r.round(0.12345) == 0.1235  # half away from zero, as on a calculator
    assert r.round(-0.12345) == -0.1235
    assert r.format(-0.03809) == "−0.0381"
    assert r.format(-0.00001) == "0.0000"
    s = Rounding(Mode.SIGFIGS, 3)
    assert s.round(0.0012345) == 0.00123
    assert s.format(0.000438568) == "0.000439"
    assert s.unit(0.000438568) == pytest.approx(1e-6)
    assert Rounding().tolerance(0.5, 0.5) == pytest.approx(0.00006)
    assert Rounding().tolerance(0.5, 0.5003) == pytest.approx(0.00031)
    with pytest.raises(ValueError):
        Rounding(Mode.DECIMALS, 0)


def test_problem_round_trips_through_its_dict():
    from bpquiz.maths.spec import parse_problem

    v = make_variants(customise("batch", bias="shared"), seed=5, count=1)[0]
    again = parse_problem(v.problem.to_dict())
    assert again.to_dict() == v.problem.to_dict()
    assert np.array_equal(again.inputs, v.problem.inputs)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_variant_of_a_class_set_is_the_same_size_and_worth_the_same(preset):
    """Same network, same number of examples, the same asked items and the same points (the issue's
    case: seed 10, batch preset, 2 variants, once gave 39 and 59 points)."""
    points = {"delta": 2, "w_new": 0.5}
    settings = customise(preset, points=points)
    for seed in (10, 11, 12):
        variants = make_variants(settings, seed=seed, count=5)
        document = key_document("x", seed, settings, variants)
        shapes = set()
        for variant in document["variants"]:
            asked = [(q["id"], q["kind"], q["points"]) for q in variant["quantities"] if q["asked"]]
            shapes.add(
                (
                    tuple(variant["problem"]["layers"]),
                    len(variant["problem"]["inputs"]),
                    tuple(asked),
                )
            )
        assert len(shapes) == 1, (preset, seed)
        ((_, _, asked),) = shapes
        assert all(p == points.get(kind, 1) for _, kind, p in asked)


def test_a_course_describes_its_notation_in_a_file(tmp_path):
    """W and V per layer, wⱼᵢ read from j to i, θ for the bias: the file says so, and every symbol
    (and the formulas, gradients and updates built from them) follows."""
    from bpquiz.errors import OptionError
    from bpquiz.maths.notation import make_notation, notation_names

    course = tmp_path / "course.json"
    course.write_text(
        json.dumps(
            {
                "name": "course",
                "description": "V into the hidden layer, W out of it",
                "symbols": {
                    "input": {"base": "x", "sub": "{neuron}"},
                    "target": {"base": "y", "sub": "{neuron}"},
                    "net_input": {"base": "net", "sup": "{layer}", "sub": "{neuron}"},
                    "activation": {"base": "o", "sup": "{layer}", "sub": "{neuron}"},
                    "delta": {"base": "δ", "sup": "{layer}", "sub": "{neuron}"},
                    "weight": {
                        "1": {"base": "V", "sub": "{i}{j}"},
                        "output": {"base": "W", "sub": "{i}{j}"},
                    },
                    "bias": {"base": "θ", "sup": "{layer}", "sub": "{neuron}"},
                },
                "weight_indices": "to_from",
            }
        ),
        encoding="utf-8",
    )
    assert notation_names() == ["layered", "textbook"]
    named = make_notation(str(course), 2, 1)
    solution = make_variants(customise("classic"), seed=3, count=1)[0].solution
    rule = Rounding()
    assert solution.step("z1_1", named, rule).equation == "net¹₁ = x₁·V₁₁ + x₂·V₁₂ + θ¹₁"
    assert solution.step("z2_1", named, rule).formula.startswith("o¹₁·W₁₁ + o¹₂·W₁₂")
    assert solution.step("grad_w1_2_3", named, rule).symbol == "∂L/∂V₃₂"
    assert solution.step("w_new2_3_1", named, rule).symbol == "W′₁₃"
    assert solution.step("delta2_1", named, rule).formula == "(o²₁ − y₁)·o²₁·(1 − o²₁)"
    # A deeper net needs a symbol for every layer's weights: the file must say which.
    with pytest.raises(OptionError, match="names no weight symbol for layer 2 of 3"):
        make_notation(str(course), 3, 1)
    broken = tmp_path / "broken.json"
    broken.write_text('{"symbols": {"input": {"base": "x", "sub": "{nuron}"}}}', encoding="utf-8")
    with pytest.raises(OptionError, match=r"broken\.json: field 'symbols\.input\.sub'"):
        make_notation(str(broken), 2, 1)
    with pytest.raises(OptionError, match="unknown notation 'nope'"):
        make_notation("nope", 2, 1)
    with pytest.raises(OptionError, match="textbook notation needs exactly one hidden layer"):
        make_notation("textbook", 3, 1)


@pytest.mark.parametrize(
    "sub", ["{neuron.__class__}", "{0}", "{}", "{i[0]}", "{j!r}", "{layer:>3}", "{neuron", "{x}"]
)
def test_a_notation_file_holds_only_plain_placeholders(tmp_path, sub):
    """str.format reads more than {layer}, {neuron}, {i} and {j}: "{neuron.__class__}" printed
    <class 'str'> on the sheet. Only the plain names are accepted (and doubled braces)."""
    document = json.loads((NOTATION_FOLDER / "layered.json").read_text(encoding="utf-8"))
    document["symbols"]["input"] = {"base": "x", "sub": sub}
    course = tmp_path / "course.json"
    course.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(OptionError) as raised:
        make_notation(str(course), 2, 1)
    assert str(raised.value) == (
        f"{course}: field 'symbols.input.sub': expected text with {{layer}}, {{neuron}}, {{i}}, "
        "{j} only"
    )
    document["symbols"]["input"]["sub"] = "{{{neuron}}}"
    plain = tmp_path / "plain.json"  # another name: notation files are read once per name
    plain.write_text(json.dumps(document), encoding="utf-8")
    assert make_notation(str(plain), 2, 1).symbol("a", 0, 2).text() == "x{₂}"


def test_answer_templates_name_each_id_with_the_sheets_symbol(tmp_path):
    from bpquiz.api import generate_exam
    from bpquiz.grading.readers.spreadsheet import read_table
    from bpquiz.sheets.options import SheetOptions
    from bpquiz.sheets.render import SheetRequest

    exam = generate_exam(
        customise("classic"),
        5,
        2,
        name="named",
        keys_dir=tmp_path / "keys",
        out_dir=tmp_path / "out",
        sheets=SheetRequest(SheetOptions(notation="textbook"), "html"),
    )
    template = json.loads(exam.answers[0].read_text(encoding="utf-8"))
    assert template["symbols"]["a1_1"] == "h₁" and template["symbols"]["z2_1"] == "a⁽²⁾₁"
    assert list(template["symbols"]) == list(template["answers"])
    assert exam.table is not None
    header = exam.table.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("student,variant,z1_1 (a⁽¹⁾₁),")
    assert read_table(exam.table).columns[:2] == ("z1_1", "z1_2")
    html = (tmp_path / "out" / f"{exam.variants[0].code}-sheet.html").read_text(encoding="utf-8")
    assert 'h₁ =<span class="qid"> [a1_1]</span>' in html
