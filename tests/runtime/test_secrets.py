"""Secret values are registered for the run and masked wherever they reappear in records.

A value passed under a secret-looking name (``api_key``, ``password``...), given
to a parameter its action marks secret, declared ``secret: true``, or marked
with ``weft.secret`` is masked in outputs, error messages, tracebacks and the
inputs of later nodes as the journal, the trace store, exports and the HTML
view record them, while the actions themselves compute with the real value.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

import weft
from weft import ActionContext, ActionResult, ErrorInfo, Workflow, tool
from weft.protocols import ActionState, EventKind, RunEvent
from weft.runtime.engine.compiler import compile_workflow
from weft.runtime.engine.journal import Journal
from weft.runtime.engine.runner import run_workflow
from weft.runtime.support import redaction
from weft.runtime.support.redaction import MASK, Redactor
from weft.runtime.support.secrets import scrub_result, secret_parameters
from weft.runtime.tracing.export import FORMATS, export
from weft.runtime.tracing.html import render_html
from weft.runtime.tracing.store import TraceStore


@pytest.fixture(autouse=True)
def fresh_redactor(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A process redactor of this test's own: registration is process-wide."""
    monkeypatch.setattr(redaction, "_default_redactor", None)
    yield
    monkeypatch.setattr(redaction, "_default_redactor", None)


@tool
def connect(api_key: str, host: str) -> str:
    """A careless client that puts its key in its greeting."""
    return f"connected to {host} with {api_key}"


@tool
def refuse(api_key: str) -> str:
    """A careless client that puts its key in its error."""
    raise ValueError(f"key {api_key} was refused")


@tool
def quote(text: str) -> str:
    """Passes text on, under an innocent name."""
    return f"quoted: {text}"


@tool
def fetch_key() -> str:
    """Reads a key from somewhere and hands it on."""
    return "fk-Upstream-0042"


@tool
def licensed(license: SecretStr, name: str) -> str:
    """A parameter typed SecretStr is secret whatever its name."""
    return f"{name} licensed with {license.get_secret_value()}"


class Recorded:
    """Everything a run wrote: the files of its journal and trace store, exports, HTML."""

    def __init__(self, home: Path, run_id: str) -> None:
        with TraceStore(home / "traces.db") as store:
            run = store.get_run(run_id)
            spans = store.spans(run_id)
        self.texts = {fmt: export(spans, fmt) for fmt in FORMATS}
        self.texts["html"] = render_html(run, spans)
        self.files = b"".join(p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file())

    def holds(self, value: str) -> bool:
        return value.encode() in self.files or any(value in t for t in self.texts.values())


async def run_recorded(
    tmp_path: Path, wf: Any, inputs: dict[str, Any], listeners: Sequence[Any] = ()
) -> tuple[Any, Recorded]:
    home = tmp_path / "home"
    journal = Journal(home / "journal.db")
    store = TraceStore(home / "traces.db", writer="inline")
    try:
        result = await run_workflow(wf, inputs, journal=journal, tracer=store, listeners=listeners)
    finally:
        journal.close()
        store.close()
    return result, Recorded(home, result.run_id)


async def test_a_key_echoed_into_an_output_and_an_error_is_recorded_nowhere(
    tmp_path: Path,
) -> None:
    secret = "ak-Echoed-7731"
    wf = Workflow("echo", on_failure="continue")
    wf.input("key", type="string")  # an innocent name: the argument's name makes it secret
    wf.node("a", connect, with_={"api_key": "${inputs.key}", "host": "example.org"})
    wf.node("b", refuse, with_={"api_key": "${inputs.key}"})
    wf.node("c", quote, after=["a"], with_={"text": "${a}"})  # a's output, as c's input
    result, recorded = await run_recorded(tmp_path, wf, {"key": secret})

    assert result.outputs["c"] == f"quoted: connected to example.org with {secret}"
    assert secret in result.nodes["b"].error.message  # the run itself keeps the real value
    assert not recorded.holds(secret)
    assert all(MASK in text for text in recorded.texts.values())
    assert all("example.org" in text for text in recorded.texts.values())  # the rest is kept


async def test_an_input_that_feeds_a_secret_argument_is_masked_in_the_run_record(
    tmp_path: Path,
) -> None:
    wf = Workflow("inputs")
    wf.input("key", type="string")
    wf.input("host", type="string")
    wf.node("a", connect, with_={"api_key": "${inputs.key}", "host": "${inputs.host}"})
    registered_at_start: list[bool] = []

    def on_event(event: RunEvent) -> None:
        if event.kind is EventKind.RUN_STARTED:  # journaled with the run's inputs
            registered_at_start.append("ak-Input-5512" in redaction.redactor().secrets)

    result, _ = await run_recorded(
        tmp_path, wf, {"key": "ak-Input-5512", "host": "db.local"}, [on_event]
    )
    assert registered_at_start == [True]
    record = Journal(tmp_path / "home" / "journal.db").get_run(result.run_id)
    assert record.inputs == {"key": MASK, "host": "db.local"}


