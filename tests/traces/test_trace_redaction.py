"""No secret from configuration or arguments is written anywhere: store, journal, exports, view."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from weft import ActionFailed, Workflow, tool
from weft.runtime.engine.journal import Journal
from weft.runtime.engine.runner import run_workflow
from weft.runtime.support import redaction
from weft.runtime.support.redaction import MASK, Redactor, is_sensitive_key
from weft.runtime.tracing.export import FORMATS, export
from weft.runtime.tracing.html import render_html
from weft.runtime.tracing.store import TraceStore

INPUT_SECRET = "in-7Hq2pX9-zzLm"  # given as the run input ``api_key``
PASSWORD = "pw-Corr3ct-H0rse"  # returned by a tool in a ``password`` field
CONFIGURED = "cfg-Qw9-Env-Secret"  # configured in an environment variable
SECRETS = (INPUT_SECRET, PASSWORD, CONFIGURED)


@pytest.fixture
def fresh_redactor(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A process redactor that sees this test's environment (it is made once per process)."""
    monkeypatch.setenv("WEFT_TEST_SERVICE_API_KEY", CONFIGURED)
    monkeypatch.setattr(redaction, "_default_redactor", None)
    yield
    monkeypatch.setattr(redaction, "_default_redactor", None)


@tool
def connect(api_key: str, user: str) -> dict[str, object]:
    """Log in and hand back a session, with the password a careless API echoes."""
    return {"user": user, "session": "s-1", "db": {"host": "db.local", "password": PASSWORD}}


@tool
def note(text: str) -> str:
    """Pass a free-text note on (it quotes the key under an innocent name)."""
    return f"note: {text}"


@tool
def banner() -> dict[str, str]:
    """Print a banner that happens to contain the configured key."""
    return {"banner": f"using key {CONFIGURED} today"}


@tool
def fail_loudly() -> None:
    """Fail with the configured secret in the message."""
    raise ActionFailed(f"login refused for key {CONFIGURED}")


def leaky_workflow() -> Workflow:
    wf = Workflow("leaky", on_failure="continue")
    wf.input("api_key", type="string", required=True)
    wf.node("connect", connect, with_={"api_key": "${inputs.api_key}", "user": "ada"})
    wf.node("note", note, after=["connect"], with_={"text": "key is ${inputs.api_key}"})
    wf.node("banner", banner)
    wf.node("fail", fail_loudly, after=["note"])
    return wf


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


@pytest.mark.parametrize("writer", ["inline", "process"])
async def test_secrets_appear_in_no_file_no_export_and_no_view(
    tmp_path: Path, fresh_redactor: None, writer: Literal["inline", "process"]
) -> None:
    home = tmp_path / "weft"
    journal = Journal(home / "journal.db")
    store = TraceStore(home / "traces.db", writer=writer)
    result = await run_workflow(
        leaky_workflow(), {"api_key": INPUT_SECRET}, journal=journal, tracer=store
    )
    journal.close()
    store.close()
    assert result.nodes["connect"].output["db"]["password"] == PASSWORD  # the run itself saw it

    with TraceStore(home / "traces.db") as reopened:
        run = reopened.get_run(result.run_id)
        spans = reopened.spans(run.run_id)
    outputs = {fmt: export(spans, fmt) for fmt in FORMATS}
    outputs["html"] = render_html(run, spans)
    for fmt, text in outputs.items():
        (tmp_path / "exports" / f"out.{fmt}").parent.mkdir(exist_ok=True)
        (tmp_path / "exports" / f"out.{fmt}").write_text(text)

    written = _all_bytes(tmp_path)
    for secret in SECRETS:
        assert secret.encode() not in written, f"{secret} leaked"
    for fmt, text in outputs.items():
        assert MASK in text, fmt
        assert "ada" in text and "db.local" in text, f"{fmt} lost data that is not secret"


