"""Random exercises: presets, exam-friendly numbers, and redrawing the ones not worth doing."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bpquiz.errors import OptionError
from bpquiz.exercises.presets import DEFAULT_PRESET, PRESETS, Settings, checked_points
from bpquiz.maths.functions import ACTIVATIONS, LOSSES
from bpquiz.maths.ids import KINDS
from bpquiz.maths.mistakes import CATALOGUE
from bpquiz.maths.rounding import Rounding
from bpquiz.maths.solution import Solution
from bpquiz.maths.spec import (
    BIAS_MODES,
    DELTA_SIGNS,
    MAX_EXAMPLES,
    MAX_LAYERS,
    MAX_NEURONS,
    REDUCTIONS,
    Problem,
    SpecError,
    parse_problem,
)

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""No 0/O, 1/I/L: a code read off paper is typed back without ambiguity."""
CODE_LENGTH = 5
MAX_ATTEMPTS = 2000
LEARNING_RATES = (0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0)
MIN_GRADIENT_UNITS = 2
MIN_GRADIENT = 2e-4
DEAD_RELU_FROM = 3
"""A ReLU layer of this many neurons or more has exactly one inactive for every example."""
MISTAKE_ATTEMPTS = 100
FIELD_OPTIONS = {
    "layers": "--layers",
    "activations": "--activation",
    "loss": "--loss",
    "learning_rate": "--lr",
    "bias": "--bias",
}
"""The option that sets each field of a drawn spec, to name it when a combination can't work."""
EXAM_STREAM = 0xE7A3
"""Seeds, with the exam's seed, the draws made once per exam (a batch's size)."""


def customise(
    preset: str = DEFAULT_PRESET,
    *,
    layers: Sequence[int] | None = None,
    activations: Sequence[str] | None = None,
    loss: str | None = None,
    learning_rate: float | None = None,
    batch: int | None = None,
    bias: str | None = None,
    rounding: Rounding | None = None,
    asked: Sequence[str] | None = None,
    delta_sign: str | None = None,
    batch_reduction: str | None = None,
    points: Mapping[str, float] | None = None,
) -> Settings:
    """A preset with overrides; raises OptionError for a combination that can't be drawn."""
    if preset not in PRESETS:
        raise OptionError(f"unknown preset '{preset}': expected one of {', '.join(PRESETS)}")
    s = PRESETS[preset]
    changes: dict[str, Any] = {}
    if layers is not None:
        if not 3 <= len(layers) <= MAX_LAYERS or not all(1 <= n <= MAX_NEURONS for n in layers):
            raise OptionError(
                f"--layers: expected 3 to {MAX_LAYERS} neuron counts of 1 to {MAX_NEURONS}, "
                f"inputs first (e.g. 2,3,2), got {','.join(map(str, layers))}"
            )
        changes["layers"] = tuple(layers)
        if activations is None and len(layers) != len(s.layers):
            # Keep the preset's hidden and output activations for a different depth.
            activations = [s.activations[0]] * (len(layers) - 2) + [s.activations[-1]]
    if activations is not None:
        depth = len(changes.get("layers", s.layers)) - 1
        acts = list(activations)
        unknown = [name for name in acts if name not in ACTIVATIONS]
        if unknown:
            raise OptionError(
                f"--activation: expected names from {', '.join(ACTIVATIONS)}, got '{unknown[0]}'"
            )
        changes["activations"] = tuple(acts * depth if len(acts) == 1 else acts)
    if loss is not None:
        changes["loss"] = loss
    if learning_rate is not None:
        changes["learning_rate"] = learning_rate
    if batch is not None:
        if not 1 <= batch <= MAX_EXAMPLES:
            raise OptionError(f"--batch: expected 1 to {MAX_EXAMPLES} examples, got {batch}")
        changes["batch"] = (batch, batch)
    if bias is not None:
        if bias not in BIAS_MODES:
            raise OptionError(f"--bias: expected one of {', '.join(BIAS_MODES)}, got '{bias}'")
        changes["bias"] = bias
    if delta_sign is not None:
        if delta_sign not in DELTA_SIGNS:
            raise OptionError(
                f"--delta-sign: expected {' or '.join(DELTA_SIGNS)}, got '{delta_sign}'"
            )
        changes["delta_sign"] = delta_sign
    if batch_reduction is not None:
        if batch_reduction not in REDUCTIONS:
            raise OptionError(
                f"--batch-reduction: expected {' or '.join(REDUCTIONS)}, got '{batch_reduction}'"
            )
        changes["batch_reduction"] = batch_reduction
    settings = _override(replace(s, **changes), rounding=rounding, asked=asked, points=points)
    if settings.loss not in LOSSES:
        raise OptionError(f"--loss: expected one of {', '.join(LOSSES)}, got '{settings.loss}'")
    # One trial draw checks the combination with the same rules as a typed-in spec.
    try:
        parse_problem(_draw(np.random.default_rng(0), settings).to_dict(), source="these options")
    except SpecError as exc:
        option = FIELD_OPTIONS.get((exc.field or "").partition("[")[0])
        raise OptionError(f"{option}: {exc.detail}" if option else str(exc)) from None
    return settings


