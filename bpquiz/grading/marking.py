"""Marking like a teacher: follow-through credit and named misconceptions.

Both are markers for `items.grade_sheet`: they see one wrong item and the student's own earlier
answers, and recompute the quantity with the same expression the worked solution uses
(`Solution.recompute`) or with a catalogued mistake's variation of it (`Solution.mistake_values`).
Run them in the order `markers()` gives: follow-through first, so that the consequences of an
earlier mistake are credited as follow-through and never named as new mistakes.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import lru_cache, partial
from typing import TYPE_CHECKING

from bpquiz.errors import OptionError
from bpquiz.grading.items import Context, Item, Marker, Status
from bpquiz.grading.readers.numbers import NotANumber, parse_number
from bpquiz.maths.ids import given_id
from bpquiz.maths.mistakes import CATALOGUE
from bpquiz.maths.rounding import Rounding

if TYPE_CHECKING:
    from bpquiz.exercises.key import KeyVariant
    from bpquiz.maths.solution import Solution


class FollowThrough(StrEnum):
    """How much a step done right from the student's own wrong earlier answers earns."""

    FULL = "full"
    HALF = "half"
    OFF = "off"

    @property
    def credit(self) -> float:
        return {"full": 1.0, "half": 0.5, "off": 0.0}[self.value]


CARRIED = (Status.WRONG, Status.FOLLOW_THROUGH)
"""An earlier answer in one of these states differs from the key, so later steps may carry it."""
UPDATES = ("w_new", "b_new")
FLOAT_PRECISION = 1e-12
"""The relative error a recomputed value may carry from floating point (a few operations, each
2.2e-16): below any rounding rule's allowance for an exam-sized number (10 decimals: 6e-11)."""
ARITHMETIC = (ArithmeticError, ValueError)
"""What the maths may raise on a student's wild numbers (a division by a zero they wrote, a log of
a negative output): then there is nothing to carry forward, and the item stays as marked."""


class OwnWork(dict[str, float]):
    """The values the student's own work implies, looked up lazily by quantity id.

    Their answer where they gave a number; otherwise (a step left blank, invalid, or not asked on
    the sheet, or one later in teaching order) the quantity recomputed from these same values and
    rounded as the sheet asks (it tells students to reuse rounded results); the numbers printed on
    the sheet for the givens. So a step is judged from the student's z even when the sheet never
    asked for the a in between, and "backpropagated through updated weights" uses the updates
    their own gradients give.
    """

    def __init__(self, solution: Solution, context: Context) -> None:
        super().__init__(_printed(solution))
        self.update(context.given)
        self._solution = solution
        self._rule = context.rule

    def __missing__(self, qid: str) -> float:
        value = self._solution.recompute_rounded(qid, self, self._rule)
        self[qid] = value
        return value


@lru_cache(maxsize=256)
def _printed(solution: Solution) -> dict[str, float]:
    """The given numbers of a variant (cached: a class's wrong answers ask for them thousands of
    times; solutions hash by identity, one per key variant)."""
    return {q.id: solution.values[q.id] for q in solution.quantities.values() if q.given}


def carried_from(item: Item, context: Context) -> list[str]:
    """The student's answers that differ from the key and that this step is computed from:
    its direct inputs, and through any step they didn't write down, that step's inputs."""
    solution = context.variant.solution
    sources: list[str] = []
    seen: set[str] = set()
    pending = list(_inputs(solution, item.id))
    while pending:
        qid = pending.pop(0)
        if qid in seen:
            continue
        seen.add(qid)
        if qid in context.given:
            marked = context.graded.get(qid)
            if marked is not None and marked.status in CARRIED:
                sources.append(qid)
        else:
            pending.extend(_inputs(solution, qid))
    return sources


@lru_cache(maxsize=8192)
def _inputs(solution: Solution, qid: str) -> tuple[str, ...]:
    """A quantity's inputs (none for a given number), cached as the graph never changes."""
    return tuple(solution.quantities[qid].inputs())


def _key_tolerance(context: Context, qid: str) -> float:
    return _tolerances(context.variant)[qid]


_TOLERANCES: dict[int, tuple[KeyVariant, dict[str, float]]] = {}


def _tolerances(variant: KeyVariant) -> dict[str, float]:
    """The key's tolerance of each quantity, by id, built once per variant (a KeyVariant hashes by
    value, which costs more than the lookup, so this is keyed by identity)."""
    cached = _TOLERANCES.get(id(variant))
    if cached is None or cached[0] is not variant:
        cached = (variant, {q.id: q.tol_abs for q in variant.quantities})
        _TOLERANCES[id(variant)] = cached
    return cached[1]


