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


def _run_cli(tmp_path: Path, endpoint: str, close_wait: float | None = None) -> Any:
    """``weft run`` of a one-node workflow in a process of its own, spans sent to ``endpoint``."""
    import os
    import subprocess
    import sys

    (tmp_path / "tools_otlp.py").write_text("def one(x: int) -> int:\n    return x\n")
    (tmp_path / "wf.yaml").write_text(
        "name: wf\nactions:\n  one: {python: 'tools_otlp:one'}\n"
        "nodes:\n  a: {action: one, with: {x: 1}}\n"
    )
    script = (
        "import sys\n"
        "import weft.runtime.tracing.otlp as otlp\n"
        + (f"otlp.CLOSE_WAIT_S = {close_wait}\n" if close_wait is not None else "")
        + "from weft.cli import main\n"
        "sys.argv = ['weft', 'run', 'wf.yaml']\n"
        "main()\n"
    )
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "WEFT_HOME": str(tmp_path / "home"),
    }
    return subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )


def test_a_collector_that_is_down_leaves_the_run_finished_and_one_line_saying_so(
    tmp_path: Path,
) -> None:
    """A refused connection was four lines of urllib3 retries naming neither the run nor
    where its trace still is, and the process waited out the exporter's retries."""
    import socket

    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        done = _run_cli(tmp_path, f"http://127.0.0.1:{port}")
    assert done.returncode == 0, done.stderr
    assert "succeeded" in done.stdout
    run_id = done.stdout.split()[1]
    assert done.stderr.strip().splitlines() == [
        f"OTLP export to http://127.0.0.1:{port}/v1/traces failed: 2 span(s) not sent "
        f"(connection refused). The local trace store has run {run_id}: send it later "
        f"with `weft trace export {run_id} --format otlp-json`"
    ]


def test_a_collector_that_never_answers_is_given_up_on_at_close(tmp_path: Path) -> None:
    """A collector that accepts and never replies held the process for the exporter's
    whole timeout after the run had finished; now ``close`` waits ``CLOSE_WAIT_S``."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel accepts; nobody reads or answers
        port = silent.getsockname()[1]
        done = _run_cli(tmp_path, f"http://127.0.0.1:{port}", close_wait=0.3)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[1]
    assert done.stderr.strip().splitlines() == [
        f"OTLP export to http://127.0.0.1:{port}/v1/traces failed: 2 span(s) not sent "
        f"(no answer within 0.3 s). The local trace store has run {run_id}: send it later "
        f"with `weft trace export {run_id} --format otlp-json`"
    ]


def test_a_small_otlp_queue_setting_is_no_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """``OTEL_BSP_MAX_QUEUE_SIZE=100`` was a ValueError out of ``weft run`` (the SDK's
    export batch of 512 must fit in the queue); unset, the queue holds a big run's spans
    (the SDK's 2,048 dropped 908 spans of a 5,000-item foreach)."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from weft.runtime.tracing import otlp
    from weft.runtime.tracing.spans import SpanRecord

    monkeypatch.delenv("OTEL_BSP_MAX_QUEUE_SIZE", raising=False)
    monkeypatch.delenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", raising=False)
    assert otlp._sizes() == (otlp.QUEUE_SIZE, 512)
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "100")
    assert otlp._sizes() == (100, 100)
    memory = InMemorySpanExporter()
    tracer = OtlpTracer(memory)
    for n in range(3):
        tracer.record(
            SpanRecord("a" * 32, f"{n + 1:016x}", None, "wf", "run", 1.0, 2.0, "succeeded")
        )
    tracer.close()
    assert len(memory.get_finished_spans()) == 3


def test_a_collector_that_refuses_the_spans_is_named_with_its_http_status(
    tmp_path: Path,
) -> None:
    class Refuse(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(400)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        done = _run_cli(tmp_path, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "2 span(s) not sent (HTTP 400: Bad Request)" in line
