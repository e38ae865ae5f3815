"""Reading answer files and typed numbers: everything a student might hand in."""

from __future__ import annotations

import json
import os

import pytest

from bpquiz.exercises.key import ANSWERS_FORMAT
from bpquiz.grading.readers.json_file import MAX_BYTES, parse_answers, read_answers
from bpquiz.grading.readers.numbers import JsonNumber, NotANumber, parse_number
from bpquiz.grading.readers.sheet import AnswersError
from bpquiz.maths.rounding import Mode

# (typed, value, decimals, sigfigs)
GOOD = [
    ("0.7514", 0.7514, 4, 4),
    ("+0.75", 0.75, 2, 2),
    (".75", 0.75, 2, 2),
    ("-.75", -0.75, 2, 2),
    ("7.514e-1", 0.7514, 4, 4),
    ("7.514E-1", 0.7514, 4, 4),
    ("75.14e-2", 0.7514, 4, 4),
    ("0,7514", 0.7514, 4, 4),
    ("-0,25", -0.25, 2, 2),
    ("\u22120.25", -0.25, 2, 2),  # the Unicode minus a PDF gives when copied
    ("\u2212 0.25", -0.25, 2, 2),
    ("\u20130.25", -0.25, 2, 2),  # en dash, from a word processor
    ("- 0.25", -0.25, 2, 2),
    ("  0.5933  ", 0.5933, 4, 4),
    ("\t0.5933\n", 0.5933, 4, 4),
    ("\u00a00.5933\u2009", 0.5933, 4, 4),  # no-break and thin spaces
    ("0.5930", 0.593, 4, 4),  # trailing zeros are digits the student wrote
    ("0.0093", 0.0093, 4, 2),
    ("-0.0080", -0.008, 4, 2),
    ("1", 1.0, 0, 1),
    ("12", 12.0, 0, 2),
    ("1.", 1.0, 0, 1),
    ("0", 0.0, 0, 1),
    ("0.0000", 0.0, 4, 4),
    ("-0.0", -0.0, 1, 1),
    ("1e-4", 0.0001, 4, 1),
    ("2.5e+1", 25.0, -0, 2),
    ("7.5E3", 7500.0, -2, 2),
    ("1e-400", 0.0, 400, 1),  # underflows to 0: a number, just a useless one
]


@pytest.mark.parametrize(("typed", "value", "decimals", "sigfigs"), GOOD)
def test_numbers_as_people_type_them(typed, value, decimals, sigfigs):
    number = parse_number(typed)
    assert number.value == pytest.approx(value, abs=1e-15)
    assert number.decimals == decimals
    assert number.sigfigs == sigfigs
    assert number.digits(Mode.DECIMALS) == decimals
    assert number.digits(Mode.SIGFIGS) == sigfigs


@pytest.mark.parametrize(
    ("literal", "value", "decimals"),
    [("0.5930", 0.593, 4), ("-1", -1.0, 0), ("7.514e-1", 0.7514, 4), ("0", 0.0, 0)],
)
def test_json_number_literals_keep_their_digits(literal, value, decimals):
    number = parse_number(JsonNumber(literal))
    assert (number.value, number.decimals) == (value, decimals)


BAD = [
    ("", "empty answer"),
    ("   ", "empty answer"),
    ("NaN", "NaN is not a number"),
    ("nan", "NaN is not a number"),
    ("-nan", "NaN is not a number"),
    ("inf", "infinity is not an answer"),
    ("-Infinity", "infinity is not an answer"),
    ("∞", "infinity is not an answer"),
    ("1e400", "too large"),
    ("-1e400", "too large"),
    ("9" * 400, "too long"),
    ("abc", "is not a number"),
    ("zero", "is not a number"),
    ("0.75a", "is not a number"),
    ("0x1f", "is not a number"),
    ("1_000", "is not a number"),  # float() would take it; a student didn't mean it
    ("٣", "is not a number"),  # Arabic-Indic digit three: float() would take it too
    ("1,234.5", "either a decimal point or a decimal comma"),
    ("1,2,3", "is not a number"),
    ("0..5", "is not a number"),
    ("--0.5", "is not a number"),
    ("+-0.5", "is not a number"),
    ("e5", "is not a number"),
    (".", "is not a number"),
    ("-", "is not a number"),
    ("1e", "is not a number"),
    ("3/4", "fraction as a decimal"),
    ("75%", "is not a number"),
    ("0.5 0.6", "is not a number"),
    ("=1+1", "is not a number"),
]


@pytest.mark.parametrize(("typed", "reason"), BAD)
def test_not_numbers_say_why(typed, reason):
    with pytest.raises(NotANumber, match=reason.replace("(", r"\(").replace(".", r"\.")):
        parse_number(typed)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (True, "true is not a number"),
        (False, "false is not a number"),
        ([0.5], "a list is not a number"),
        ({"value": 0.5}, "an object is not a number"),
        (JsonNumber("NaN"), "NaN is not a number"),
        (JsonNumber("-Infinity"), "infinity is not an answer"),
        (JsonNumber("1e400"), "too large"),
    ],
)
def test_json_values_that_are_not_numbers(raw, reason):
    with pytest.raises(NotANumber, match=reason):
        parse_number(raw)


