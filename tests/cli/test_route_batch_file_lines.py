"""``weft route --batch``/``--feedback`` files: lines as a user's editor counts them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from weft.cli._route_batch import read_feedback, read_jsonl
from weft.protocols import DefinitionError


def test_a_feedback_mistake_names_the_line_of_the_file(tmp_path: Path) -> None:
    feedback = tmp_path / "feedback.jsonl"
    good = {"text": "weather in Rome", "agent": "weather", "success": True}
    bad = {"text": "weather in Oslo", "agent": "weather", "success": "yes"}
    feedback.write_text(f"\n{json.dumps(good)}\n\n{json.dumps(bad)}\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        read_feedback(str(feedback))
    assert f"{feedback}:4: 'agent' must be a string" in str(caught.value)


def test_a_raw_line_separator_inside_a_string_stays_in_its_line(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.jsonl"
    texts = ["Summarise this memo:\u2028Q3 results are in", "Plot\x0cthe revenue\u0085now"]
    tasks.write_text(
        "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts),
        encoding="utf-8",
    )
    assert [row["text"] for row in read_jsonl(str(tasks), ("text",))] == texts


def test_a_byte_order_mark_and_crlf_line_ends_are_read_as_plain_jsonl(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_bytes(b'\xef\xbb\xbf{"text": "first"}\r\n{"text": "second"}\r\n')
    assert [row["text"] for row in read_jsonl(str(tasks), ("text",))] == ["first", "second"]
    tasks.write_bytes(b'\xef\xbb\xbf{"text": "first"}\r\n\r\n{"text": \r\n')
    with pytest.raises(DefinitionError) as caught:
        read_jsonl(str(tasks), ("text",))
    assert f"{tasks}:3: not JSON" in str(caught.value)
