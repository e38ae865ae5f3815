"""Marking like a teacher: simulated students who make one catalogued mistake, slip once, or game
follow-through, marked by `bpquiz.grading.marking` (the generator's side of mistakes is in test_mistakes)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache

import pytest
from typer.testing import CliRunner

from bpquiz.api import generate_exam
from bpquiz.cli import app
from bpquiz.exercises.draw import Settings, Variant, customise, make_variants
from bpquiz.exercises.key import KeyVariant, key_document, parse_key
from bpquiz.grading.items import Item, Result, Status, grade_sheet
from bpquiz.grading.marking import FollowThrough, markers
from bpquiz.grading.readers.json_file import parse_answers
from bpquiz.grading.readers.sheet import AnswerSheet
from bpquiz.maths.ids import KINDS
from bpquiz.maths.mistakes import CATALOGUE
from bpquiz.maths.rounding import Mode, Rounding
from bpquiz.maths.solution import Solution

CONFIGS: dict[str, tuple[str, dict]] = {
    "classic": ("classic", {}),
    "chain": ("chain", {}),
    "batch": ("batch", {}),
    "softmax": ("softmax", {}),
    "deep": ("deep", {}),
    "xor": ("xor", {}),
    "single-output": ("single-output", {}),
    "mitchell": ("mitchell", {}),
    "classic-batch": ("classic", {"batch": 2}),
    "classic-steps": ("classic", {"asked": KINDS}),
    "batch-error-sum": ("batch", {"delta_sign": "error", "batch_reduction": "sum"}),
    "classic-error-batch-sum": (
        "classic",
        {"batch": 2, "delta_sign": "error", "batch_reduction": "sum", "asked": KINDS},
    ),
}
"""Presets, and others with a mini-batch bolted on or another convention, so each mistake is seen
on two kinds of net, in each convention."""
SEED = 11
VARIANTS = 2


@cache
def exam(config: str) -> tuple[Settings, list[tuple[Variant, KeyVariant]]]:
    """Variants of a preset and the same variants as `bpquiz grade` reads them from the key."""
    preset, overrides = CONFIGS[config]
    settings = customise(preset, **overrides)
    variants = make_variants(settings, SEED, VARIANTS)
    document = json.loads(json.dumps(key_document(config, SEED, settings, variants)))
    keys = parse_key(document, f"{config}.json")
    return settings, list(zip(variants, keys, strict=True))


def typed(value: float, rule) -> str:
    """A number as a student writes it: rounded to the sheet's rule, its trailing zeros kept."""
    return rule.format(value).replace("−", "-") if rule.round(value) == value else repr(value)


def answers_sheet(key: KeyVariant, values: Mapping[str, float]) -> AnswerSheet:
    """`values` typed into the variant's answers file, as a student hands it in."""
    doc = {
        "format": "bpquiz-answers/1",
        "variant": key.code,
        "student": "s1",
        "answers": {q.id: typed(values[q.id], key.rounding) for q in key.asked},
    }
    return parse_answers(json.dumps(doc).encode(), "s1.json")


def mark(key: KeyVariant, values: Mapping[str, float], follow=FollowThrough.FULL) -> Result:
    return grade_sheet(answers_sheet(key, values), key, markers=markers(follow))


def by_id(result: Result) -> dict[str, Item]:
    return {i.id: i for i in result.items}


def consistent(solution: Solution, settings: Settings, written: Mapping[str, float] = {}):
    """A careful student: every quantity in teaching order from the givens and their own rounded
    results, except the values in `written`, which they put down instead."""
    rule = settings.rounding
    env = solution.givens()
    for q in solution.computed():
        env[q.id] = written[q.id] if q.id in written else rule.round(q.expr.eval(env))
    return env


