"""The fixed CLI contract of ``weft memory``, in real processes, embedded and on a server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def weft(*args: str, env_url: str | None = None) -> subprocess.CompletedProcess[str]:
    import os

    env = dict(os.environ)
    env.pop("WEFT_CHROMA_URL", None)
    if env_url:
        env["WEFT_CHROMA_URL"] = env_url
    return subprocess.run(
        [sys.executable, "-m", "weft.cli", *args]
        if False
        else [str(Path(sys.executable).parent / "weft"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_add_prints_the_id_and_match_prints_the_contract(tmp_path: Path) -> None:
    mem = str(tmp_path / "m")
    added = weft(
        "memory", "add", "Export the customer list from the CRM to a CSV file", "--memory", mem
    )
    assert added.returncode == 0, added.stderr
    rid = added.stdout.strip()
    assert rid.startswith("mem-")
    hit = weft(
        "memory",
        "match",
        "Export the customer list from the CRM to JSON",
        "--json",
        "--memory",
        mem,
    )
    reuse = json.loads(hit.stdout)["reuse"]
    assert reuse["record"] == rid and reuse["task"].startswith("Export the customer")
    assert 0 < reuse["similarity"] <= 1.0001
    miss = weft(
        "memory", "match", "Clean the customer list from the CRM", "--json", "--memory", mem
    )
    assert json.loads(miss.stdout) == {"reuse": None}


def test_match_file_prints_one_object_per_line_in_order(tmp_path: Path) -> None:
    mem = str(tmp_path / "m")
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(
            {"subtasks": [{"id": "t", "description": "Translate", "capability": "translation"}]}
        )
    )
    rid = weft(
        "memory",
        "add",
        "Translate the onboarding guide into Spanish",
        "--plan",
        str(plan),
        "--outcome",
        "good",
        "--memory",
        mem,
    ).stdout.strip()
    tasks = tmp_path / "tasks.jsonl"
    texts = [
        "Summarize the onboarding guide",
        "Translate the onboarding guide into Korean",
        "Book a flight",
    ]
    tasks.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    out = weft("memory", "match", "--file", str(tasks), "--json", "--memory", mem)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["reuse"] and line["reuse"]["record"] for line in lines] == [None, rid, None]
    shown = json.loads(weft("memory", "show", rid, "--memory", mem).stdout)
    assert shown["plan"]["subtasks"][0]["capability"] == "translation"


def test_user_mistakes_exit_2_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "tasks.jsonl"
    bad.write_text('{"text": "ok"}\nnot json\n')
    out = weft("memory", "match", "--file", str(bad), "--memory", str(tmp_path / "m"))
    assert out.returncode == 2 and f"{bad}:2" in out.stderr and "Traceback" not in out.stderr
    out = weft("memory", "show", "mem-nope", "--memory", str(tmp_path / "m"))
    # a folder with no store is named, and not created as an empty one
    assert out.returncode == 2 and f"no experience memory at {tmp_path / 'm'}" in out.stderr
    assert not (tmp_path / "m").exists()
    weft("memory", "add", "Export the customer list to CSV", "--memory", str(tmp_path / "m"))
    out = weft("memory", "show", "mem-nope", "--memory", str(tmp_path / "m"))
    assert out.returncode == 2 and "no memory record 'mem-nope'" in out.stderr


def test_two_processes_share_one_server_memory(chroma_server: str) -> None:
    task = "Write a product description for the new Zephyr trail shoes"
    rid = weft("memory", "add", task, env_url=chroma_server).stdout.strip()
    other = weft(
        "memory",
        "match",
        "Write a product description for the new Vega boots",
        "--json",
        env_url=chroma_server,
    )
    assert json.loads(other.stdout)["reuse"]["record"] == rid


def test_rm_deletes_records_and_an_unknown_id_deletes_nothing(tmp_path: Path) -> None:
    mem = str(tmp_path / "m")
    keep = weft("memory", "add", "Export the customer list to CSV", "--memory", mem).stdout.strip()
    drop = weft("memory", "add", "Translate the guide into Spanish", "--memory", mem).stdout.strip()
    out = weft("memory", "rm", drop, "mem-nope", "--memory", mem)
    assert out.returncode == 2 and "no memory record 'mem-nope'" in out.stderr
    assert weft("memory", "show", drop, "--memory", mem).returncode == 0
    out = weft("memory", "rm", drop, "--memory", mem)
    assert out.returncode == 0 and "deleted 1 record(s), kept 1" in out.stdout
    listed = json.loads(weft("memory", "ls", "--json", "--memory", mem).stdout)
    assert [r["id"] for r in listed] == [keep]
