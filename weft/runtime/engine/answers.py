"""A person's answers to a stopped run's questions: checked, journaled, handed to the calls.

A node whose action asked a question (``ActionContext.ask``) ends
``needs_input`` and its journaled result carries the question. Resuming with
answers (``resume_run(answers=...)``, ``weft resume --answer``) checks each one
here against the questions the run is waiting on (the right node, one of the
choices), before anything runs, then journals it as an ``answer`` event; the
resumed calls get every answer their key was given, in order
(``ActionCall.answers``). Both engines resume through this module, so they
accept and refuse the same answers with the same words.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from weft.protocols import EventKind, NodeState, RunEvent, WeftError
from weft.protocols.hints import did_you_mean
from weft.protocols.human_input import check_answer, question_of
from weft.runtime.engine.journal import Journal


@dataclass(frozen=True, slots=True)
class Question:
    """A question a stopped run waits on: asked by the call keyed ``key`` of ``node``."""

    key: str
    node: str
    question: str
    choices: list[Any] | None
    index: int


def waiting_questions(store: Journal, run_id: str) -> dict[str, Question]:
    """The questions ``run_id`` waits on, by execution key (empty: it asked none)."""
    waiting: dict[str, Question] = {}
    for key, event in store.last_finished(run_id).items():
        if event.state != NodeState.NEEDS_INPUT:
            continue
        asked = question_of(event.error)
        if asked is None:  # a foreach node's sum of its items, or an A2A agent's own words
            continue
        waiting[key] = Question(
            key=key,
            node=event.node or key,
            question=asked["question"],
            choices=asked["choices"],
            index=asked["index"],
        )
    return waiting


def checked_answers(
    store: Journal, run_id: str, answers: Mapping[str, Any]
) -> list[tuple[Question, Any]]:
    """Each answer matched with the question it answers; ``WeftError`` naming every one
    that cannot be taken (no such question, ambiguous, not one of the choices)."""
    if not answers:
        return []
    waiting = waiting_questions(store, run_id)
    matched: list[tuple[Question, Any]] = []
    problems: list[str] = []
    for name, answer in answers.items():
        question = _question_for(name, waiting, problems)
        if question is None:
            continue
        why = check_answer(answer, question.choices)
        if why is not None:
            problems.append(f"answer for '{question.key}' ({question.question!r}): {why}")
            continue
        matched.append((question, answer))
    if problems:
        raise WeftError(f"run {run_id}: " + "; ".join(problems))
    return matched


def _question_for(name: str, waiting: dict[str, Question], problems: list[str]) -> Question | None:
    """The question ``name`` (an execution key, or a node with one waiting key) answers."""
    if name in waiting:
        return waiting[name]
    of_node = [q for q in waiting.values() if q.node == name]
    if len(of_node) == 1:
        return of_node[0]
    if of_node:
        keys = ", ".join(sorted(q.key for q in of_node))
        problems.append(
            f"node '{name}' waits on {len(of_node)} questions ({keys}): answer each by its key"
        )
    elif not waiting:
        problems.append(f"'{name}' asked nothing: no node of this run is waiting for an answer")
    else:
        hint = did_you_mean(name, waiting, n=1)
        listed = ", ".join(sorted(waiting))
        problems.append(f"'{name}' is not waiting for an answer{hint}; waiting: {listed}")
    return None


def record_answers(store: Journal, run_id: str, matched: list[tuple[Question, Any]]) -> None:
    """Journal each checked answer as an ``answer`` event of its key, committed at once."""
    for question, answer in matched:
        store.append(
            RunEvent(
                run_id=run_id,
                kind=EventKind.ANSWER,
                at=time.time(),
                node=question.node,
                key=question.key,
                data={"answer": answer, "question": question.question, "index": question.index},
            )
        )
    if matched:
        store.flush()
