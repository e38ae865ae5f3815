"""Answers from a spreadsheet: a row per student, graded like answers files; bad rows by number."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from bpquiz.api import generate_exam
from bpquiz.cli import app
from bpquiz.exercises.draw import customise
from bpquiz.grading.readers.sheet import AnswersError
from bpquiz.grading.readers.spreadsheet import BadRow, Row, column_letter, parse_table

runner = CliRunner()


@pytest.fixture(scope="module")
def exam(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("csv")
    settings = customise("classic")
    written = generate_exam(
        settings,
        42,
        3,
        students=None,
        name="classic-42",
        keys_dir=root / "keys",
        out_dir=root / "exams",
    )
    variants = written.variants
    rule = settings.rounding
    typed = {
        v.code: {q.id: rule.format(v.solution.values[q.id]) for q in v.solution.computed()}
        for v in variants
    }
    return SimpleNamespace(
        root=root,
        keys=root / "keys",
        codes=[v.code for v in variants],
        ids=list(typed[variants[0].code]),
        typed=typed,
        templates=written.answers,
    )


def grade(exam, *paths: Path) -> tuple[int, dict, str]:
    result = runner.invoke(app, ["grade", *map(str, paths), "--keys", str(exam.keys), "--json"])
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout), result.stderr


def table(header: list[str], rows: list[list[str]], delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows([header, *rows])
    return out.getvalue()


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def test_rows_grade_exactly_like_the_same_answers_in_json_files(exam, tmp_path):
    """The round trip: one row per student; the same report as one JSON file per student."""
    students = []
    for n, code in enumerate(exam.codes):
        answers = dict(exam.typed[code])
        answers[exam.ids[n]] = "0.5"  # a different mistake each
        answers[exam.ids[-1]] = ""  # and one left blank
        students.append((f"s{n}", code, answers))
    header = ["student", "variant", *exam.ids]
    rows = [[s, code, *(a[i] for i in exam.ids)] for s, code, a in students]
    sheet = write(tmp_path / "quiz.csv", table(header, rows))

    folder = tmp_path / "json"
    for student, code, answers in students:
        doc = {
            "format": "bpquiz-answers/1",
            "variant": code,
            "student": student,
            "answers": {k: (v or None) for k, v in answers.items()},
        }
        write(folder / f"{student}.json", json.dumps(doc))

    status, from_csv, _ = grade(exam, sheet)
    assert status == 0 and from_csv["errors"] == []
    assert grade(exam, folder)[1] == from_csv
    assert [r["student"] for r in from_csv["results"]] == ["s0", "s1", "s2"]
    full = float(len(exam.ids))
    assert [r["score"] for r in from_csv["results"]] == [full - 2] * 3
    assert from_csv["results"][0]["items"][-1]["status"] == "missing"


def test_spreadsheet_habits_bom_semicolons_decimal_commas_blank_rows(exam, tmp_path):
    """Excel in a decimal-comma locale: BOM, ';' between cells, '0,5933', a minus copied from a
    PDF, blank rows at the end, columns in another order, header in capitals with spaces."""
    code = exam.codes[0]
    ids = list(reversed(exam.ids))
    typed = {k: v.replace(".", ",") for k, v in exam.typed[code].items()}
    header = [" Variant", "STUDENT ", "Name", *ids]
    text = table(header, [[code, "s1", "Ada", *(typed[i] for i in ids)]], ";")
    text += ";;;\r\n\r\n;;\r\n"
    path = write(tmp_path / "excel.csv", b"\xef\xbb\xbf" + text.encode("utf-8"))
    status, doc, stderr = grade(exam, path)
    assert status == 0, stderr
    (result,) = doc["results"]
    assert result["score"] == result["max_score"] == len(exam.ids)

    # A comma-separated file with the decimal comma in quotes, as a spreadsheet writes it.
    text = table(["student", "variant", *ids], [["s1", code, *(typed[i] for i in ids)]])
    assert '"0,' in text or '"−0,' in text
    status, doc, _ = grade(exam, write(tmp_path / "quoted.csv", text))
    assert status == 0 and doc["results"][0]["score"] == len(exam.ids)

    # Excel's "Unicode text": UTF-16 with tabs.
    text = table(["student", "variant", *ids], [["s1", code, *(typed[i] for i in ids)]], "\t")
    status, doc, _ = grade(exam, write(tmp_path / "unicode.csv", text.encode("utf-16")))
    assert status == 0 and doc["results"][0]["score"] == len(exam.ids)


def test_bad_rows_are_reported_by_row_number_and_the_rest_is_graded(exam, tmp_path):
    a, b = exam.codes[:2]
    ids = exam.ids[:3]
    good = [exam.typed[a][i] for i in ids]
    rows = [
        ["g1", a, *good],  # row 2
        ["nv", "", *good],  # row 3: no variant
        ["uv", "ZZZZZ", *good],  # row 4: unknown variant
        ["g2", b.lower(), "0.1", "", ""],  # row 5: code typed in lower case: fine
        ["ex", a, "0", "5933", *good[1:]],  # row 6: an unquoted decimal comma
        ["", a, *good],  # row 7: no student
        ["bad", a, "abc", "NaN", "−0.25"],  # row 8: invalid answers are items, not row errors
    ]
    text = table(["student", "variant", *ids], rows).replace('"', "")
    path = write(tmp_path / "class" / "quiz.csv", text)
    status, doc, stderr = grade(exam, path)
    assert status == 1
    assert [r["student"] for r in doc["results"]] == ["g1", "g2", "bad"]
    graded = {r["student"]: r for r in doc["results"]}
    assert [i["status"] for i in graded["bad"]["items"][:3]] == ["invalid", "invalid", "wrong"]
    errors = [(Path(e["file"]).name, e["error"]) for e in doc["errors"]]
    assert [name for name, _ in errors] == ["quiz.csv"] * 4
    expected = [
        "row 3: no variant code",
        'row 4: unknown variant "ZZZZZ"',
        "row 6: 6 cells, more than the header has columns (5): a decimal comma",
        "row 7: no student id",
    ]
    for (_, error), start in zip(errors, expected, strict=True):
        assert error.startswith(start), error
        assert error.split(":")[0] in stderr


def test_unknown_columns_are_listed_and_the_rest_graded(exam, tmp_path):
    """A misspelt id loses answers (an error); an LMS's extra column costs nothing (a note)."""
    code = exam.codes[0]
    ids = exam.ids
    header = ["student", "variant", "Email", "z1-1", "", *ids]
    row = ["s1", code, "s1@uni.edu", "0.1", "", *(exam.typed[code][i] for i in ids)]
    status, doc, stderr = grade(exam, write(tmp_path / "lms.csv", table(header, [row])))
    assert status == 1
    assert doc["results"][0]["score"] == len(ids)
    (error,) = doc["errors"]
    assert error["error"] == 'column not graded, no variant in this file asks for it: "z1-1" (D)'
    (note,) = doc["notes"]
    assert note["note"] == 'column not graded, no variant in this file asks for it: "email" (C)'
    assert f"Note: {note['file']}: column not graded" in stderr


