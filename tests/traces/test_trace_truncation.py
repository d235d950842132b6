"""Big inputs and outputs are cut past a configurable size, keeping their shape, with a marker."""

from __future__ import annotations

import json
from pathlib import Path

from weft.runtime.tracing.span_codec import SpanCodec
from weft.runtime.tracing.spans import SpanRecord
from weft.runtime.tracing.store import TraceStore


def _span(**attributes: object) -> SpanRecord:
    return SpanRecord(
        "a" * 32,
        "b" * 16,
        None,
        "big",
        "run",
        1.0,
        2.0,
        "succeeded",
        run_id="r1",
        attributes=dict(attributes),
    )


def _stored(tmp_path: Path, span: SpanRecord, max_chars: int = 4096) -> SpanRecord:
    with TraceStore(tmp_path / "t.db", max_chars=max_chars) as store:
        store.record(span)
        (back,) = store.spans("r1")
    return back


def test_a_long_string_is_cut_with_a_marker_saying_how_long_it_was(tmp_path: Path) -> None:
    back = _stored(tmp_path, _span(output="x" * 100_000), max_chars=1000)
    output = back.attributes["output"]
    assert isinstance(output, str) and len(output) < 1000
    assert output.startswith("xxx") and output.endswith("[truncated: 100000 chars]")


def test_a_big_structure_keeps_its_shape_and_small_fields(tmp_path: Path) -> None:
    document = {"title": "Tides", "text": "word " * 20_000, "pages": list(range(5000))}
    back = _stored(tmp_path, _span(input={"document": document, "mode": "fast"}))
    kept = back.attributes["input"]
    assert kept["mode"] == "fast" and kept["document"]["title"] == "Tides"
    assert kept["document"]["text"].endswith("[truncated: 100000 chars]")
    assert kept["document"]["pages"][-1] == "… [truncated: 4900 more items]"
    assert len(json.dumps(kept, ensure_ascii=False)) <= 4096


def test_each_value_is_capped_on_its_own(tmp_path: Path) -> None:
    back = _stored(tmp_path, _span(input="i" * 3000, output="o" * 3000), max_chars=4096)
    assert back.attributes["input"] == "i" * 3000
    assert back.attributes["output"] == "o" * 3000


def test_small_values_are_stored_as_they_are(tmp_path: Path) -> None:
    back = _stored(tmp_path, _span(input={"x": [1, 2.5, None, True, "é"]}, output=0))
    assert back.attributes == {"input": {"x": [1, 2.5, None, True, "é"]}, "output": 0}


def _size(value: object) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def test_a_very_wide_dict_keeps_its_first_keys_and_says_how_many_were_dropped() -> None:
    codec = SpanCodec(max_chars=200)
    output = codec.clean(_span(output={f"k{i}": i for i in range(5000)})).attributes["output"]
    assert isinstance(output, dict) and _size(output) <= 200
    assert output["k0"] == 0 and output["…"] == "[truncated: 4980 more keys]"


def test_what_cannot_be_shrunk_enough_becomes_a_cut_json_string() -> None:
    codec = SpanCodec(max_chars=200)
    long_keys = {("key-" + str(i)) * 30: i for i in range(5)}
    output = codec.clean(_span(output=long_keys)).attributes["output"]
    assert isinstance(output, str) and output.startswith('{"key-0key-0')
    assert output.endswith(f"… [truncated: {_size(long_keys)} chars]")