def makes(solution: Solution, settings: Settings, code: str) -> tuple[dict[str, float], str] | None:
    """A student who makes mistake `code` at the first quantity where it shows, and everything
    else right from their own rounded results; with the quantity where they made it.

    "Shows": a value clearly outside the tolerance (a mistake that changes nothing, like leaving
    out a ReLU's slope of 1, isn't made anywhere), and not a zero, which the gaming rule treats as
    a trivial claim on purpose. Returns None when the mistake can't be made in this variant.
    """
    rule = settings.rounding
    # The careful path, to look up what the mistake needs before teaching order reaches it (the
    # updated weights for hidden_delta_updated_weights: computed right, before the deltas).
    careful = {k: float(v) for k, v in solution.rounded_path(rule).items()}
    env = solution.givens()
    first = None
    for q in solution.computed():
        right = q.expr.eval(env)
        value = right
        if first is None:
            unit = rule.unit(right)
            for expr in solution.mistaken(q.id, CATALOGUE[code]):
                wrong = expr.eval({**careful, **env})
                if abs(wrong - right) > 4 * unit and abs(wrong) > 4 * rule.unit(wrong):
                    value, first = wrong, q.id
                    break
        env[q.id] = rule.round(value)
    return (env, first) if first else None


def downstream(solution: Solution, qid: str) -> set[str]:
    """Every quantity computed, directly or not, from `qid`."""
    found: set[str] = set()
    for q in solution.computed():
        if qid in q.inputs() or found & set(q.inputs()):
            found.add(q.id)
    return found


# --- each mistake, carried through -----------------------------------------------------------


@pytest.mark.parametrize("code", list(CATALOGUE))
def test_a_student_making_one_mistake_gets_its_name_then_follow_through(code):
    """The code on the first affected item; everything after it right from the student's own
    numbers earns full follow-through credit; nothing else is lost."""
    seen = []
    for config in CONFIGS:
        settings, pairs = exam(config)
        for variant, key in pairs:
            made = makes(variant.solution, settings, code)
            if made is None:
                continue
            values, first = made
            asked = key.asked_ids
            if first not in asked:
                continue
            seen.append(config)
            items = by_id(mark(key, values))
            where = f"{config} {key.code} {code} at {first}"
            assert items[first].status is Status.WRONG, where
            assert items[first].misconception == code, (where, items[first].feedback)
            explanation = CATALOGUE[code].explain(settings.delta_sign)
            assert items[first].feedback.startswith(explanation), where
            after = downstream(variant.solution, first) & asked
            for qid, item in items.items():
                if qid == first:
                    continue
                assert item.credit == 1.0, (where, item)
                assert item.misconception is None, (where, item)
                if item.status is Status.FOLLOW_THROUGH:
                    assert qid in after, (where, item)  # carried only from the mistake
                    assert "carried forward from your" in item.feedback
            tol = {q.id: q.tol_abs for q in key.quantities}
            carried = [items[q] for q in after if abs(values[q] - items[q].expected) > 2 * tol[q]]
            assert all(i.status is Status.FOLLOW_THROUGH for i in carried), where
            # A wrong z of a ReLU neuron that stays inactive (both z < 0) changes nothing after it.
            stays_inactive = (
                first.startswith("z")
                and variant.problem.activations[variant.solution.quantities[first].layer - 1]
                == "relu"
                and variant.solution.values[first] <= 0
                and values[first] <= 0
            )
            if (
                code not in ("update_sign", "no_learning_rate", "loss_no_half")
                and not stays_inactive
            ):
                assert carried, f"{where}: nothing downstream to carry the mistake"
    # Several presets wherever the mistake exists: batch_sum needs a mini-batch, loss_no_half
    # the ½ of squared error, derivative_at_preactivation a sigmoid or tanh.
    assert len(set(seen)) >= 2, (code, seen)


def test_each_mistake_is_tried_on_the_presets_where_it_can_be_made():
    """Guards the test above against quietly skipping: where each mistake was simulated."""
    where: dict[str, set[str]] = {code: set() for code in CATALOGUE}
    for config in CONFIGS:
        settings, pairs = exam(config)
        for variant, key in pairs:
            for code in CATALOGUE:
                made = makes(variant.solution, settings, code)
                if made and made[1] in key.asked_ids:
                    where[code].add(config)
    assert where["batch_sum"] == {"batch", "classic-batch"}
    assert "softmax" not in where["loss_no_half"]
    for code in ("update_sign", "no_learning_rate", "error_sign", "forward_no_activation"):
        assert where[code] >= {"classic", "chain", "batch", "deep"}, (code, where[code])
    assert where["hidden_delta_single_path"] >= {"classic", "deep", "softmax"}