async def test_an_upstream_output_that_feeds_a_secret_argument_is_masked_where_recorded(
    tmp_path: Path,
) -> None:
    wf = Workflow("upstream")
    wf.node("fetch", fetch_key)
    wf.node("use", connect, after=["fetch"], with_={"api_key": "${fetch}", "host": "h.local"})
    registered_when_recorded: list[bool] = []

    def on_event(event: RunEvent) -> None:
        if event.kind is EventKind.NODE_FINISHED and event.node == "fetch":
            registered_when_recorded.append("fk-Upstream-0042" in redaction.redactor().secrets)

    result, recorded = await run_recorded(tmp_path, wf, {}, [on_event])
    assert registered_when_recorded == [True]  # not only once 'use' was called
    assert result.outputs["use"] == "connected to h.local with fk-Upstream-0042"
    assert not recorded.holds("fk-Upstream-0042")


async def test_an_output_passed_on_to_a_single_secret_parameter_is_masked_where_recorded(
    tmp_path: Path,
) -> None:
    @tool
    def use_key(api_key: str) -> str:
        """Takes its key from the node before it, without ``with``."""
        return f"using {api_key}"

    wf = Workflow("passed-on")
    wf.node("fetch", fetch_key)
    wf.node("use", use_key, after=["fetch"])
    registered_when_recorded: list[bool] = []

    def on_event(event: RunEvent) -> None:
        if event.kind is EventKind.NODE_FINISHED and event.node == "fetch":
            registered_when_recorded.append("fk-Upstream-0042" in redaction.redactor().secrets)

    result, recorded = await run_recorded(tmp_path, wf, {}, [on_event])
    assert registered_when_recorded == [True]
    assert result.outputs["use"] == "using fk-Upstream-0042"
    assert not recorded.holds("fk-Upstream-0042")


