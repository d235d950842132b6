"""The reuse rule: is a past task's plan the plan for this one? Pure, no model.

Nearest-neighbour similarity alone cannot tell "export the customer list"
from "clean the customer list": on the issue's hard set the best MiniLM
threshold reused wrongly 65% of the time. So similarity only *proposes*
candidates, and each is checked for structure (``signature.py``):

1. the embedding similarity of the two tasks with their parameters masked
   is at least ``ReusePolicy.candidate_floor`` (a candidate at all), or at
   least ``shape_floor`` when both have the very same shape (operation verb,
   slots and prepositions: "translate * into {LANG}"; such a match is
   borderline);
2. the operations agree exactly (write = draft = compose, but draft is not
   review and forecast is not compare), and so does the number of steps
   ("deduplicate ... and normalize ..." is two);
3. the deliverables agree: exactly for the generic "make it" operation (a
   report is not a chart; a meal plan is not a lesson plan); for a specific
   operation only their heads, when both name one ("export the supplier
   list" = "export the customer list");
4. when neither task names a deliverable, what the verb acts on does: the
   words between the operation verb and the next preposition share at least
   one ("calculate the total interest" is not "calculate the monthly
   payment"; shared context words alone made those look alike), except for
   ``OBJECT_BLIND`` operations (translating a guide or a policy is one plan);
5. when no operation the lexicon knows was read (an unknown verb, or a
   sentence shape the reader missed), the structure above says little: the
   similarity must reach ``unread_threshold``;
6. the subject agrees: similarity at least ``threshold``, or half of the
   subject words shared; or, with a specific operation or a named
   deliverable, another subject is what changes between repeats (an agenda
   for the board meeting / for the offsite) and the match is borderline.

A match close to the line (within ``borderline_margin``), below the floor
by shape, or on another subject is marked ``borderline``: with a model
configured the orchestrator confirms it with one short call. The first
candidate (most similar first) that passes is the reuse; ``why`` says what
was checked, and the rejections say why each other candidate was not taken.
Bad outcomes are learnt from: a record judged bad is never a candidate, and
when a reuse of a record went bad, a new task closer to that failed one than
to the record is refused the record (``decide``'s ``failures``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from weft.runtime.memory.signature import Signature


class ReusePolicy(BaseModel):
    """The thresholds of the reuse rule; see the module docstring."""

    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(
        default=0.72, ge=0, le=1, description="Masked similarity that alone settles the subject."
    )
    candidate_floor: float = Field(
        default=0.55, ge=0, le=1, description="Least masked similarity for a candidate at all."
    )
    subject_overlap: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Share of subject words that must agree below threshold.",
    )
    borderline_margin: float = Field(
        default=0.05, ge=0, le=1, description="Within this of the line, a match is borderline."
    )
    shape_floor: float = Field(
        default=0.4,
        ge=0,
        le=1,
        description="Least similarity for a candidate of the very same shape (skeleton).",
    )
    unread_threshold: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="Least similarity when no known operation was read from the task.",
    )
    candidates: int = Field(default=15, ge=1, le=50, description="Nearest past tasks examined.")
    require_good: bool = Field(
        default=True, description="Only reuse records whose outcome is good (or not yet judged)."
    )


@dataclass(frozen=True)
class Candidate:
    """A past task proposed by similarity."""

    record_id: str
    signature: Signature
    similarity: float


@dataclass(frozen=True)
class ReuseDecision:
    """The rule's verdict for one new task."""

    record_id: str | None
    similarity: float
    why: str
    borderline: bool = False
    rejected: tuple[str, ...] = ()

    @property
    def reuse(self) -> bool:
        return self.record_id is not None


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Shared subject words over the smaller set's size (1.0 when either is empty)."""
    if not a or not b:
        return 1.0
    return len(a & b) / min(len(a), len(b))


def _under(sim: float, floor: float) -> str:
    """``"0.54 < 0.55"``; with four decimals when two would print ``0.55 < 0.55``."""
    if f"{sim:.2f}" == f"{floor:.2f}":
        return f"{sim:.4f} < {floor:.2f}"
    return f"{sim:.2f} < {floor:.2f}"


