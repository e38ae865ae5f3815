"""The command line for generate, solve and presets: real invocations, exit codes, exact messages."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bpquiz.cli import app

runner = CliRunner()
GOOD = {
    "layers": [2, 3, 2],
    "activations": ["sigmoid", "sigmoid"],
    "loss": "half_sse",
    "learning_rate": 0.5,
    "bias": "per_neuron",
    "inputs": [[0.05, 0.10]],
    "targets": [[0.01, 0.99]],
    "weights": [
        [[0.15, 0.25, 0.35], [0.20, 0.30, 0.40]],
        [[0.40, 0.50], [0.45, 0.55], [0.10, -0.20]],
    ],
    "biases": [[0.35, 0.35, 0.35], [0.60, 0.60]],
}


def one_error_line(result) -> str:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_solve_prints_the_worked_solution(tmp_path):
    spec = tmp_path / "mazur.json"
    spec.write_text(json.dumps(GOOD))
    result = runner.invoke(app, ["solve", str(spec)])
    assert result.exit_code == 0, result.output
    text = result.stdout
    order = [
        "Forward pass, layer 1",
        "Forward pass, layer 2",
        "Loss",
        "Output deltas",
        "Hidden deltas, layer 1",
        "Gradients, layer 2",
        "Updated weights and biases",
    ]
    positions = [text.index(title) for title in order]
    assert positions == sorted(positions)
    assert "δ⁽²⁾₁ = (a⁽²⁾₁ − t₁)·a⁽²⁾₁·(1 − a⁽²⁾₁)" in text


def test_solve_json_is_the_key_entry(tmp_path):
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(GOOD))
    result = runner.invoke(app, ["solve", str(spec), "--json", "--sigfigs", "3"])
    assert result.exit_code == 0
    entry = json.loads(result.stdout)
    ids = [q["id"] for q in entry["quantities"]]
    assert ids[:2] == ["z1_1", "z1_2"] and "w_new1_2_3" in ids
    assert entry["problem"]["weights"] == GOOD["weights"]


def test_textbook_notation(tmp_path):
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(GOOD))
    result = runner.invoke(app, ["solve", str(spec), "--notation", "textbook"])
    assert result.exit_code == 0
    assert "δʸ₁ = (y₁ − t₁)·y₁·(1 − y₁)" in result.stdout
    assert "u₁₁" in result.stdout


def mutate(path, value):
    spec = copy.deepcopy(GOOD)
    *parents, last = path
    target = spec
    for key in parents:
        target = target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return spec


BAD_SPECS = [
    (mutate(["layers"], [2, 3]), "field 'layers': expected a list of 3 to 6"),
    (mutate(["layers"], [2, 0, 2]), "field 'layers'"),
    (
        mutate(["weights", 1], [[0.4, 0.5], [0.45, 0.55]]),
        "field 'weights[1]': expected 3 rows of 2",
    ),
    (mutate(["weights", 0, 1, 2], "x"), "field 'weights[0][1][2]': expected a number of size"),
    (mutate(["weights", 0, 1, 2], True), "field 'weights[0][1][2]': expected a number of size"),
    (
        mutate(["inputs", 0, 0], 1e9),  # finite, but past what an exam's numbers are
        "field 'inputs[0][0]': expected a number of size at most 1000000, got 1000000000.0",
    ),
    (mutate(["inputs", 0, 0], 10**400), "field 'inputs[0][0]': expected a number of size"),
    (mutate(["activations"], ["softmax", "sigmoid"]), "softmax only on the output layer"),
    (mutate(["activations"], ["sigmoid", "swish"]), "field 'activations[1]': expected one of"),
    (mutate(["loss"], "cross_entropy"), "softmax on the output layer for the cross_entropy loss"),
    (mutate(["learning_rate"], -0.5), "field 'learning_rate': expected a number greater than 0"),
    (mutate(["targets"], [[0.5]]), "field 'targets[0]': expected a list of 2 numbers"),
    (
        mutate(["inputs"], [[0.05, 0.1], [0.2, 0.3]]),
        "field 'targets': expected one row per input row (2)",
    ),
    (mutate(["biases"], ...), "field 'biases' is missing"),
    (mutate(["lerning_rate"], 0.5), "unknown field 'lerning_rate'"),
    (mutate(["weights"], ...), "field 'weights' is missing"),
    (
        {**GOOD, "loss": "bce", "targets": [[0.5, 1.5]]},
        "field 'targets': expected values between 0 and 1",
    ),
    (
        {
            **GOOD,
            "activations": ["sigmoid", "softmax"],
            "loss": "cross_entropy",
            "targets": [[0.3, 0.3]],
        },
        "each row ≥ 0 and summing to 1",
    ),
    ({**GOOD, "activations": ["sigmoid", "softmax"]}, "field 'loss': expected cross_entropy"),
    ([1, 2], "expected a JSON object"),
]


@pytest.mark.parametrize(("spec", "message"), BAD_SPECS)
def test_bad_specs_get_one_clear_line(tmp_path, spec, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(spec))
    line = one_error_line(runner.invoke(app, ["solve", str(path)]))
    assert str(path) in line
    assert message in line


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"layers": NaN}', "not valid JSON"),
        (b"\xff\xfe", "cannot read the file"),
        (b"[" * 100000, "not valid JSON"),
    ],
)
def test_unreadable_specs(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    assert message in one_error_line(runner.invoke(app, ["solve", str(path)]))


def test_overflowing_spec(tmp_path):
    path = tmp_path / "big.json"
    path.write_text(
        json.dumps(
            {
                **GOOD,
                "weights": [[[900, 900, 900]] * 2, [[900, 900]] * 3],
                "activations": ["linear", "softmax"],
                "loss": "cross_entropy",
                "targets": [[0, 1]],
            }
        )
    )
    assert "overflow" in one_error_line(runner.invoke(app, ["solve", str(path)]))


def test_generate_writes_key_and_templates_and_refuses_to_overwrite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["generate", "--seed", "42", "--variants", "2"])
    assert result.exit_code == 0, result.output
    key = json.loads((tmp_path / "answer_keys" / "classic-42.json").read_text())
    assert key["format"] == "bpquiz-key/1" and key["exam"]["seed"] == 42
    codes = [v["variant"] for v in key["variants"]]
    template = json.loads(
        (tmp_path / "exams" / "classic-42" / f"{codes[0]}-answers.json").read_text()
    )
    asked = [q for q in key["variants"][0]["quantities"] if q["asked"]]
    assert template == {
        "format": "bpquiz-answers/1",
        "variant": codes[0],
        "student": "",
        "symbols": {q["id"]: q["symbol"] for q in asked},
        "answers": dict.fromkeys(q["id"] for q in asked),
    }
    before = (tmp_path / "answer_keys" / "classic-42.json").read_bytes()
    again = runner.invoke(app, ["generate", "--seed", "42"])
    line = one_error_line(again)
    assert "already exists" in line and "--force" in line
    assert (tmp_path / "answer_keys" / "classic-42.json").read_bytes() == before


def test_fresh_seed_is_printed_and_stored(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(
        app, ["generate", "--preset", "chain", "--name", "quiz", "--ask", "a,delta"]
    )
    assert result.exit_code == 0, result.output
    key = json.loads((tmp_path / "answer_keys" / "quiz.json").read_text())
    assert f"Seed {key['exam']['seed']}" in result.stdout
    kinds = {q["kind"] for q in key["variants"][0]["quantities"] if q["asked"]}
    assert kinds == {"a", "delta"}


def test_roster_gives_one_variant_per_student(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "class.csv").write_text("id,name\ns1,Ada Lovelace\ns2,Alan Turing\n")
    result = runner.invoke(app, ["generate", "--seed", "1", "--roster", "class.csv"])
    assert result.exit_code == 0, result.output
    key = json.loads((tmp_path / "answer_keys" / "classic-1.json").read_text())
    assert [v["student"] for v in key["variants"]] == [
        {"id": "s1", "name": "Ada Lovelace"},
        {"id": "s2", "name": "Alan Turing"},
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "nope"], "unknown preset 'nope'"),
        (["--loss", "cross_entropy"], "cross_entropy"),
        (["--bias", "some"], "--bias: expected one of per_neuron, shared, none"),
        (["--batch", "20"], "--batch: expected 1 to 8"),
        (["--name", "../evil"], "--name"),
        (["--decimals", "3", "--sigfigs", "3"], "either --decimals or --sigfigs"),
        (["--layers", "2,x,2"], "--layers: expected comma-separated numbers"),
        (["--layers", "2,3,2,2,2,2,2"], "layers"),
        # Each message names the option, not a field of the spec drawn from the options.
        (["--decimals", "0"], "--decimals: rounding digits must be 1 to 10, got 0"),
        (["--sigfigs", "11"], "--sigfigs: rounding digits must be 1 to 10, got 11"),
        (["--activation", "swish"], "--activation: expected names from sigmoid, tanh"),
        (["--activation", "softmax"], "--activation: expected softmax only on the output layer"),
        (["--activation", "tanh,tanh,tanh"], "--activation: expected one activation name or"),
        (["--loss", "bce", "--activation", "tanh"], "--activation: expected sigmoid on the"),
        (["--lr", "20"], "--lr: expected a number greater than 0 (and at most 10), got 20.0"),
        (["--points", "delta=1,delta=5"], "--points: delta is given twice"),
        (["--points", "delta=2", "--ask", "z,a"], "--points: delta is not asked on the sheet"),
        (["--points", "delta=1e-9"], "--points: delta=1e-09 is finer than 0.01"),
        (["--points", "delta=nan"], "--points: delta needs a number of points from 0 to 100"),
    ],
)
def test_bad_generate_options(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["generate", "--seed", "1", *args])
    assert result.exit_code != 0
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert message in result.output
    assert "these options" not in result.output and "field '" not in result.output
    assert not (tmp_path / "answer_keys").exists()


@pytest.mark.parametrize("keys", ["kk", "./kk/", "link"])
def test_the_templates_never_go_among_the_keys(tmp_path, monkeypatch, keys):
    """Grading reads every .json file of the keys folder as a key: --out there (by any spelling,
    or through a link) would break every later `grade --keys`."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kk").mkdir()
    (tmp_path / "link").symlink_to("kk")
    args = ["generate", "--seed", "1", "--out", "kk", "--keys-dir", keys, "--format", "html"]
    line = one_error_line(runner.invoke(app, args))
    assert f"--out kk and --keys-dir {Path(keys)} are the same folder" in line
    assert not list((tmp_path / "kk").glob("*.json"))