def test_a_harmless_extra_column_is_a_note_not_an_error(exam, tmp_path):
    code = exam.codes[0]
    ids = exam.ids
    header = ["student", "variant", "Email", "Timestamp", *ids]
    row = ["s1", code, "s1@uni.edu", "2026-03-12 10:00", *(exam.typed[code][i] for i in ids)]
    status, doc, _ = grade(exam, write(tmp_path / "lms.csv", table(header, [row])))
    assert status == 0
    assert doc["errors"] == []
    (note,) = doc["notes"]
    assert note["note"].endswith('"email" (C), "timestamp" (D)')


def test_an_id_another_variant_asks_is_that_rows_error(exam, tmp_path):
    """Mixed exams in one sheet: a column only some variants ask is no row's business unless
    that row fills it."""
    keys = tmp_path / "keys"
    (other,) = generate_exam(
        customise("xor"), 3, 1, name="xor-3", keys_dir=keys, out_dir=tmp_path / "e"
    ).variants
    for key in exam.keys.glob("*.json"):
        (keys / key.name).write_bytes(key.read_bytes())
    only_classic = sorted(set(exam.ids) - {q.id for q in other.solution.computed()})[0]
    header = ["student", "variant", only_classic]
    rows = [["x1", other.code, ""], ["x2", other.code, "0.5"], ["c1", exam.codes[0], "0.5"]]
    path = write(tmp_path / "mixed.csv", table(header, rows))
    result = runner.invoke(app, ["grade", str(path), "--keys", str(keys), "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    # x2's row is reported, and graded without the answer its variant does not ask.
    assert [r["student"] for r in doc["results"]] == ["x1", "x2", "c1"]
    (error,) = doc["errors"]
    assert error["error"].startswith(f'row 3: unknown quantity id "{only_classic}"')


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"student,z1_1\r\ns1,0.5\r\n", "the first row must name the columns"),
        (b"student,variant,z1_1,Z1_1\r\n", 'the column "z1_1" appears twice (columns C and D)'),
        ("student,variant\r\nJosé,K7Q2M\r\n".encode("latin-1"), "not UTF-8 text"),
        (b"student,variant,score,max_score,percent\r\ns1,K7Q2M,1,2,50\r\n", "a gradebook"),
        (b'student,variant\r\ns1,"K7Q2M\r\n', ""),
    ],
)
def test_a_broken_spreadsheet_is_one_error_for_the_file(exam, tmp_path, content, reason):
    path = write(tmp_path / "bad.csv", content)
    good = write(
        tmp_path / "good.json",
        json.dumps(
            {"format": "bpquiz-answers/1", "variant": exam.codes[0], "student": "ok", "answers": {}}
        ),
    )
    status, doc, stderr = grade(exam, path, good)
    assert [r["student"] for r in doc["results"]] == ["ok"]
    if reason:
        assert status == 1
        (error,) = doc["errors"]
        assert reason in error["error"] and "bad.csv" in stderr
    else:
        # An unclosed quote swallows the rest of the file: one row whose code is not a code.
        assert status == 1 and "row 2" in doc["errors"][0]["error"]