def check(new: Signature, past: Candidate, policy: ReusePolicy) -> tuple[bool, bool, str]:
    """``(same plan?, borderline?, why)`` for one candidate."""
    sim, was = past.similarity, past.signature
    # below the floor only a task of the very same shape is a candidate: the same
    # operation, slots and prepositions, other words ("translate * into {LANG}")
    same_shape = bool(new.skeleton) and new.skeleton == was.skeleton
    if sim < policy.candidate_floor and not (same_shape and sim >= policy.shape_floor):
        return False, False, f"similarity {_under(sim, policy.candidate_floor)}"
    low = sim < policy.candidate_floor
    if new.operations != was.operations:
        ops = ",".join(sorted(new.operations)) or "-"
        before = ",".join(sorted(was.operations)) or "-"
        return False, False, f"operation differs ({ops} vs {before})"
    if new.steps != was.steps:
        return False, False, f"step count differs ({new.steps} vs {was.steps})"
    if new.specific:
        # the deliverable is what the operation acts on: its kind, not its modifier,
        # changes the plan ("translate the handbook" = "translate the guide")
        differs = bool(new.heads and was.heads and new.heads != was.heads)
        ours, theirs = new.heads, was.heads
    else:
        differs = new.deliverables != was.deliverables
        ours, theirs = new.deliverables, was.deliverables
    if differs:
        out = ",".join(sorted(ours)) or "-"
        before = ",".join(sorted(theirs)) or "-"
        return False, False, f"deliverable differs ({out} vs {before})"
    # no named deliverable on either side: what the verb acts on stands in for one
    # ("calculate the total interest" is not "calculate the monthly payment")
    objects, was_objects = new.objects, was.objects
    if (
        not new.deliverables
        and not was.deliverables
        and objects
        and was_objects
        and not objects & was_objects
        and not new.operations <= OBJECT_BLIND
    ):
        before = ",".join(sorted(was_objects))
        return False, False, f"object differs ({','.join(sorted(objects))} vs {before})"
    shared = overlap(new.subject, was.subject)
    if not new.understood and sim < policy.unread_threshold:
        # no known operation read: the structure checks above said little
        floor = policy.unread_threshold
        return False, False, f"no known operation read; similarity {_under(sim, floor)}"
    if sim >= policy.threshold:
        borderline = sim < policy.threshold + policy.borderline_margin and shared < 0.5
        return True, borderline, f"same {new.describe()}; similarity {sim:.2f}"
    if low:
        return (
            True,
            True,
            f"same {new.describe()}; similarity {sim:.2f}, same shape ({new.skeleton})",
        )
    if shared >= policy.subject_overlap:
        borderline = sim < policy.candidate_floor + policy.borderline_margin
        return (
            True,
            borderline,
            f"same {new.describe()}; similarity {sim:.2f}, subject overlap {shared:.2f}",
        )
    if new.specific or new.deliverables:
        # operation and deliverable named and equal: the subject is what changes
        # between repeats ("an agenda for the board meeting" / "... for the offsite")
        return (
            True,
            True,
            f"same {new.describe()}; similarity {sim:.2f}, another subject (overlap {shared:.2f})",
        )
    return False, False, f"subject differs (similarity {sim:.2f}, overlap {shared:.2f})"


#: Operations done the same way whatever they act on (translating a guide or a policy).
OBJECT_BLIND = frozenset(
    {
        "translate",
        "summarize",
        "translate_speech",
        "export",
        "convert",
        "backup",
        "review",
        "upgrade",
    }
)


def decide(
    new: Signature,
    candidates: Sequence[Candidate],
    policy: ReusePolicy,
    failures: Mapping[str, tuple[str, float]] | None = None,
) -> ReuseDecision:
    """The most similar candidate that passes ``check``, or no reuse with the reasons.

    ``failures`` maps a record id to (a record whose reuse of it went bad, that
    record's similarity to the new task): a task more like the failed reuse
    than like the record itself does not get the record's plan again.
    """
    rejected: list[str] = []
    for candidate in sorted(candidates, key=lambda c: -c.similarity):
        failed = (failures or {}).get(candidate.record_id)
        if failed is not None and failed[1] > candidate.similarity:
            why = f"its reuse for a task more like this one went bad ({failed[0]})"
            rejected.append(f"{candidate.record_id}: {why}")
            continue
        ok, borderline, why = check(new, candidate, policy)
        if ok:
            return ReuseDecision(
                candidate.record_id, candidate.similarity, why, borderline, tuple(rejected)
            )
        rejected.append(f"{candidate.record_id}: {why}")
    best = max((c.similarity for c in candidates), default=0.0)
    why = rejected[0].split(": ", 1)[1] if rejected else "no past task"
    return ReuseDecision(None, best, why, False, tuple(rejected))