def test_bad_roster(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.csv").write_text("student,email\n1,a@b\n")
    line = one_error_line(runner.invoke(app, ["generate", "--roster", "r.csv"]))
    assert "r.csv: line 1: expected the columns id,name" in line
    (tmp_path / "r.csv").write_text("id,name\n1,A\n1,B\n")
    assert "line 3: the id '1' appears twice" in one_error_line(
        runner.invoke(app, ["generate", "--roster", "r.csv"])
    )


def test_a_roster_quote_never_closed_is_an_error_not_one_long_name(tmp_path, monkeypatch):
    """The quote never closed swallowed the rows after it: one student named "Ada Lovelaces2,Alan
    Turings3,Grace Hopper", exit 0. A line break in a cell is an error naming the line the row
    starts on, for generate and grade alike (a blank line counted)."""
    monkeypatch.chdir(tmp_path)
    roster = tmp_path / "r.csv"
    roster.write_text('id,name\n\ns1,"Ada Lovelace\ns2,Alan Turing\ns3,Grace Hopper\n')
    line = one_error_line(runner.invoke(app, ["generate", "--roster", "r.csv"]))
    assert line == (
        "Error: r.csv: line 3: the name holds a line break (a quote that is never closed? the "
        "rows after it would be read as part of this one)"
    )
    assert not (tmp_path / "answer_keys").exists()
    made = runner.invoke(app, ["generate", "--seed", "1", "--format", "html"])
    assert made.exit_code == 0, made.output
    [answers] = (tmp_path / "exams" / "classic-1").glob("*-answers.json")
    graded = runner.invoke(app, ["grade", str(answers), "--roster", "r.csv"])
    assert "r.csv: line 3: the name holds a line break" in one_error_line(graded)
    # A cell may hold a comma when quoted, as spreadsheets save it
    roster.write_text('id,name\ns1,"Lovelace, Ada"\ns2,Alan Turing\n')
    from bpquiz.exercises.roster import load_roster

    assert [s["name"] for s in load_roster(roster)] == ["Lovelace, Ada", "Alan Turing"]


def test_presets_and_version():
    result = runner.invoke(app, ["presets"])
    assert result.exit_code == 0
    for name in ("classic", "chain", "xor", "single-output", "batch", "softmax", "deep"):
        assert name in result.stdout
    assert runner.invoke(app, ["--version"]).stdout.startswith("bpquiz ")


def test_every_command_has_help_with_an_example():
    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0
        assert "Example" in result.stdout, name


def test_help_imports_nothing_heavy():
    code = (
        "import sys; from bpquiz.cli import app; from typer.testing import CliRunner; "
        "CliRunner().invoke(app, ['--help']); "
        "print(sorted(m for m in ('weasyprint', 'numpy', 'pypdf') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_python_dash_m_runs():
    out = subprocess.run(
        [sys.executable, "-m", "bpquiz", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.startswith("bpquiz")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "--decimals", "0"], "--decimals: rounding digits must be 1 to 10, got 0"),
        (["generate", "--bogus"], "No such option: --bogus"),
        (["grade"], "Missing argument 'paths'"),
        (["nosuch"], "No such command 'nosuch'"),
        (["grade", "x.json", "--gradebook", "foo"], "--gradebook: expected bpquiz, moodle, canvas"),
    ],
)
def test_wrong_usage_is_one_line_naming_the_help(args, message):
    """Wrong usage, as any other error, is one line (click's own is four: usage, a hint, a blank
    line and the error), with exit code 2; run as a user runs it, in a process of its own."""
    done = subprocess.run(
        [sys.executable, "-m", "bpquiz", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("Error: ") and message in line, line
    assert line.endswith("--help`)") and "Traceback" not in done.stderr


def test_paths_that_look_like_markup_are_printed_as_they_are(tmp_path, monkeypatch):
    """A folder named "[/x]" (rich markup for closing a tag) is a path like any other."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "[/x]").mkdir(parents=True)  # folder "[" holding "x]"
    spec = tmp_path / "[/x]" / "[bold]spec.json"
    spec.write_text(json.dumps(GOOD))
    solved = runner.invoke(app, ["solve", str(spec)])
    assert solved.exit_code == 0, solved.output
    assert solved.stdout.startswith(f"{spec}: layers 2-3-2")
    made = runner.invoke(
        app, ["generate", "--seed", "2", "--format", "html", "--fillable", "--out", "[/x]/out"]
    )
    assert made.exit_code == 0, made.output
    assert "Answer templates:  [/x]/out/" in made.stdout
    assert made.stderr.startswith("Warning: --fillable shapes PDF sheets only")


def test_outputs_get_ordinary_file_permissions(tmp_path):
    import os
    import stat

    from bpquiz.files import write_atomic

    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temp file left behind


def test_two_exams_with_one_seed_get_different_codes_and_clashes_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for preset in ("classic", "xor"):
        args = ["generate", "--seed", "42", "--preset", preset, "--format", "html"]
        assert runner.invoke(app, args).exit_code == 0
    keys = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "answer_keys").glob("*.json")}
    codes = [{v["variant"] for v in k["variants"]} for k in keys.values()]
    assert not codes[0] & codes[1]
    # A copy of a key under another name would make grading ambiguous: refused, nothing written.
    (tmp_path / "answer_keys" / "copy.json").write_text(json.dumps(keys["xor-42"]))
    args = ["generate", "--seed", "42", "--preset", "xor", "--force", "--format", "html"]
    line = one_error_line(runner.invoke(app, args))
    assert "already used by answer_keys/copy.json" in line


def test_a_failed_render_leaves_no_key_and_a_filled_template_is_kept(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "sheet.html").write_text("{% extends 'base.html' %}{% block x %}")
    result = runner.invoke(app, ["generate", "--seed", "5", "--templates", "broken"])
    assert result.exit_code == 1 and "template" in result.stderr
    assert not (tmp_path / "answer_keys" / "classic-5.json").exists()  # a plain rerun works
    assert runner.invoke(app, ["generate", "--seed", "5", "--format", "html"]).exit_code == 0
    [template] = (tmp_path / "exams" / "classic-5").glob("*-answers.json")
    filled = template.read_text().replace("null", "0.5", 1)
    template.write_text(filled)
    again = runner.invoke(app, ["generate", "--seed", "5", "--format", "html", "--force"])
    assert "differs from its blank template" in one_error_line(again)
    assert template.read_text() == filled


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        ("id;name\ns1;Zoë Ångström\ns2;Bo\n", "utf-8-sig"),
        ("id\tname\ns1\tZoë Ångström\ns2\tBo\n", "utf-16"),
    ],
)
def test_roster_as_spreadsheets_save_it(tmp_path, monkeypatch, content, encoding):
    from bpquiz.exercises.roster import load_roster

    (tmp_path / "r.csv").write_bytes(content.encode(encoding))
    assert load_roster(tmp_path / "r.csv") == [
        {"id": "s1", "name": "Zoë Ångström"},
        {"id": "s2", "name": "Bo"},
    ]


def test_generate_sets_a_typed_in_problem_as_the_exam(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "mazur.json"
    spec.write_text(json.dumps({**GOOD, "delta_sign": "error"}))
    roster = tmp_path / "class.csv"
    roster.write_text("id,name\ns1,Ada\ns2,Bo\n")
    result = runner.invoke(
        app, ["generate", "--spec", str(spec), "--roster", str(roster), "--format", "html"]
    )
    assert result.exit_code == 0, result.output
    key = json.loads((tmp_path / "answer_keys" / "mazur.json").read_text())
    assert key["exam"]["preset"] == "spec"
    problems = [v["problem"] for v in key["variants"]]
    assert len(problems) == 2 and problems[0] == problems[1]
    assert problems[0]["weights"] == GOOD["weights"] and problems[0]["delta_sign"] == "error"
    assert [v["student"]["id"] for v in key["variants"]] == ["s1", "s2"]
    clash = runner.invoke(app, ["generate", "--spec", str(spec), "--layers", "2,2,2"])
    assert clash.exit_code == 2 and "--layers does not go with --spec" in clash.output
