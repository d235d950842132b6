"""The YAML-reading benchmark runs at a tiny size, and leaves libyaml on.

No timing assertions: the numbers belong to ``bench/yaml_load.py``. What is
checked is that it compares like with like (it stops when the two parsers read
different specs) and restores the parser weft reads with.
"""

from __future__ import annotations

import pytest

import weft.workflows._yaml_compose as compose

from .conftest import load_bench

bench = load_bench("yaml_load")


def test_a_tiny_topology_is_read_alike_by_both_parsers(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--no-save", "--nodes", "20", "--repeats", "1"]) == 0
    printed = capsys.readouterr().out
    assert "| 20 |" in printed
    assert compose._LIBYAML  # the benchmark turned the Python parser off again


def test_different_specs_stop_the_benchmark(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compose, "_LIBYAML", compose._LIBYAML)  # restored after the test
    real = bench.timed

    def skewed(text: str, libyaml: bool) -> tuple[float, dict[str, object]]:
        seconds, spec = real(text, libyaml)
        return seconds, {**spec, "name": "other"} if libyaml else spec

    monkeypatch.setattr(bench, "timed", skewed)
    with pytest.raises(SystemExit, match="read different specs"):
        bench.measure(20, 1)
