"""An experience memory opened in Python gives its embedded folder back when closed.

``ExperienceMemory.open()`` holds the folder (``FOLDER/weft.lock``) so that no
other process opens Chroma's embedded store at the same time; it used to
hold it until the process ended, so a long-lived program that had opened the
memory once left every ``weft ask`` on that folder without memory.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from weft.runtime.memory import ExperienceMemory, StepRecord
from weft.runtime.memory.folder_lock import LOCK_NAME, claim, holds, release
from weft.runtime.orchestrator.memory_experience import MemoryExperience
from weft.runtime.routing.embeddings import make_embedder

WEFT = str(Path(sys.executable).parent / "weft")

DESK = '''
from weft import tool

@tool
def summarise(text: str) -> str:
    """Summarise a text into one short paragraph."""
    return "summary: " + text

agents = [summarise]
'''


def free_for_another_process(folder: Path) -> bool:
    """Whether another process could take the folder now.

    A ``flock`` belongs to an open file description, so a second ``open`` of the
    lock file in this process contends exactly as another process would."""
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # drops the lock taken, if any
    return True


def test_close_gives_the_folder_back(tmp_path: Path) -> None:
    memory = ExperienceMemory.open(tmp_path / "m")
    assert not free_for_another_process(tmp_path / "m")
    memory.close()
    assert free_for_another_process(tmp_path / "m")
    memory.close()  # a second close is harmless


def test_a_with_block_closes_the_memory(tmp_path: Path) -> None:
    with ExperienceMemory.open(tmp_path / "m") as memory:
        memory.add_step(StepRecord(agent="poet", input="Write a haiku", output="Snow..."))
        assert not free_for_another_process(tmp_path / "m")
    assert free_for_another_process(tmp_path / "m")


def test_what_was_recorded_is_there_when_opened_again(tmp_path: Path) -> None:
    with ExperienceMemory.open(tmp_path / "m") as memory:
        memory.add_step(StepRecord(agent="poet", input="Write a haiku", output="Snow..."))
    with ExperienceMemory.open(tmp_path / "m") as memory:
        assert [s.output for s in memory.examples("Write a haiku", agent="poet", k=1)] == [
            "Snow..."
        ]


async def test_async_with_on_the_orchestrators_experience_closes_its_memory(
    tmp_path: Path,
) -> None:
    async with MemoryExperience(ExperienceMemory.open(tmp_path / "m")) as experience:
        assert await experience.lookup("Summarise the heat pump report") is None
        assert not free_for_another_process(tmp_path / "m")
    assert free_for_another_process(tmp_path / "m")


def test_another_claim_of_the_process_keeps_the_folder_held(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    claim(folder)  # as ``weft ask`` holds its folder for the whole ask
    try:
        ExperienceMemory.open(folder).close()
        assert holds(folder)
        assert not free_for_another_process(folder)
    finally:
        release(folder)
    assert free_for_another_process(folder)


def test_a_memory_that_fails_to_open_does_not_keep_the_folder(tmp_path: Path) -> None:
    ExperienceMemory.open(tmp_path / "m").close()  # made with MiniLM's 384 dimensions
    with pytest.raises(Exception, match="its records cannot be matched"):
        ExperienceMemory.open(tmp_path / "m", embedder=make_embedder("hashing"))
    assert free_for_another_process(tmp_path / "m")


def test_another_process_waits_on_an_open_memory_and_not_on_a_closed_one(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "m"
    script = (
        "import sys\n"
        "from weft.runtime.memory.folder_lock import MemoryInUseError, claim\n"
        "try:\n    claim(sys.argv[1])\nexcept MemoryInUseError:\n    sys.exit(3)\n"
    )
    memory = ExperienceMemory.open(folder)
    busy = subprocess.run([sys.executable, "-c", script, str(folder)], timeout=60)
    memory.close()
    free = subprocess.run([sys.executable, "-c", script, str(folder)], timeout=60)
    assert (busy.returncode, free.returncode) == (3, 0)


def test_a_weft_ask_after_close_remembers(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    (tmp_path / "desk.py").write_text(DESK)
    memory = ExperienceMemory.open(folder)
    memory.close()  # the program goes on running; its memory is closed
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "WEFT_"))}
    env["WEFT_HOME"] = str(tmp_path / "home")
    task = "Summarise the heat pump report"
    out = subprocess.run(
        [WEFT, "ask", task, "--agents", "desk.py", "--memory", str(folder)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "in use" not in out.stderr
    with ExperienceMemory.open(folder) as reopened:
        assert [r.task for r in reopened.records()] == [task]