# --- whole files -----------------------------------------------------------------------------


def document(**changes) -> dict:
    doc = {
        "format": ANSWERS_FORMAT,
        "variant": "5E945",
        "student": "s1",
        "answers": {"z1_1": 0.5, "a1_1": "0,25"},
    }
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not ...}


def as_bytes(doc) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


def test_a_good_file():
    sheet = parse_answers(as_bytes(document()), "s1.json")
    assert (sheet.variant, sheet.student, sheet.source) == ("5E945", "s1", "s1.json")
    assert sheet.answers == {"z1_1": "0.5", "a1_1": "0,25"}
    assert isinstance(sheet.answers["z1_1"], JsonNumber)
    assert not isinstance(sheet.answers["a1_1"], JsonNumber)
    assert {k: str(v) for k, v in sheet.answers.items()} == {"z1_1": "0.5", "a1_1": "0,25"}


def test_a_bom_and_a_blank_student_are_fine():
    sheet = parse_answers(b"\xef\xbb\xbf" + as_bytes(document(student="")), "x")
    assert sheet.student == ""
    assert parse_answers(as_bytes(document(student=None)), "x").student == ""
    assert parse_answers(as_bytes(document(student=...)), "x").student == ""


BROKEN = [
    (b"", "empty file"),
    (b"  \n", "empty file"),
    (b"\xff\xfe{\x00}\x00", "UTF-16"),
    (b'{"format": "caf\xe9"}', "not UTF-8 text (byte 0xe9 at offset 15)"),
    (b"{'format': 1}", "not JSON"),
    (b'{"format": "bpquiz-answers/1",', "not JSON"),
    (b"[1, 2]", "expected a JSON object {…}, got a list"),
    (b'"hello"', "got a string"),
    (b"42", "got a number"),
    (b"null", "got null"),
    (b"[" * 100_000 + b"]" * 100_000, "nested more than 32 levels"),
    (
        as_bytes(document(extra=json.loads("[" * 40 + "]" * 40))),
        "nested more than 32 levels",
    ),
    (as_bytes(document(format=...)), 'no "format" field'),
    (as_bytes(document(format="bpquiz-answers/2")), 'format is "bpquiz-answers/2"'),
    (as_bytes(document(format="bpquiz-key/1")), "this is an answer key"),
    (as_bytes(document(format=1)), "format is 1"),
    (as_bytes(document(variant=...)), '"variant" must be the code'),
    (as_bytes(document(variant=12345)), '"variant" must be the code'),
    (as_bytes(document(variant="  ")), '"variant" must be the code'),
    (as_bytes(document(student=1234)), '"student" must be a string'),
    (as_bytes(document(student=["s1"])), '"student" must be a string'),
    (as_bytes(document(student="s1\x1b[31m")), "printable text"),
    (as_bytes(document(student="x" * 201)), "printable text"),
    (as_bytes(document(answers=...)), 'no "answers" object'),
    (as_bytes(document(answers=[0.5, 0.6])), '"answers" must be an object'),
    (as_bytes(document(answers="0.5")), '"answers" must be an object'),
    (as_bytes(document(answers=None)), '"answers" must be an object'),
    (
        b'{"format": "bpquiz-answers/1", "variant": "5E945", "student": "s1",'
        b' "answers": {"z1_1": 0.5, "z1_1": 0.6}}',
        'the key "z1_1" appears twice',
    ),
    (
        b'{"format": "bpquiz-answers/1", "variant": "5E945", "variant": "AAAAA", "answers": {}}',
        'the key "variant" appears twice',
    ),
]


@pytest.mark.parametrize(("data", "reason"), BROKEN)
def test_broken_files_say_what_to_fix(data, reason):
    with pytest.raises(AnswersError) as caught:
        parse_answers(data, "f.json")
    assert reason in str(caught.value)


def test_read_answers_from_disk(tmp_path):
    good = tmp_path / "good.json"
    good.write_bytes(as_bytes(document()))
    assert read_answers(good).student == "s1"

    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_BYTES + 1))
    with pytest.raises(AnswersError, match="larger than 1 MiB"):
        read_answers(big)
    exactly = tmp_path / "exactly.json"
    padding = MAX_BYTES - len(as_bytes(document()))
    exactly.write_bytes(as_bytes(document()) + b" " * padding)
    assert read_answers(exactly).variant == "5E945"  # 1 MiB itself is allowed

    with pytest.raises(AnswersError, match="no such file"):
        read_answers(tmp_path / "missing.json")
    with pytest.raises(AnswersError, match="is a folder"):
        read_answers(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(AnswersError, match="not a regular file"):
        read_answers(fifo)


def test_format_constant_matches_the_generator():
    from bpquiz.exercises.exam import ANSWERS_FORMAT as written

    assert written == ANSWERS_FORMAT
