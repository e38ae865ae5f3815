"""Issue 14: safe on shared machines and against hostile files. Each finding of the issue has its
test here (the hostile submissions themselves, measured in a subprocess, are in test_hostile.py).
"""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from bpquiz.cli import app

runner = CliRunner()

SPEC = {
    "layers": [2, 2, 1],
    "activations": ["relu", "linear"],
    "loss": "half_sse",
    "learning_rate": 10,
    "weights": [[[999999.5, -2], [3, 999999.5]], [[999999.5], [999999.5]]],
    "biases": [[999999.5, 0], [0.5]],
    "inputs": [[999999.5, 999999.5]],
    "targets": [[1]],
}


def one_error_line(result) -> str:
    assert result.exit_code != 0
    assert "Traceback" not in result.output and "internal error" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


# --- internal errors that become one clear line -------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({}, "grow too large"),  # ReLU values near 1e6 with lr 10: once decimal.InvalidOperation
        ({"activations": ["sigmoid", "sigmoid"], "learning_rate": 1}, "grow too large"),
        (
            {
                "layers": [2, 2, 1],
                "activations": ["sigmoid", "relu"],
                "weights": [[[509, 761.5], [738, -447]], [[-220.2862], [164]]],
                "biases": [[352.2, 413], [-880.6]],
                "inputs": [[-925, 76.9]],
                "targets": [[0.16]],
            },
            "grow too large",  # σ(−4.7e5) exactly: a fraction of 200,000 digits
        ),
        (
            {
                "layers": [2, 2, 2],
                "activations": ["tanh", "softmax"],
                "loss": "cross_entropy",
                "weights": [
                    [[-465810, -496839], [-697980.5, 709138]],
                    [[-894377, 8247], [2256, 9693]],
                ],
                "biases": [[-746747, -113300.4], [790827.19, -950760.58]],
                "inputs": [[-819246.81, -828429]],
                "targets": [[1, 0]],
            },
            "overflow",  # every exponential of the softmax underflowing: a division by zero
        ),
        ({"activations": [["sigmoid"], "linear"]}, "field 'activations[0]'"),
        ({"loss": ["half_sse"]}, "field 'loss'"),
    ],
)
def test_extreme_specs_are_one_clear_line_quickly(tmp_path, change, message):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({**SPEC, **change}))
    for command in (["solve", str(path)], ["generate", "--spec", str(path), "--format", "html"]):
        start = time.monotonic()
        result = (
            runner.invoke(
                app, [*command, "--keys-dir", str(tmp_path / "k"), "--out", str(tmp_path / "o")]
            )
            if command[0] == "generate"
            else runner.invoke(app, command)
        )
        assert message in one_error_line(result)
        assert time.monotonic() - start < 5