def tolerance(context: Context, qid: str, value: float) -> float:
    """How far an answer may sit from `value`, a value other than the key's for this quantity.

    The key's own tolerance, or, when `value` is larger (significant figures round it coarser),
    the rounding rule's allowance for `value`; never less than what floating point can tell
    apart at `value` (a student carrying 1e300 forward: the recomputed sum is off in its 17th
    figure, far beyond any decimal place a sheet asks for).
    """
    return max(
        _key_tolerance(context, qid),
        context.rule.allowance(value),
        FLOAT_PRECISION * abs(value),
    )


def _baseline(solution: Solution, qid: str, env: dict[str, float]) -> float:
    """What a step gives when the work it asks for has vanished: an update that doesn't move its
    weight or bias, any other quantity (a delta, a gradient, the loss) that comes out as zero."""
    q = solution.quantities[qid]
    if q.kind in UPDATES:
        return env[_inputs(solution, qid)[0]]  # w − η·∂L/∂w: the first input is w
    return 0.0


def trivialising(context: Context, qid: str) -> str | None:
    """Why the student's answer for `qid` leaves nothing to compute after it, or None.

    An output equal to its target (every delta after it is zero), a zero activation (the weights
    leaving it get zero gradients, and a sigmoid's slope a(1 − a) is zero), a zero delta or
    gradient. Only a claim of the student's own: an answer marked wrong (a follow-through value
    that merely rounds to zero is honest work), at a point where the key's value isn't. A zero that
    itself rests on such a claim gives the claim's reason (the output equal to its target, not the
    zero δ it led to).
    """
    if context.graded[qid].status is not Status.WRONG:
        return None
    solution = context.variant.solution
    q = solution.quantities[qid]
    given, right = context.given[qid], solution.values[qid]
    tol = _key_tolerance(context, qid)
    points: list[tuple[float, str]] = []
    match q.kind:
        case "a":
            points.append((0.0, "a zero activation"))
            if q.layer == solution.problem.depth:
                batch = solution.problem.examples > 1
                target = solution.values[given_id("t", q.neuron or 1, q.example or 1, batch)]
                points.append((target, "an output equal to its target"))
        case "delta":
            points.append((0.0, "a zero δ"))
        case "grad_w" | "grad_b":
            points.append((0.0, "a zero gradient"))
    for point, reason in points:
        if abs(given - point) <= tol < abs(right - point):
            for source in carried_from(context.graded[qid], context):
                root = trivialising(context, source)
                if root:
                    return root
            return reason
    return None


def _shown(context: Context, sources: list[str]) -> str:
    answers = [
        f"{context.graded[s].symbol} = {context.rule.format(context.given[s])}" for s in sources
    ]
    if len(answers) > 3:
        answers = [*answers[:3], f"{len(sources) - 3} more"]
    return ", ".join(answers)


def follow_through(
    item: Item, context: Context, credit: FollowThrough = FollowThrough.FULL
) -> Item:
    """Wrong against the key, but right from the student's own earlier (wrong) answers.

    Not when those answers make the step trivial (gaming, Numbas #368): an output claimed equal to
    its target makes every delta zero and leaves every weight where it was; a zero activation
    zeroes the gradients of the weights leaving it. Such a step earns nothing, and says why.
    """
    if item.status is not Status.WRONG or not isinstance(item.given, float):
        return item
    sources = carried_from(item, context)
    if not sources:
        return _own_rounding(item, context)
    solution = context.variant.solution
    own_env = OwnWork(solution, context)
    try:
        own = solution.recompute(item.id, own_env)
    except ARITHMETIC:
        return item
    if not context.comparison.accepts(item.given, own, tolerance(context, item.id, own)):
        return item
    names = _shown(context, sources)
    expected = context.rule.format(item.expected)
    key_tol = _key_tolerance(context, item.id)
    trivial = abs(own - _baseline(solution, item.id, own_env)) <= key_tol
    if trivial and abs(item.expected - _baseline(solution, item.id, solution.values)) > key_tol:
        # A step that merely comes out small from honest work keeps its credit; one made trivial
        # by an answer like "the output equals the target" does not.
        causes = {s: why for s in sources if (why := trivialising(context, s))}
    else:
        causes = {}
    if causes:
        q = solution.quantities[item.id]
        outcome = (
            f"it leaves the {'weight' if q.kind == 'w_new' else 'bias'} where it was"
            if q.kind in UPDATES
            else "it comes out as 0"
        )
        return item._replace(
            feedback=(
                f"this follows from your {_shown(context, list(causes))}, but "
                f"{' and '.join(dict.fromkeys(causes.values()))} makes this step trivial "
                f"({outcome}), "
                f"so it earns no follow-through credit: expected {expected}"
            ),
        )
    if credit is FollowThrough.OFF:
        note = "no credit: follow-through is off for this exam"
    else:
        note = f"the key has {expected}"
    return item._replace(
        status=Status.FOLLOW_THROUGH,
        credit=credit.credit,
        feedback=f"right method, carried forward from your {names} ({note})",
    )


