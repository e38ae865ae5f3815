"""Marking like a teacher: follow-through credit and named misconceptions.

Both are markers for `grade.grade_sheet`: they see one wrong item and the student's own earlier
answers, and recompute the quantity with the same expression the worked solution uses
(`Solution.recompute`) or with a catalogued mistake's variation of it (`mistakes.mistake_values`).
"""

from __future__ import annotations

from enum import StrEnum

from bpquiz.grade import Context, Item, Status
from bpquiz.mistakes import CATALOGUE, mistake_values


class FollowThrough(StrEnum):
    FULL = "full"
    HALF = "half"
    OFF = "off"

    @property
    def credit(self) -> float:
        return {"full": 1.0, "half": 0.5, "off": 0.0}[self.value]


def own_values(context: Context) -> dict[str, float]:
    """The key's values with the student's own earlier answers in their place."""
    env = dict(context.variant.solution.values)
    env.update(context.given)
    return env


def carried_from(item: Item, context: Context) -> list[str]:
    """The student's earlier answers, among this quantity's inputs, that differ from the key."""
    inputs = context.variant.solution.quantities[item.id].inputs()
    return [
        qid
        for qid in inputs
        if qid in context.graded
        and context.graded[qid].status in (Status.WRONG, Status.FOLLOW_THROUGH)
        and qid in context.given
    ]


def _tolerance(context: Context, qid: str) -> float:
    """The key's tolerance for this quantity (a follow-through value is rounded the same way)."""
    return next(q.tol_abs for q in context.variant.quantities if q.id == qid)


def _baseline(item: Item, context: Context, env: dict[str, float]) -> float:
    """What a step gives when the work it asks for has been made to vanish: an update that
    doesn't move its weight, any other quantity that comes out as zero."""
    q = context.variant.solution.quantities[item.id]
    if q.kind in ("w_new", "b_new"):
        return env[q.inputs()[0]]
    return 0.0


def follow_through(
    item: Item, context: Context, credit: FollowThrough = FollowThrough.FULL
) -> Item:
    """Wrong against the key, but right from the student's own earlier (wrong) answers."""
    if item.status is not Status.WRONG or not isinstance(item.given, float):
        return item
    sources = carried_from(item, context)
    if not sources:
        return item
    solution = context.variant.solution
    env = own_values(context)
    own = solution.recompute(item.id, env)
    tol = _tolerance(context, item.id)
    if not context.comparison.accepts(item.given, own, tol):
        return item
    names = ", ".join(
        f"{context.graded[s].symbol} = {context.rule.format(context.given[s])}" for s in sources
    )
    key_env = solution.values
    trivial = abs(own - _baseline(item, context, env)) <= tol
    if trivial and abs(item.expected - _baseline(item, context, key_env)) > tol:
        return item._replace(
            feedback=(
                f"this follows from your {names}, but that answer makes this step trivial "
                "(nothing left to compute), so it earns no follow-through credit"
            ),
        )
    return item._replace(
        status=Status.FOLLOW_THROUGH,
        credit=credit.credit,
        feedback=f"right method, carried forward from your {names} (the key has "
        f"{context.rule.format(item.expected)})",
    )


def misconception(item: Item, context: Context) -> Item:
    """Name the catalogued mistake a wrong answer matches, from the student's own inputs."""
    if item.status is not Status.WRONG or not isinstance(item.given, float):
        return item
    env = own_values(context)
    tol = _tolerance(context, item.id)
    for code, values in mistake_values(context.variant.solution, item.id, env).items():
        if any(context.comparison.accepts(item.given, value, tol) for value in values):
            return item._replace(misconception=code, feedback=CATALOGUE[code].explanation)
    return item