# --- one slip -----------------------------------------------------------------------------------


@pytest.mark.parametrize("config", ["classic", "chain", "batch", "softmax", "deep"])
@pytest.mark.parametrize("kind", ["z", "delta"])
def test_one_wrong_early_value_loses_only_that_item(config, kind):
    settings, pairs = exam(config)
    for variant, key in pairs:
        solution = variant.solution
        first = next(q.id for q in solution.computed() if q.kind == kind)
        right = consistent(solution, settings)[first]
        slip = consistent(solution, settings, {first: settings.rounding.round(right + 0.137)})
        result = mark(key, slip)
        items = by_id(result)
        assert items[first].status is Status.WRONG
        assert items[first].misconception is None
        assert result.score == result.max_score - 1, [
            i for i in result.items if i.credit < 1 and i.id != first
        ]
        followed = [i for i in result.items if i.status is Status.FOLLOW_THROUGH]
        assert followed, "the slip should reach later steps"
        symbol = items[first].symbol
        assert all(f"your {symbol} = " in i.feedback for i in followed if first in i.feedback)


def test_a_misconception_is_named_from_the_students_own_inputs():
    """A mistake made on top of an earlier slip is still recognised (computed from their values)."""
    settings, [(variant, key), _] = exam("classic")
    solution = variant.solution
    rule = settings.rounding
    slip = {"z1_1": rule.round(solution.values["z1_1"] + 0.2)}
    env = consistent(solution, settings, slip)
    (wrong,) = solution.mistaken("z2_1", CATALOGUE["forward_no_activation"])
    env = consistent(solution, settings, {**slip, "z2_1": rule.round(wrong.eval(env))})
    items = by_id(mark(key, env))
    assert items["z1_1"].status is Status.WRONG
    assert items["z2_1"].misconception == "forward_no_activation"
    assert items["a2_1"].status is Status.FOLLOW_THROUGH


# --- gaming -------------------------------------------------------------------------------------


def outputs(solution: Solution) -> list[str]:
    depth = solution.problem.depth
    return [q.id for q in solution.computed() if q.kind == "a" and q.layer == depth]


@pytest.mark.parametrize("config", ["classic", "single-output", "deep"])
def test_an_output_claimed_equal_to_its_target_earns_nothing_downstream(config):
    settings, pairs = exam(config)
    for variant, key in pairs:
        solution = variant.solution
        givens = solution.givens()
        claims = {
            qid: givens[qid.replace("a", "t_", 1).replace(f"t_{solution.problem.depth}_", "t_")]
            for qid in outputs(solution)
        }
        result = mark(key, consistent(solution, settings, claims))
        items = by_id(result)
        trivial = {
            q.id
            for q in solution.computed()
            if q.kind in ("loss", "delta", "grad_w", "grad_b", "w_new", "b_new")
        }
        for qid in trivial:
            assert items[qid].status is Status.WRONG, items[qid]
            assert items[qid].credit == 0
            assert "an output equal to its target makes this step trivial" in items[qid].feedback
            assert "earns no follow-through credit" in items[qid].feedback
        for qid in trivial & {q.id for q in solution.computed() if q.kind in ("w_new", "b_new")}:
            assert "where it was" in items[qid].feedback
        for qid in set(items) - trivial - set(claims):
            assert items[qid].status is Status.CORRECT, items[qid]  # the forward pass
        assert result.score == len(items) - len(trivial) - len(claims)


def test_a_zero_activation_earns_nothing_for_the_steps_it_trivialises():
    settings, [(variant, key), _] = exam("classic")
    solution = variant.solution
    result = mark(key, consistent(solution, settings, {"a1_1": 0.0}))
    items = by_id(result)
    # δ⁽¹⁾₁ has the factor a(1 − a) = 0; the weights leaving neuron 1 get δ·0; their updates and
    # everything of neuron 1's own incoming weights and bias follow.
    n = solution.problem.layers
    trivial = (
        {f"grad_w2_1_{k}" for k in range(1, n[2] + 1)}
        | {f"w_new2_1_{k}" for k in range(1, n[2] + 1)}
        | {"delta1_1", "grad_b1_1", "b_new1_1"}
        | {f"grad_w1_{i}_1" for i in range(1, n[0] + 1)}
        | {f"w_new1_{i}_1" for i in range(1, n[0] + 1)}
    )
    lost = {i.id for i in result.items if i.credit == 0}
    assert lost == trivial | {"a1_1"}
    assert all("a zero activation makes this step trivial" in items[q].feedback for q in trivial)
    # Steps that merely use the zero without vanishing are honest follow-through.
    assert items["z2_1"].status is Status.FOLLOW_THROUGH and items["z2_1"].credit == 1
    assert items["delta2_1"].status is Status.FOLLOW_THROUGH


