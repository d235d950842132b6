"""With OTEL_EXPORTER_OTLP_ENDPOINT set, spans also reach an OTLP/HTTP collector (one run here)."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from weft.runtime import compile_workflow
from weft.runtime.engine.executor import Executor
from weft.runtime.tracing.otlp import OtlpTracer, otlp_configured
from weft.runtime.tracing.spans import FanOutTracer
from weft.runtime.tracing.store import TraceStore, open_default_tracer

from .conftest import check_facts, research_workflow


class Collector:
    """A minimal OTLP/HTTP trace receiver on loopback that decodes what it is sent."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        self.requests: list[Any] = []
        self.paths: list[str] = []
        self.received = threading.Event()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                collector.paths.append(self.path)
                collector.requests.append(request)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
                collector.received.set()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> list[tuple[Any, Any]]:
        """``(resource, span)`` for every span received."""
        return [
            (resource_spans.resource, span)
            for request in self.requests
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]


@pytest.fixture
def collector() -> Iterator[Collector]:
    receiver = Collector()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def _attributes(span: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for kv in span.attributes:
        kind = kv.value.WhichOneof("value")
        values[kv.key] = getattr(kv.value, kind)
    return values


async def test_spans_reach_an_otlp_collector_with_their_ids_and_parents(
    collector: Collector, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
    tracer = open_default_tracer(tmp_path / "traces.db")
    assert isinstance(tracer, FanOutTracer)
    result = await Executor(tracer=tracer).run(
        compile_workflow(research_workflow(), [check_facts]), {"subject": "otters"}
    )
    tracer.close()
    assert collector.received.wait(timeout=10)
    assert set(collector.paths) == {"/v1/traces"}

    with TraceStore(tmp_path / "traces.db") as store:
        stored = {s.span_id: s for s in store.spans(result.run_id)}
    received = collector.spans()
    by_id = {span.span_id.hex(): span for _, span in received}
    assert set(by_id) == set(stored)
    for span_id, span in by_id.items():
        local = stored[span_id]
        assert span.name == local.name
        assert span.trace_id.hex() == local.trace_id
        assert span.parent_span_id.hex() == (local.parent_id or "")
    resource, _ = received[0]
    assert {kv.key: kv.value.string_value for kv in resource.attributes}["service.name"] == "weft"
    research = next(s for s in by_id.values() if s.name == "research")
    attributes = _attributes(research)
    assert attributes["gen_ai.operation.name"] == "execute_tool"
    assert attributes["gen_ai.tool.name"] == "research_topic"
    assert "otters: future" in attributes["weft.output"]


def test_nothing_is_exported_unless_an_endpoint_is_configured(tmp_path: Path) -> None:
    assert not otlp_configured({})
    assert otlp_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert otlp_configured(
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}
    )
    assert not otlp_configured(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}
    )


def test_the_exporter_accepts_any_span_exporter(tmp_path: Path) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from weft.runtime.tracing.spans import SpanRecord

    memory = InMemorySpanExporter()
    tracer = OtlpTracer(memory)
    tracer.record(
        SpanRecord(
            "a" * 32,
            "b" * 16,
            None,
            "wf",
            "run",
            1.0,
            2.5,
            "failed",
            run_id="r",
            attributes={"error": "node 'x' failed: boom"},
        )
    )
    tracer.close()
    (span,) = memory.get_finished_spans()
    assert span.name == "wf" and span.status.status_code.name == "ERROR"
    assert span.status.description == "node 'x' failed: boom"
    assert (span.end_time - span.start_time) == 1_500_000_000


def test_a_missing_otlp_exporter_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    """chromadb installs the OpenTelemetry SDK but not the OTLP/HTTP exporter: with an
    endpoint set and no ``weft[otlp]``, ``weft run`` said so in a traceback."""
    import subprocess
    import sys

    (tmp_path / "wf.yaml").write_text(
        "name: wf\nactions:\n  j: {python: 'json:dumps'}\n"
        "nodes:\n  a: {action: j, with: {obj: 1}}\n"
    )
    script = (
        "import sys\n"
        "sys.modules['opentelemetry.exporter.otlp.proto.http.trace_exporter'] = None\n"
        "from weft.cli import main\n"
        "sys.argv = ['weft', 'run', 'wf.yaml']\n"
        "main()\n"
    )
    env = {
        **__import__("os").environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "WEFT_HOME": str(tmp_path / "home"),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: OTLP export needs the OpenTelemetry SDK and its OTLP/HTTP exporter: "
        "pip install 'weft[otlp]' (or unset OTEL_EXPORTER_OTLP_ENDPOINT) "
        "(import of opentelemetry.exporter.otlp.proto.http.trace_exporter halted; "
        "None in sys.modules)"
    ]