def test_a_folder_mixes_json_and_csv_in_order(exam, tmp_path):
    code = exam.codes[0]
    folder = tmp_path / "mixed"
    template = json.loads(exam.templates[0].read_text())
    write(folder / "a.json", json.dumps(dict(template, student="a")))
    write(folder / "b.csv", table(["student", "variant"], [["b1", code], ["b2", code]]))
    write(folder / "c.json", json.dumps(dict(template, student="c")))
    status, doc, _ = grade(exam, folder)
    assert status == 0
    assert [r["student"] for r in doc["results"]] == ["a", "b1", "b2", "c"]


def test_parse_table_keeps_cells_as_typed():
    # "−0,5" unquoted is two cells: the row is one cell too wide, even though the extra cell is
    # blank, so "−0" and "5" are never graded as z1_1 and a1_1.
    text = "student,variant,z1_1,a1_1\r\ns1, k7q2m , −0,5 ,\r\ns2,k7q2m,−0,5\r\n"
    parsed = parse_table(text.encode(), "t.csv")
    assert parsed.columns == ("z1_1", "a1_1")
    assert [type(r) for r in parsed.rows] == [BadRow, Row]
    assert parsed.rows[0].error.startswith("5 cells, more than the header has columns (4)")
    assert parsed.rows[1] == Row(3, "s2", "k7q2m", {"z1_1": "−0", "a1_1": "5"})  # can't tell
    short = parse_table(b"student,variant,z1_1,a1_1\r\ns1,K7Q2M,0.5\r\n", "t.csv").rows[0]
    assert short.error.startswith("3 cells, fewer than the header has columns (4)")
    (short,) = parse_table(b"student;variant;z1_1;a1_1\r\ns1;K7Q2M;0,5\r\n", "t.csv").rows
    assert short == Row(2, "s1", "K7Q2M", {"z1_1": "0,5"})
    text = 'student,variant,z1_1,a1_1\r\ns1, k7q2m ," −0,5 ",\r\n'
    (row,) = parse_table(text.encode(), "t.csv").rows
    assert row == Row(2, "s1", "k7q2m", {"z1_1": "−0,5"})
    with pytest.raises(AnswersError):
        parse_table(b"\n\n", "t.csv")


def test_column_letters():
    assert [column_letter(i) for i in (0, 1, 25, 26, 27, 51, 52, 701, 702)] == [
        "A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA",
    ]  # fmt: skip