def test_small_honest_values_keep_their_credit():
    """A follow-through gradient that merely rounds to zero is not a trivial claim."""
    settings, [(variant, key), _] = exam("classic")
    solution = variant.solution
    # δ⁽¹⁾₁ slipped to a tiny value: its gradients are about 0, and the updates hardly move.
    env = consistent(solution, settings, {"delta1_1": 0.0001})
    result = mark(key, env)
    assert [i.id for i in result.items if i.credit < 1] == ["delta1_1"]


# --- how much follow-through earns ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("follow", "credit"),
    [(FollowThrough.FULL, 1.0), (FollowThrough.HALF, 0.5), (FollowThrough.OFF, 0.0)],
)
def test_follow_through_credit(follow, credit):
    settings, [(variant, key), _] = exam("classic")
    solution = variant.solution
    env = consistent(
        solution, settings, {"z1_1": settings.rounding.round(solution.values["z1_1"] + 0.3)}
    )
    result = mark(key, env, follow)
    followed = [i for i in result.items if i.status is Status.FOLLOW_THROUGH]
    assert followed
    assert {i.credit for i in followed} == {credit}
    correct = sum(i.status is Status.CORRECT for i in result.items)
    assert result.score == pytest.approx(correct + credit * len(followed))
    if follow is FollowThrough.OFF:
        assert all("follow-through is off" in i.feedback for i in followed)


def test_wild_numbers_never_break_marking():
    """Values the maths can't take (a log of a negative output, overflowing exponentials), or that
    are too large to round, leave the items as marked and never stop the grader."""
    settings, [(variant, key), _] = exam("softmax")
    solution = variant.solution
    values = {qid: settings.rounding.round(v) for qid, v in solution.values.items()}
    claims = dict.fromkeys(outputs(solution), -0.5)
    claims.update({"z1_1": 1e300, "a1_1": 1e300})
    # z⁽²⁾₁ carried exactly from the huge a⁽¹⁾₁: follow-through, named in unrounded form.
    z2 = solution.recompute("z2_1", {**values, **claims})
    result = mark(key, {**values, **claims, "z2_1": z2})
    items = by_id(result)
    assert all(items[q].status is Status.WRONG for q in claims if q != "a1_1")
    assert items["a1_1"].status is Status.FOLLOW_THROUGH  # ReLU(1e300) is 1e300
    assert items["z2_1"].status is Status.FOLLOW_THROUGH
    assert "1e+300" in items["z2_1"].feedback


# --- through the command line --------------------------------------------------------------------


runner = CliRunner()


@pytest.fixture(scope="module")
def classic_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    settings = customise("classic")
    written = generate_exam(
        settings,
        42,
        1,
        students=None,
        name="classic-42",
        keys_dir=root / "answer_keys",
        out_dir=root / "exams",
    )
    variants = written.variants
    return root, settings, variants[0], written.answers[0]