# --- drawing -----------------------------------------------------------------------------


def _override(
    s: Settings,
    *,
    rounding: Rounding | None = None,
    asked: Sequence[str] | None = None,
    points: Mapping[str, float] | None = None,
) -> Settings:
    """What the sheet asks, and how it is marked: the rounding rule, the kinds asked, points."""
    changes: dict[str, Any] = {}
    if rounding is not None:
        changes["rounding"] = rounding
    if asked is not None:
        unknown = [k for k in asked if k not in KINDS]
        if unknown or not asked:
            raise OptionError(
                f"--ask: expected kinds from {', '.join(KINDS)}, got '{','.join(asked)}'"
            )
        changes["asked"] = tuple(k for k in KINDS if k in asked)
    if points is not None:
        changes["points"] = _points(points, changes.get("asked", s.asked))
    return replace(s, **changes)


def _points(points: Mapping[str, float], asked: Sequence[str]) -> tuple[tuple[str, float], ...]:
    """Points per kind, checked (bpquiz.exercises.presets.checked_points), each of a kind asked."""
    checked = checked_points(points)
    for kind in checked:
        if kind not in asked:
            raise OptionError(
                f"--points: {kind} is not asked on the sheet (asked: {','.join(asked)}): "
                f"drop {kind}= from --points, or ask it with --ask"
            )
    return tuple((kind, checked[kind]) for kind in KINDS if kind in checked)


def _grid(rng: np.random.Generator, low: int, high: int, scale: int, size, avoid_zero=True):
    """Numbers k/scale for integer k in [low, high]: one or two decimals, never hidden digits."""
    values = rng.integers(low, high + 1, size=size)
    if avoid_zero:
        values = np.where(values == 0, high, values)
    return values / scale


def _draw_targets(rng: np.random.Generator, s: Settings, examples: int) -> np.ndarray:
    k = s.layers[-1]
    if s.loss == "cross_entropy":
        return np.eye(k)[rng.integers(0, k, size=examples)]
    if s.loss == "bce":
        return rng.integers(0, 2, size=(examples, k)).astype(float)
    low, high, scale = ACTIVATIONS[s.activations[-1]].targets
    return _grid(rng, low, high, scale, (examples, k))


def _draw(rng: np.random.Generator, s: Settings) -> Problem:
    examples = int(rng.integers(s.batch[0], s.batch[1] + 1))
    n = s.layers
    if s.xor and n[0] == 2:
        patterns = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
        inputs = patterns[
            rng.permutation(4)[:examples] if examples <= 4 else rng.integers(0, 4, examples)
        ]
        targets = np.logical_xor(inputs[:, 0], inputs[:, 1]).astype(float)[:, None]
        targets = np.repeat(targets, n[-1], axis=1)
    else:
        inputs = _grid(rng, -10, 10, 10, (examples, n[0]))
        targets = _draw_targets(rng, s, examples)
    weights = [_grid(rng, -80, 80, 100, (n[l - 1], n[l])) for l in range(1, len(n))]
    if s.bias == "per_neuron":
        biases: Any = [_grid(rng, -50, 50, 100, n[l]).tolist() for l in range(1, len(n))]
    elif s.bias == "shared":
        biases = _grid(rng, -50, 50, 100, len(n) - 1).tolist()
    else:
        biases = None
    rate = s.learning_rate if s.learning_rate is not None else float(rng.choice(LEARNING_RATES))
    spec = {
        "layers": list(n),
        "activations": list(s.activations),
        "loss": s.loss,
        "learning_rate": rate,
        "bias": s.bias,
        "delta_sign": s.delta_sign,
        "batch_reduction": s.batch_reduction,
        "inputs": inputs.tolist(),
        "targets": targets.tolist(),
        "weights": [w.tolist() for w in weights],
    }
    if biases is not None:
        spec["biases"] = biases
    return parse_problem(spec, source="these options")