def _own_rounding(item: Item, context: Context) -> Item:
    """Correct when right from the student's own earlier answers that were all accepted: those
    may be rounded the other accepted way (0.0066 where the key's path has 0.0065), and a careful
    student reuses what they wrote, so a later step can land outside the key's own range."""
    solution = context.variant.solution
    if not isinstance(item.given, float):
        return item
    try:
        own = solution.recompute(item.id, OwnWork(solution, context))
    except ARITHMETIC:
        return item
    if not context.comparison.accepts(item.given, own, tolerance(context, item.id, own)):
        return item
    return item._replace(
        status=Status.CORRECT,
        credit=1.0,
        feedback="right from your own (accepted) rounded answers before it",
    )


class Penalty(StrEnum):
    """What a misconception costs when it shows in several items."""

    ONCE = "once"
    """The first item where it shows loses its points; later ones it explains earn follow-through."""
    EACH = "each"
    """Every item where it shows loses its points."""


def misconception(
    item: Item,
    context: Context,
    penalty: Penalty = Penalty.ONCE,
    credit: FollowThrough = FollowThrough.FULL,
) -> Item:
    """Name the catalogued mistake a wrong answer matches, computed from the student's own inputs.

    The closest match wins when several mistakes land within the tolerance. An answer that is right
    from the student's own inputs (follow-through turned down as trivial) is no mistake of this
    step, and neither is one that can't be told from honest work at the precision the student
    wrote. With `penalty` once, a misconception already named at an earlier item costs nothing
    more: this item gets follow-through credit, and its feedback names the mistake.
    """
    if item.status is not Status.WRONG or not isinstance(item.given, float):
        return item
    solution = context.variant.solution
    own_env = OwnWork(solution, context)
    try:
        own = solution.recompute(item.id, own_env)
        made = solution.mistake_values(item.id, own_env)
    except ARITHMETIC:
        return item
    if context.comparison.accepts(item.given, own, tolerance(context, item.id, own)):
        return item
    matches = [
        (abs(item.given - value), code, value)
        for code, values in made.items()
        for value in values
        if context.comparison.accepts(item.given, value, tolerance(context, item.id, value))
    ]
    if not matches:
        return item
    coarse = _coarser_rule(item, context)
    if coarse is not None:
        if coarse.round(own) == coarse.round(item.given):
            return item  # honest work, rounded to the fewer digits the student wrote
        # At the student's precision, a mistake that changes nothing can't be told apart.
        matches = [m for m in matches if coarse.round(m[2]) != coarse.round(own)]
        if not matches:
            return item
    code = min(matches, key=lambda match: match[0])[1]
    explanation = CATALOGUE[code].explain(solution.problem.delta_sign)
    expected = context.rule.format(item.expected)
    earlier = next(
        (q for q in context.graded.values() if q.misconception == code and q.credit < 1), None
    )
    if penalty is Penalty.ONCE and earlier is not None:
        return item._replace(
            status=Status.FOLLOW_THROUGH,
            credit=credit.credit,
            misconception=code,
            feedback=f"The same mistake as at {earlier.symbol}, which already lost its points. "
            f"{explanation} Expected {expected}.",
        )
    return item._replace(misconception=code, feedback=f"{explanation} Expected {expected}.")


def _coarser_rule(item: Item, context: Context) -> Rounding | None:
    """The rounding of the fewer digits the student wrote than the sheet asks for, if fewer."""
    if item.typed is None:
        return None
    try:
        digits = parse_number(item.typed).digits(context.rule.mode)
    except NotANumber:
        return None
    if not 1 <= digits < context.rule.digits:
        return None
    return Rounding(context.rule.mode, digits)


def markers(
    credit: FollowThrough | str = FollowThrough.FULL, penalty: Penalty | str = Penalty.ONCE
) -> list[Marker]:
    """The markers for `grade_sheet`/`grade_paths`, in the order they must run (picklable, for
    worker processes)."""
    try:
        credit = FollowThrough(credit)
    except ValueError:
        raise OptionError("--follow-through: expected full, half or off") from None
    try:
        penalty = Penalty(penalty)
    except ValueError:
        raise OptionError("--misconception-penalty: expected once or each") from None
    chosen: Callable[[Item, Context], Item] = partial(follow_through, credit=credit)
    named: Callable[[Item, Context], Item] = partial(misconception, penalty=penalty, credit=credit)
    return [chosen, named]