async def test_an_input_declared_secret_in_yaml_is_masked_under_any_name(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(
        textwrap.dedent(
            """
            name: declared
            inputs:
              phrase: {type: string, secret: true}
            nodes:
              q:
                action: quote
                with: {text: "say ${inputs.phrase}"}
            """
        )
    )
    result, recorded = await run_recorded(
        tmp_path, compile_workflow(path, [quote]), {"phrase": "Open-Sesame-99"}
    )
    assert result.outputs["q"] == "quoted: say Open-Sesame-99"
    assert not recorded.holds("Open-Sesame-99")


async def test_weft_secret_marks_a_value_and_hands_it_back(tmp_path: Path) -> None:
    value = weft.secret("mk-Marked-6620")
    assert value == "mk-Marked-6620"
    wf = Workflow("marked")
    wf.node("q", quote, with_={"text": value})
    result, recorded = await run_recorded(tmp_path, wf, {})
    assert result.outputs["q"] == "quoted: mk-Marked-6620"
    assert not recorded.holds("mk-Marked-6620")


async def test_a_parameter_the_schema_marks_secret_is_secret_whatever_its_name(
    tmp_path: Path,
) -> None:
    assert secret_parameters(licensed.spec.input_schema) == {"license"}
    wf = Workflow("licensed")
    wf.input("lic", type="string")
    wf.node("l", licensed, with_={"license": "${inputs.lic}", "name": "app"})
    result, recorded = await run_recorded(tmp_path, wf, {"lic": "LIC-0000-7777"})
    assert result.outputs["l"] == "app licensed with LIC-0000-7777"
    assert not recorded.holds("LIC-0000-7777")


async def test_a_sub_workflow_marks_its_secret_inputs_for_the_workflow_that_calls_it(
    tmp_path: Path,
) -> None:
    inner = Workflow("inner")
    inner.input("token_value", type="string")
    inner.node("a", connect, with_={"api_key": "${inputs.token_value}", "host": "in.local"})
    outer = Workflow("outer")
    outer.input("k", type="string")
    outer.node("sub", inner, with_={"token_value": "${inputs.k}"})
    prepared = compile_workflow(outer)
    schema = prepared.registry.get("inner").spec.input_schema
    assert schema["properties"]["token_value"]["writeOnly"] is True
    assert prepared.secret_inputs == (("k",),)
    result, recorded = await run_recorded(tmp_path, prepared, {"k": "sub-Secret-3141"})
    assert result.outputs["sub"] == {"a": "connected to in.local with sub-Secret-3141"}
    assert not recorded.holds("sub-Secret-3141")


async def test_a_value_masked_under_a_sensitive_key_is_masked_where_it_is_echoed(
    tmp_path: Path,
) -> None:
    @tool
    def login() -> dict[str, str]:
        """Returns a session whose password a later node quotes."""
        return {"user": "ada", "password": "pw-Returned-2718"}

    wf = Workflow("returned")
    wf.node("login", login)
    wf.node("q", quote, after=["login"], with_={"text": "${login.password}"})
    result, recorded = await run_recorded(tmp_path, wf, {})
    assert result.outputs["q"] == "quoted: pw-Returned-2718"
    assert not recorded.holds("pw-Returned-2718")


async def test_calls_an_action_makes_through_its_context_register_their_arguments(
    tmp_path: Path,
) -> None:
    @tool
    async def delegate(ctx: ActionContext) -> Any:
        """Calls connect itself, as an LLM agent calls its tools."""
        result = await ctx.invoke("connect", {"api_key": "ctx-Child-1618", "host": "c.local"})
        return result.output

    wf = Workflow("delegating")
    wf.node("d", delegate)
    home = tmp_path / "home"
    store = TraceStore(home / "traces.db", writer="inline")
    journal = Journal(home / "journal.db")
    result = await run_workflow(wf, actions=[connect], journal=journal, tracer=store)
    journal.close()
    store.close()
    assert result.outputs["d"] == "connected to c.local with ctx-Child-1618"
    assert not Recorded(home, result.run_id).holds("ctx-Child-1618")


def test_short_values_and_placeholders_are_never_registered() -> None:
    masker = Redactor()
    masker.register_arguments({"api_key": "abc", "token": MASK, "password": "none", "pin": "1"})
    masker.register_arguments({"auth": "basic", "secret": " x "})
    assert masker.secrets == frozenset()


def test_only_secret_looking_values_masked_in_a_record_are_registered() -> None:
    masker = Redactor()
    masked = masker.value({"auth": "required", "db": {"password": "hunter22"}})
    assert masked == {"auth": MASK, "db": {"password": MASK}}
    assert masker.secrets == {"hunter22"}  # not every "required" from now on
    assert masker.text("argument 'x' is required; hunter22") == f"argument 'x' is required; {MASK}"


def test_a_secret_input_survives_a_yaml_round_trip() -> None:
    wf = Workflow("declared")
    wf.input("phrase", type="string", secret=True)
    wf.input("plain", type="string")
    wf.node("q", quote, with_={"text": "${inputs.phrase} ${inputs.plain}"})
    text = weft.dumps_workflow(wf.build())
    assert weft.loads_workflow(text).inputs["phrase"].secret is True
    assert "secret" not in text.split("plain:")[1].split("nodes:")[0]  # the default is left out


def test_arguments_are_registered_at_any_depth_and_only_under_secret_names() -> None:
    masker = Redactor()
    masker.register_arguments(
        {
            "config": {"db": [{"password": "pw-Deep-0001"}], "host": "h.local"},
            "items": [["plain-text"], {"Api-Key": "ak-Listed-0002"}],
            "license": "LIC-Named-0003",
            "note": "not-a-secret",
        },
        secret_names={"license"},
    )
    assert {"pw-Deep-0001", "ak-Listed-0002", "LIC-Named-0003"} <= masker.secrets
    assert not {"h.local", "plain-text", "not-a-secret"} & masker.secrets


def test_scrubbing_a_result_replaces_registered_secrets_and_keeps_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    redaction.register_secret("sc-Scrubbed-4242")
    result = ActionResult(
        call_id="c1",
        state=ActionState.ERROR,
        output={"token": "kept-for-the-caller", "echo": "key sc-Scrubbed-4242"},
        error=ErrorInfo(
            type="ValueError",
            message="refused sc-Scrubbed-4242",
            details={"traceback": 'ValueError("sc-Scrubbed-4242")'},
        ),
    )
    scrubbed = scrub_result(result)
    assert scrubbed.output == {"token": "kept-for-the-caller", "echo": f"key {MASK}"}
    assert scrubbed.error is not None
    assert scrubbed.error.message == f"refused {MASK}"
    assert "sc-Scrubbed-4242" not in scrubbed.model_dump_json()
    clean = ActionResult.success("c2", "nothing to hide")
    assert scrub_result(clean) is clean