def student_file(root, template, values, name="s1"):
    doc = json.loads(template.read_text(encoding="utf-8"))
    doc["student"] = name
    doc["answers"] = {qid: values[qid] for qid in doc["answers"]}
    path = root / "in" / f"{name}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_cli_json_names_the_mistake_and_credits_what_follows(classic_files):
    root, settings, variant, template = classic_files
    values, first = makes(variant.solution, settings, "forward_no_activation")
    path = student_file(root, template, values)
    keys = ["--keys", str(root / "answer_keys")]
    out = runner.invoke(app, ["grade", str(path), *keys, "--json"])
    assert out.exit_code == 0, out.output
    (result,) = json.loads(out.stdout)["results"]
    items = {i["id"]: i for i in result["items"]}
    assert items[first]["status"] == "wrong"
    assert items[first]["misconception"] == "forward_no_activation"
    assert items[first]["feedback"].startswith("You passed z on without the activation")
    followed = [i for i in result["items"] if i["status"] == "follow_through"]
    assert followed and all(i["credit"] == 1.0 and i["misconception"] is None for i in followed)
    assert result["score"] == result["max_score"] - 1

    half = runner.invoke(app, ["grade", str(path), *keys, "--json", "--follow-through", "half"])
    (halved,) = json.loads(half.stdout)["results"]
    assert halved["score"] == result["max_score"] - 1 - 0.5 * len(followed)
    off = runner.invoke(app, ["grade", str(path), *keys, "--json", "--follow-through", "off"])
    assert json.loads(off.stdout)["results"][0]["score"] == result["max_score"] - 1 - len(followed)

    table = runner.invoke(app, ["grade", str(path), *keys])
    assert "follow-through" in table.stdout
    assert "[forward_no_activati" in table.stdout  # the verdict column (folded in 80 columns)
    assert f"({first})" in table.stdout and "You passed z on without the activation" in table.stdout

    bad = runner.invoke(app, ["grade", str(path), *keys, "--follow-through", "some"])
    assert bad.exit_code == 2
    assert "expected full, half or off" in bad.output


def test_mistake_values_are_what_marking_compares_against():
    """The marker uses mistake_values from the student's own inputs, not the key's."""
    settings, [(variant, key), _] = exam("classic")
    solution = variant.solution
    env = consistent(solution, settings)
    made = solution.mistake_values("delta2_1", env)
    wrong = settings.rounding.round(made["error_sign"][0])
    items = by_id(mark(key, consistent(solution, settings, {"delta2_1": wrong})))
    assert items["delta2_1"].misconception == "error_sign"


def test_rounding_an_accepted_answer_the_other_way_costs_nothing_later():
    """A student whose answer sits at the other end of its accepted range, and who reuses it, is
    right downstream even where the key's own range doesn't reach (review finding H2)."""
    settings = customise("classic")
    found = 0
    for variant in make_variants(settings, 11, 12):
        s = variant.solution
        rule = settings.rounding
        path = s.rounded_path(rule)
        for q in s.computed():
            exact = rule.round(s.values[q.id])
            if q.kind != "grad_w" or exact == path[q.id]:
                continue
            # They write the exactly rounded value (accepted), then carry on from it.
            student = consistent(s, settings, {q.id: exact})
            document = json.loads(json.dumps(key_document("t", 11, settings, [variant])))
            [key] = parse_key(document, "t.json")
            result = mark(key, student)
            lost = {i.id: i.feedback for i in result.items if i.credit < 1}
            assert lost == {}, (q.id, lost)
            found += 1
    assert found  # the situation does arise, so the test tests something


# --- one deduction per misconception; no false labels; conventions --------------------------


def with_mistake_everywhere(solution: Solution, settings: Settings, code: str, kind: str):
    """A student who makes mistake `code` at every quantity of `kind` (and everything else right
    from their own rounded results)."""
    rule = settings.rounding
    env = solution.givens()
    for q in solution.computed():
        value = q.expr.eval(env)
        made = solution.mistaken(q.id, CATALOGUE[code]) if q.kind == kind else []
        if made:
            value = made[0].eval(env)
        env[q.id] = rule.round(value)
    return env


@pytest.mark.parametrize(("code", "kind"), [("error_sign", "delta"), ("update_sign", "w_new")])
def test_a_misconception_costs_its_points_once_by_default(code, kind):
    """(t − y) in both output deltas, or adding η·gradient in every update: one misconception,
    one deduction; with --misconception-penalty each, one per item."""
    settings, [(variant, key), _] = exam("classic")
    values = with_mistake_everywhere(variant.solution, settings, code, kind)
    sheet = answers_sheet(key, values)
    once = grade_sheet(sheet, key, markers=markers())
    each = grade_sheet(sheet, key, markers=markers(penalty="each"))
    named_once = [i for i in once.items if i.misconception == code]
    named_each = [i for i in each.items if i.misconception == code]
    assert len(named_once) == len(named_each) >= 2
    first, *later = named_once
    assert first.status is Status.WRONG and first.credit == 0
    assert all(i.status is Status.FOLLOW_THROUGH and i.credit == 1 for i in later)
    assert all(f"The same mistake as at {first.symbol}" in i.feedback for i in later)
    assert once.score == once.max_score - 1
    assert all(i.status is Status.WRONG for i in named_each)
    assert each.score == each.max_score - len(named_each)


