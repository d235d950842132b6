"""Experience memory benchmark: each task set run with memory off, then on (scripted model).

    python bench/memory.py [--write]

For each set in bench/data (``memory_tasks.jsonl``, tuned on; ``memory_tasks_other.jsonl``,
another style; see bench/RESULTS.md for which fixes the other sets' misses led to) the
workload is every task asked once, past tasks first, then the new ones, through
``Orchestrator`` with an ``LLMPlanner`` on a ``FunctionModel`` served by ``OpenAIServer``:
once with memory off, once with memory on, recording every finished ask (as ``weft ask``
does) and bumping the reused record's counters, so memory accumulates as it goes. The
scripted planner writes one subtask per operation of the task with that operation as its
capability; the deterministic checker passes an answer when the plan that ran has exactly
the task's operations as capabilities (a wrong reuse runs another operation and fails; with
memory on a failed answer is fed back as ``bad``, as ``weft feedback`` does).
Reported: planner calls, LLM calls and tokens over the whole workload, reuse hit
rate (new tasks that should reuse), false reuse (tasks that should not, or reused another
plan), checker pass rate; then pruning: the held-out ``later`` tasks (never asked in the workload,
all of them should reuse) matched on the full memory after the run and on copies pruned to
12%, 20%, 30%, 40% (match only, no run).
Last, the CLI contract as an outside tool would use it (``memory_tasks_cli.jsonl``: terse
tickets and chat messages; ``memory_tasks_holdout.jsonl``: long requests with context
first; their first results are kept in bench/RESULTS.md): each
past task recorded by ``weft memory add``, then every new task matched at once by ``weft
memory match --file --json`` (offline, no model), against the past tasks only.
``--write`` appends the table to bench/RESULTS.md.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from weft import tool
from weft.runtime.memory import ExperienceMemory
from weft.runtime.memory.prune import group_key
from weft.runtime.memory.signature import signature
from weft.runtime.orchestrator import LLMPlanner, Orchestrator, Plan, Subtask
from weft.runtime.orchestrator.memory_experience import MemoryExperience
from weft.runtime.orchestrator.plan import OrchestratorBudget
from weft.testing import FunctionModel, ModelRequest, OpenAIServer, json_output

DATA = Path(__file__).parent / "data"
SETS = ("memory_tasks.jsonl", "memory_tasks_other.jsonl")
CLI_SETS = ("memory_tasks_cli.jsonl", "memory_tasks_holdout.jsonl")
PRUNE_FRACTIONS = (0.12, 0.2, 0.3, 0.4)


@tool
def worker(task: str) -> str:
    """Do any subtask: write, translate, compare, review, export, clean, forecast..."""
    return f"done: {task}"


def ops(task: str) -> list[str]:
    return sorted(signature(task).operations) or ["do"]


def plan_for(request: ModelRequest) -> Any:
    task = request.messages[-1]["content"]
    return json_output(
        Plan(
            subtasks=[
                Subtask(id=f"s{i}", description=f"{op}: {task}", capability=op)
                for i, op in enumerate(ops(task))
            ]
        )
    )


def passes(task: str, plan: Plan | None) -> bool:
    return plan is not None and sorted(s.capability for s in plan.subtasks) == ops(task)


def plan_key(row: dict[str, Any]) -> str:
    """The plan a task needs: a past task's own, a positive's past task's, a negative's own."""
    return str(row.get("expect") or row["id"])


async def ask_all(
    rows: list[dict[str, Any]], make: Any, memory: ExperienceMemory | None
) -> dict[str, Any]:
    """Ask every task in order; with ``memory`` it records each one and reuses as it goes."""
    keys: dict[str, str] = {}  # record id -> plan key of the task it recorded
    totals = {"planner_calls": 0, "llm_calls": 0, "tokens": 0, "passed": 0}
    hits = should = false = shouldnot = 0
    for row in rows:
        answer = await make().ask(row["text"])
        totals["planner_calls"] += answer.planner_usage.llm_calls
        totals["llm_calls"] += answer.usage.llm_calls
        totals["tokens"] += answer.usage.prompt_tokens + answer.usage.completion_tokens
        ok = passes(row["text"], answer.plan)
        totals["passed"] += ok
        reused = keys.get(answer.reuse["record"]) if answer.reuse else None
        if memory is not None:
            keys[memory.by_run(answer.run_id).id] = plan_key(row)
            if not ok:  # the checker's verdict, as `weft feedback RUN bad` gives it
                memory.feedback(answer.run_id, "bad")
        if row["role"] != "new":
            false += reused is not None and reused != plan_key(row)
            continue
        if row["expect"]:
            should += 1
            hits += reused == row["expect"]
        else:
            shouldnot += 1
            false += reused is not None
    return {
        **totals,
        "pass_rate": totals["passed"] / len(rows),
        "hit_rate": hits / should if should else 0.0,
        "false_reuse": false / shouldnot if shouldnot else 0.0,
        "false_count": false,
        "keys": keys,
    }


def replay(memory: ExperienceMemory, rows: list[dict[str, Any]], keys: dict[str, str]) -> float:
    """Hit rate of the held-out ``later`` tasks on ``memory`` (match only, no run)."""
    found = memory.match_many([r["text"] for r in rows])
    hits = sum(
        keys.get(d.record_id or "") == r["expect"] for (d, _), r in zip(found, rows, strict=True)
    )
    return hits / len(rows) if rows else 0.0


def prune_sweep(
    memory: ExperienceMemory, later: list[dict[str, Any]], keys: dict[str, str]
) -> dict[str, Any]:
    """Replay hit rate with the full memory, then with copies pruned to each fraction."""
    export = Path(tempfile.mkdtemp(prefix="weft-bench-prune-")) / "memory.jsonl"
    memory.export(export)
    groups = len({group_key(r, {x.id: x for x in memory.records()}) for r in memory.records()})
    out: dict[str, Any] = {
        "records": len(memory),
        "groups": groups,
        "full": replay(memory, later, keys),
    }
    for keep in PRUNE_FRACTIONS:
        copy = ExperienceMemory.open(tempfile.mkdtemp(prefix="weft-bench-prune-"))
        copy.import_file(export)
        copy.prune(keep)
        out[keep] = {"kept": len(copy), "hit": replay(copy, later, keys)}
    return out


async def run_set(name: str, server: OpenAIServer) -> dict[str, Any]:
    rows = [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]
    workload = [r for r in rows if r["role"] == "past"] + [r for r in rows if r["role"] == "new"]
    new = [r for r in workload if r["role"] == "new"]
    later = [r for r in rows if r["role"] == "later"]
    budget = OrchestratorBudget(max_plan_attempts=1)

    def orchestrator(experience: Any) -> Any:
        return lambda: Orchestrator(
            [worker],
            planner=LLMPlanner(base_url=server.base_url, model="scripted"),
            experience=experience,
            budget=budget,
        )

    memory = ExperienceMemory.open(tempfile.mkdtemp(prefix="weft-bench-memory-"))
    out: dict[str, Any] = {"set": name, "past": len(workload) - len(new), "new": len(new)}
    out["off"] = await ask_all(workload, orchestrator(None), None)
    out["on"] = await ask_all(workload, orchestrator(MemoryExperience(memory)), memory)
    out["prune"] = prune_sweep(memory, later, out["on"]["keys"])
    out["later"] = len(later)
    # a perfect rule plans each past task and each task that should not reuse, once
    out["ceiling"] = sum(bool(r["expect"]) for r in new) / len(workload)
    return out


def weft(*args: str) -> str:
    """Run the ``weft`` command (as another tool would) and return its stdout."""
    exe = shutil.which("weft") or str(Path(sys.executable).parent / "weft")
    done = subprocess.run([exe, *args], capture_output=True, text=True, check=True)
    return done.stdout


def cli_set(name: str) -> dict[str, Any]:
    """Hit and false reuse through ``weft memory add`` + ``weft memory match --file``."""
    rows = [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]
    folder = tempfile.mkdtemp(prefix="weft-bench-cli-")
    ids = {
        weft("memory", "add", r["text"], "--memory", folder).strip(): r["id"]
        for r in rows
        if r["role"] == "past"
    }
    new = [r for r in rows if r["role"] == "new"]
    tasks = Path(folder) / "tasks.jsonl"
    tasks.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in new))
    lines = weft("memory", "match", "--file", str(tasks), "--json", "--memory", folder)
    answers = [json.loads(line)["reuse"] for line in lines.splitlines() if line.strip()]
    should = [r for r in new if r["expect"]]
    hits = sum(
        a is not None and ids.get(a["record"]) == r["expect"]
        for a, r in zip(answers, new, strict=True)
        if r["expect"]
    )
    false = sum(
        a is not None and ids.get(a["record"]) != r["expect"]
        for a, r in zip(answers, new, strict=True)
    )
    shouldnot = len(new) - len(should)
    return {
        "set": name,
        "past": len(ids),
        "should": len(should),
        "shouldnot": shouldnot,
        "hit_rate": hits / len(should),
        "false_count": false,
        "false_reuse": false / shouldnot,
    }


def table(results: list[dict[str, Any]], cli: list[dict[str, Any]]) -> str:
    lines = [
        "Workload: every task of the set asked once, past tasks first, then the new ones; "
        "with memory on, each finished ask is recorded (as `weft ask` does) and a reuse bumps "
        "the reused record's counters. Hit rate: new tasks that should reuse and reused the "
        "right plan; false reuse: tasks that should not reuse (or reused another plan).",
        "",
        "| set | memory | planner calls | LLM calls | tokens | hit rate | false reuse "
        "| pass rate |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for mode in ("off", "on"):
            m = r[mode]
            lines.append(
                f"| {r['set']} ({r['past']} past + {r['new']} new) | {mode} "
                f"| {m['planner_calls']} | {m['llm_calls']} | {m['tokens']} "
                f"| {m['hit_rate']:.0%} | {m['false_reuse']:.1%} ({m['false_count']}) "
                f"| {m['pass_rate']:.0%} |"
            )
        off, on = r["off"], r["on"]
        lines.append(
            f"| | saved | {1 - on['planner_calls'] / off['planner_calls']:.0%} "
            f"| {1 - on['llm_calls'] / off['llm_calls']:.0%} "
            f"| {1 - on['tokens'] / off['tokens']:.0%} | | | |"
        )
        lines.append(f"| | best possible | {r['ceiling']:.0%} | | | | | |")
    lines += [
        "",
        "Pruning: hit rate of the held-out later tasks (all should reuse; never asked in the "
        "workload) on the memory after the run, then on copies pruned to each fraction "
        "(records kept in brackets):",
        "",
    ]
    lines += [
        "| set | later tasks | records | plan groups | full | "
        + " | ".join(f"keep {k:.0%}" for k in PRUNE_FRACTIONS)
        + " |"
    ]
    lines += ["|---|---|---|---|---|" + "---|" * len(PRUNE_FRACTIONS)]
    for r in results:
        p = r["prune"]
        cells = " | ".join(f"{p[k]['hit']:.0%} ({p[k]['kept']})" for k in PRUNE_FRACTIONS)
        lines.append(
            f"| {r['set']} | {r['later']} | {p['records']} | {p['groups']} | {p['full']:.0%} "
            f"| {cells} |"
        )
    lines += [
        "",
        "CLI contract (`weft memory add` per past task, then `weft memory match --file --json`;"
        " offline; matched against the past tasks only):",
        "",
        "| set | past | should reuse | should not | hit rate | false reuse |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {c['set']} | {c['past']} | {c['should']} | {c['shouldnot']} | {c['hit_rate']:.0%} "
        f"| {c['false_reuse']:.1%} ({c['false_count']}) |"
        for c in cli
    ]
    return "\n".join(lines)


async def main() -> None:
    async with OpenAIServer(FunctionModel(plan_for)) as server:
        results = [await run_set(name, server) for name in SETS]
    text = table(results, [cli_set(name) for name in CLI_SETS])
    print(text)
    if "--write" in sys.argv:
        head = (
            f"\n## Experience memory (bench/memory.py), "
            f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC\n\n{platform.machine()}, "
            f"{platform.python_version()}; scripted planner, offline "
            "MiniLM, embedded Chroma.\n\n"
        )
        with (Path(__file__).parent / "RESULTS.md").open("a") as f:
            f.write(head + text + "\n")


if __name__ == "__main__":
    asyncio.run(main())
