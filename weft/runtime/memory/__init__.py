"""Experience memory: past tasks, their plans and outcomes, reused when a new task is the same.

``ExperienceMemory`` (``store.py``) keeps records on Chroma (embedded under
``$WEFT_HOME/memory``, or a ``chroma run`` server at ``$WEFT_CHROMA_URL``);
``decide`` (``decision.py``) is the reuse rule, which compares the operation
and the deliverable of two tasks (``signature.py``) as well as their
similarity; ``fill_plan`` (``template.py``) turns a past plan into the new
task's; ``prune_order`` (``prune.py``) says what to keep.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weft.runtime.support.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "CHROMA_URL_ENV": "weft.runtime.memory.store",
    "Candidate": "weft.runtime.memory.decision",
    "ExperienceMemory": "weft.runtime.memory.store",
    "MemoryRecord": "weft.runtime.memory.records",
    "RecordUsage": "weft.runtime.memory.records",
    "ReuseDecision": "weft.runtime.memory.decision",
    "ReusePolicy": "weft.runtime.memory.decision",
    "Signature": "weft.runtime.memory.signature",
    "StepRecord": "weft.runtime.memory.records",
    "SubtaskOutcome": "weft.runtime.memory.records",
    "decide": "weft.runtime.memory.decision",
    "default_memory_path": "weft.runtime.memory.store",
    "fill_plan": "weft.runtime.memory.template",
    "prune_order": "weft.runtime.memory.prune",
    "single_subtask_plan": "weft.runtime.memory.records",
}

__all__ = [
    "CHROMA_URL_ENV",
    "Candidate",
    "ExperienceMemory",
    "MemoryRecord",
    "RecordUsage",
    "ReuseDecision",
    "ReusePolicy",
    "Signature",
    "StepRecord",
    "SubtaskOutcome",
    "decide",
    "default_memory_path",
    "fill_plan",
    "prune_order",
    "single_subtask_plan",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from weft.runtime.memory.decision import Candidate, ReuseDecision, ReusePolicy, decide
    from weft.runtime.memory.prune import prune_order
    from weft.runtime.memory.records import (
        MemoryRecord,
        RecordUsage,
        StepRecord,
        SubtaskOutcome,
        single_subtask_plan,
    )
    from weft.runtime.memory.signature import Signature
    from weft.runtime.memory.store import CHROMA_URL_ENV, ExperienceMemory, default_memory_path
    from weft.runtime.memory.template import fill_plan