def test_no_misconception_is_named_where_the_students_precision_cannot_tell():
    """Two decimals where the sheet asks for four: an update rounded honestly (η·gradient rounds
    away) is not called 'no learning rate', though it equals w − gradient at two decimals."""
    settings, pairs = exam("classic")
    rule2 = Rounding(Mode.DECIMALS, 2)
    checked = 0
    for variant, key in pairs:
        values = consistent(variant.solution, settings)
        for q in key.asked:
            if q.kind != "w_new":
                continue
            own = values[q.id]
            grad, w = (
                values[q.id.replace("w_new", "grad_w")],
                variant.solution.givens()[q.id.replace("w_new", "w")],
            )
            if rule2.round(own) != rule2.round(w - grad) or rule2.round(own) == own:
                continue
            answers = {**values, q.id: rule2.round(own)}
            doc = {
                "format": "bpquiz-answers/1",
                "variant": key.code,
                "student": "s1",
                "answers": {
                    k.id: (
                        f"{answers[k.id]:.2f}"
                        if k.id == q.id
                        else typed(answers[k.id], key.rounding)
                    )
                    for k in key.asked
                },
            }
            item = by_id(
                grade_sheet(
                    parse_answers(json.dumps(doc).encode(), "s.json"), key, markers=markers()
                )
            )[q.id]
            assert item.status is Status.WRONG and item.misconception is None, item
            assert "right to 2 decimal places" in item.feedback
            checked += 1
    assert checked >= 3


def test_a_student_following_each_convention_gets_full_marks():
    for config in ("mitchell", "batch-error-sum", "classic-steps", "classic-error-batch-sum"):
        settings, pairs = exam(config)
        for variant, key in pairs:
            result = mark(key, consistent(variant.solution, settings))
            assert result.score == result.max_score, (
                config,
                [i for i in result.items if i.credit < 1],
            )


def test_the_answer_is_shown_as_typed():
    from bpquiz.grading.feedback import feedback_context
    from bpquiz.sheets.options import SheetOptions

    settings, [(variant, key), _] = exam("classic")
    values = consistent(variant.solution, settings)
    qid = key.asked[0].id
    doc = {
        "format": "bpquiz-answers/1",
        "variant": key.code,
        "student": "s1",
        "answers": {q.id: typed(values[q.id], key.rounding) for q in key.asked},
    }
    doc["answers"][qid] = "0,353"
    result = grade_sheet(parse_answers(json.dumps(doc).encode(), "s.json"), key, markers=markers())
    assert by_id(result)[qid].typed == "0,353"
    rows = {r["id"]: r for r in feedback_context(result, key, SheetOptions())["rows"]}
    assert rows[qid]["given"] == "0,353"
    assert "0,353 is off by" in by_id(result)[qid].feedback


def test_points_per_kind_from_the_key_and_when_regrading(classic_files, tmp_path):
    root, settings, variant, template = classic_files
    values = consistent(variant.solution, settings)
    path = student_file(root, template, values)
    keys = ["--keys", str(root / "answer_keys")]
    plain = json.loads(runner.invoke(app, ["grade", str(path), *keys, "--json"]).stdout)
    regraded = runner.invoke(
        app, ["grade", str(path), *keys, "--json", "--points", "delta=2,w_new=0.5"]
    )
    assert regraded.exit_code == 0, regraded.output
    (before,), (after,) = plain["results"], json.loads(regraded.stdout)["results"]
    deltas = sum(1 for i in before["items"] if i["id"].startswith("delta"))
    updates = sum(1 for i in before["items"] if i["id"].startswith("w_new"))
    assert after["max_score"] == before["max_score"] + deltas - 0.5 * updates
    assert after["score"] == after["max_score"]
    bad = runner.invoke(app, ["grade", str(path), *keys, "--points", "nothing=2"])
    assert bad.exit_code == 2 and "unknown kind" in bad.output