def test_sensitive_keys_are_masked_at_any_depth_whatever_their_case() -> None:
    masked = Redactor().value(
        {
            "API_KEY": "a",
            "nested": [{"Authorization": "Bearer x"}, {"clientSecret": "b", "keep": "c"}],
            "access_token": "d",
            "prompt_tokens": 12,
            "max_tokens": 100,
            "keywords": ["e"],
        }
    )
    assert masked == {
        "API_KEY": MASK,
        "nested": [{"Authorization": MASK}, {"clientSecret": MASK, "keep": "c"}],
        "access_token": MASK,
        "prompt_tokens": 12,
        "max_tokens": 100,
        "keywords": ["e"],
    }


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("password", True),
        ("db_passwd", True),
        ("apiKey", True),
        ("x-api-key", True),
        ("refresh_token", True),
        ("cookie", True),
        ("tokens", False),
        ("completion_tokens", False),
        ("tokenizer", False),
        ("monkey", False),
    ],
)
def test_which_keys_count_as_sensitive(key: str, sensitive: bool) -> None:
    assert is_sensitive_key(key) is sensitive


def test_a_registered_secret_is_masked_inside_longer_text_and_json() -> None:
    masker = Redactor(["s3cr3t-value"])
    assert masker.text("the key is s3cr3t-value, keep it") == f"the key is {MASK}, keep it"
    assert "s3cr3t-value" not in masker.dumps({"message": "failed with s3cr3t-value"})


def test_too_short_values_are_not_registered_as_secrets() -> None:
    masker = Redactor(["abc", "true", ""])
    assert masker.secrets == frozenset()


def test_secret_shaped_text_is_masked_in_strings() -> None:
    masker = Redactor()
    assert masker.text("mqtt://weft:hunter22@broker:1883") == f"mqtt://weft:{MASK}@broker:1883"
    assert masker.text("Authorization: Bearer abcdefghijklmnop") == (
        f"Authorization: Bearer {MASK}"
    )
    assert masker.text("password=opensesame&user=ada") == f"password={MASK}&user=ada"


def test_environment_variables_that_look_secret_are_registered() -> None:
    masker = Redactor()
    masker.register_env(
        {"OPENAI_API_KEY": "sk-env-1234567", "HOME": "/root", "DB_PASSWORD": "pw1234"}
    )
    assert masker.secrets >= {"sk-env-1234567", "pw1234"}
    assert "/root" not in masker.secrets


def test_journal_rows_hold_no_secret(tmp_path: Path, fresh_redactor: None) -> None:
    journal = Journal(tmp_path / "journal.db")
    journal.start_run("r1", "wf", None, "h", {"api_key": INPUT_SECRET, "note": f"{CONFIGURED}!"})
    journal.set_run_state("r1", "succeeded", {"password": PASSWORD})  # type: ignore[arg-type]
    journal.close()
    written = _all_bytes(tmp_path)
    assert all(s.encode() not in written for s in SECRETS)


def test_log_lines_hold_no_secret(fresh_redactor: None) -> None:
    import logging

    from weft.runtime.support import logging as weft_logging

    buffer = io.StringIO()
    weft_logging.configure_logging("json", "info", stream=buffer)
    try:
        log = weft_logging.get_logger("weft.test")
        log.info("connecting", password=PASSWORD, detail=f"key {CONFIGURED}")
        logging.getLogger("some.library").warning("using %s", CONFIGURED)
    finally:
        _reset_logging()
    text = buffer.getvalue()
    assert text.count(MASK) == 3
    assert all(s not in text for s in SECRETS)


def _reset_logging() -> None:
    import logging

    import structlog

    from weft.runtime.support import logging as weft_logging

    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "weft"]:
        root.removeHandler(handler)
    structlog.reset_defaults()
    weft_logging.enabled = False


def test_every_sensitive_key_contains_one_of_the_screening_hints() -> None:
    from weft.runtime.support.redaction import _KEY_HINTS

    keys = ["password", "PassPhrase", "pwd", "client_secret", "apiKey", "x-api-key",
            "AccessKey", "private-key", "Authorization", "credentials", "cookie", "sessionId",
            "refresh_token", "auth"]  # fmt: skip
    for key in keys:
        assert is_sensitive_key(key), key
        assert any(hint in key.lower() for hint in _KEY_HINTS), key
