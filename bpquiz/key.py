"""The answer key: one JSON document per exam, holding every variant's problem and quantities."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bpquiz import __version__
from bpquiz.generate import Settings, Variant
from bpquiz.notation import Notation
from bpquiz.solution import Solution

KEY_FORMAT = "bpquiz-key/1"
DEFAULT_KEYS_DIR = Path("answer_keys")


def problem_entry(
    solution: Solution, settings: Settings, code: str | None = None, student: Any = None
) -> dict[str, Any]:
    """One variant of the key: its spec and every computed quantity (key notation: layered)."""
    p = solution.problem
    notation = Notation(p.depth, p.examples)
    return {
        "variant": code,
        "student": student,
        "problem": p.to_dict(),
        "quantities": solution.key_entries(notation, settings.rounding, settings.asked),
    }


def key_document(
    name: str, seed: int | None, settings: Settings, variants: Sequence[Variant]
) -> dict[str, Any]:
    return {
        "format": KEY_FORMAT,
        "exam": {
            "name": name,
            "seed": seed,
            "preset": settings.preset,
            "rounding": settings.rounding.to_dict(),
            "asked": list(settings.asked),
            "bpquiz_version": __version__,
        },
        "variants": [problem_entry(v.solution, settings, v.code, v.student) for v in variants],
    }


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"
