"""A past plan as a template: its parameters replaced by the new task's.

The past task and the new one were judged the same plan (``decision.py``),
so they differ in their parameters: names, languages, file names, dates,
numbers. Slots of one kind are paired in order of appearance ("Apple" ->
"Microsoft", "Q3" -> "Q2", "2024" -> "2025") and every text of the plan has
the old values replaced with the new ones; a description that is the whole
past task becomes the whole new task. Subtasks the record marks redundant
are dropped when nothing depends on them.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from weft.runtime.memory.records import MemoryRecord
from weft.runtime.memory.signature import Signature

_TEXT_FIELDS = ("description", "capability", "expected_output")


def slot_mapping(past: Signature, new: Signature) -> dict[str, str]:
    """Old value -> new value for each kind of slot, paired in order."""
    by_kind_old: dict[str, list[str]] = {}
    by_kind_new: dict[str, list[str]] = {}
    for kind, value in past.slots:
        by_kind_old.setdefault(kind, []).append(value)
    for kind, value in new.slots:
        by_kind_new.setdefault(kind, []).append(value)
    mapping: dict[str, str] = {}
    for kind, olds in by_kind_old.items():
        for old, fresh in zip(olds, by_kind_new.get(kind, []), strict=False):
            if old != fresh and old not in mapping:
                mapping[old] = fresh
    return mapping


def _replace(text: str, mapping: dict[str, str]) -> str:
    if not mapping or not text:
        return text
    pattern = re.compile(
        "|".join(rf"(?<!\w){re.escape(k)}(?!\w)" for k in sorted(mapping, key=len, reverse=True))
    )
    return pattern.sub(lambda m: mapping[m.group(0)], text)


def fill_plan(record: MemoryRecord, past: Signature, new: Signature) -> dict[str, Any]:
    """The record's plan for the new task (a new dict; the record is not changed)."""
    plan = copy.deepcopy(record.plan)
    mapping = slot_mapping(past, new)
    subtasks: list[dict[str, Any]] = list(plan.get("subtasks", []))
    redundant = {s.id for s in record.subtasks if s.redundant}
    needed = {dep for s in subtasks for dep in s.get("depends_on", [])}
    subtasks = [s for s in subtasks if s.get("id") not in redundant or s.get("id") in needed]
    for subtask in subtasks:
        for name in _TEXT_FIELDS:
            value = subtask.get(name)
            if not isinstance(value, str):
                continue
            if value.strip() == record.task.strip():
                subtask[name] = new.text
            else:
                subtask[name] = _replace(value, mapping)
    plan["subtasks"] = subtasks
    return plan