def not_worth_doing(solution: Solution, s: Settings) -> str | None:
    """Why this exercise teaches little or would mark a catalogued mistake right, or None."""
    return _teaches_little(solution, s) or _mistake_marked_right(solution, s)


def _teaches_little(solution: Solution, s: Settings) -> str | None:
    p = solution.problem
    values = solution.values
    rounding = s.rounding
    quantities = list(solution.computed())
    for q in quantities:
        if q.kind != "z":
            continue
        act = ACTIVATIONS[p.activations[(q.layer or 1) - 1]]
        z = values[q.id]
        if act.saturates is not None and abs(z) > act.saturates:
            return f"{q.id} saturates the {act.name}"
        if act.kinked and abs(z) < MIN_GRADIENT_UNITS * rounding.unit(z):
            return f"{q.id} sits on the ReLU's kink"  # or rounds onto it
    for l, name in enumerate(p.activations, start=1):
        if ACTIVATIONS[name].kinked:
            dead = [
                j
                for j in range(1, p.layers[l] + 1)
                if all(
                    values[q.id] <= 0
                    for q in quantities
                    if q.kind == "z" and (q.layer, q.neuron) == (l, j)
                )
            ]
            # In a layer of three or more, exactly one neuron is inactive: it teaches that no
            # gradient flows through it (relu′ = 0), and every variant of a class set has the
            # same one-in-the-layer, so none is easier than another. Smaller layers have none.
            wanted = 1 if p.layers[l] >= DEAD_RELU_FROM else 0
            if len(dead) != wanted:
                return (
                    f"layer {l} has {len(dead)} ReLU neurons inactive for every example, "
                    f"not {wanted}"
                )
    outputs = [q for q in quantities if q.kind == "a" and q.layer == p.depth]
    if all(
        abs(values[q.id] - float(p.targets[(q.example or 1) - 1, (q.neuron or 1) - 1]))
        < rounding.unit(values[q.id])
        for q in outputs
    ):
        return "the outputs already match the targets"
    for q in quantities:
        value = values[q.id]
        # An exact zero (through an inactive ReLU) is written down as 0; a tiny value is not.
        if (
            q.kind in ("grad_w", "grad_b")
            and value != 0
            and abs(value) < max(MIN_GRADIENT_UNITS * rounding.unit(value), MIN_GRADIENT)
        ):
            return f"{q.id} is too small to write down"
    for q, value, tolerance in _asked(solution, s):
        if value != 0 and tolerance >= abs(value) / 2:
            return f"rounding makes {q.id} too imprecise to mark"
    return None


def _mistake_marked_right(solution: Solution, s: Settings) -> str | None:
    for q, _value, tolerance in _asked(solution, s):
        mistake = indistinguishable(solution, q.id, tolerance)
        if mistake:
            return f"the mistake {mistake} would be marked right at {q.id}"
    return None


def indistinguishable(solution: Solution, qid: str, tolerance: float) -> str | None:
    """A mistake whose value at `qid` lands within `tolerance` of the right one (but not exactly on
    it: a mistake that changes nothing here, like leaving out a ReLU's slope of 1, is harmless)."""
    q = solution.quantities[qid]
    right = solution.values[qid]
    for code, values in solution.mistake_values(qid, solution.values).items():
        if CATALOGUE[code].seen_below_output_only and (q.layer or 0) < solution.problem.depth - 1:
            continue
        if any(0 < abs(value - right) <= tolerance for value in values):
            return code
    return None


def _asked(solution: Solution, s: Settings):
    """Each asked quantity with its exact value and the key's tolerance for it."""
    rounded = solution.rounded_path(s.rounding)
    for q in solution.computed():
        if q.kind in s.asked:
            value = solution.values[q.id]
            yield q, value, s.rounding.tolerance(value, rounded[q.id])


@dataclass(frozen=True, eq=False)
class Variant:
    code: str
    solution: Solution
    student: dict[str, str] | None = None
    """{'id': …, 'name': …} from a roster."""

    @property
    def problem(self) -> Problem:
        return self.solution.problem


def draw_variant(rng: np.random.Generator, s: Settings) -> Solution:
    """Draw until the exercise is worth doing; deterministic for a given generator state.

    Telling every catalogued mistake apart from the right answer is tried for MISTAKE_ATTEMPTS
    worthwhile draws; with coarse rounding on a deep net it can be out of reach, and then the first
    worthwhile draw is used (a mistake whose effect is below the rounding can't be seen anyway).
    """
    fallback: Solution | None = None
    worthwhile = 0
    for _ in range(MAX_ATTEMPTS):
        try:
            solution = Solution(_draw(rng, s), s.intermediates)
        except SpecError:
            continue
        if _teaches_little(solution, s) is not None:
            continue
        if _mistake_marked_right(solution, s) is None:
            return solution
        fallback = fallback or solution
        worthwhile += 1
        if worthwhile == MISTAKE_ATTEMPTS:
            break
    if fallback is not None:
        return fallback
    raise SpecError(
        f"could not draw a worthwhile '{s.preset}' exercise in {MAX_ATTEMPTS} tries "
        "(gradients round to zero or units saturate): try more decimals or a smaller network"
    )


def variant_codes(seed: int, count: int, exam: str = "") -> list[str]:
    """Short codes, unique within the exam, derived from the exam's name and seed by a one-way
    hash (the name too, so two exams drawn with the same seed don't share codes)."""
    codes: list[str] = []
    counter = 0
    while len(codes) < count:
        text = f"bpquiz:{exam}:{seed}:{counter}"
        digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
        number = int.from_bytes(digest, "big")
        code = ""
        for _ in range(CODE_LENGTH):
            number, digit = divmod(number, len(CODE_ALPHABET))
            code += CODE_ALPHABET[digit]
        if code not in codes:
            codes.append(code)
        counter += 1
    return codes


def fresh_seed() -> int:
    return secrets.randbelow(10**9)


def make_variants(
    s: Settings,
    seed: int,
    count: int,
    students: Sequence[dict[str, str]] | None = None,
    exam: str = "",
) -> list[Variant]:
    """`count` variants (one per student when a roster is given), all following from `seed`;
    their codes also from the exam's name. Every variant has the same shape: the same network, the
    same number of training examples (drawn once for the exam), the same asked quantities and
    points, so that a class set is fair."""
    if students is not None:
        count = len(students)
    low, high = s.batch
    if low != high:
        examples = int(np.random.default_rng([seed, EXAM_STREAM]).integers(low, high + 1))
        s = replace(s, batch=(examples, examples))
    children = np.random.SeedSequence(seed).spawn(count)
    codes = variant_codes(seed, count, exam)
    variants = [
        Variant(
            code=codes[i],
            solution=(
                Solution(s.problem, s.intermediates)
                if s.problem is not None
                else draw_variant(np.random.default_rng(children[i]), s)
            ),
            student=students[i] if students is not None else None,
        )
        for i in range(count)
    ]
    shapes = {shape(v) for v in variants}
    if len(shapes) > 1:  # cannot happen: every variant follows the same settings
        raise AssertionError(f"a class set's variants differ in shape: {sorted(shapes)}")
    return variants


def shape(variant: Variant) -> tuple[object, ...]:
    """What must be the same for every variant of a class set: the network, the training examples'
    count and every quantity's id and kind (so the asked items and their points)."""
    p = variant.problem
    quantities = tuple((q.id, q.kind) for q in variant.solution.computed())
    return (p.layers, p.activations, p.loss, p.bias, p.examples, quantities)


def typed_in(
    problem: Problem,
    source: str,
    *,
    rounding: Rounding | None = None,
    asked: Sequence[str] | None = None,
    points: Mapping[str, float] | None = None,
) -> Settings:
    """Settings that set a typed-in problem (a textbook example, an old exam) as every variant."""
    settings = Settings(
        "spec",
        f"typed in: {source}",
        problem.layers,
        problem.activations,
        loss=problem.loss,
        bias=problem.bias,
        batch=(problem.examples, problem.examples),
        learning_rate=problem.learning_rate,
        delta_sign=problem.delta_sign,
        batch_reduction=problem.batch_reduction,
        problem=problem,
    )
    return _override(settings, rounding=rounding, asked=asked, points=points)
