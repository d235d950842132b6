"""Which webhooks weft's A2A server may POST to (``PushPolicy``), and ``weft a2a serve``'s
``--push-allow``/``--no-push`` as a user mistypes them."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from weft.cli._app import cli
from weft.runtime.interop.a2a_push_policy import PushPolicy, PushTarget

TOOLS = "tests/interop_a2a/a2a_tools.py:echo"


@pytest.mark.parametrize(
    ("entry", "target"),
    [
        ("127.0.0.1:9000", PushTarget("127.0.0.1", 9000)),
        ("Hooks.Example", PushTarget("hooks.example", None)),
        ("hooks.example.:443", PushTarget("hooks.example", 443)),
        ("[::1]:8080", PushTarget("::1", 8080)),
        ("[0:0::1]", PushTarget("::1", None)),
        ("::1", PushTarget("::1", None)),
    ],
)
def test_an_allow_list_entry_is_a_host_and_maybe_a_port(entry: str, target: PushTarget) -> None:
    assert PushTarget.parse(entry) == target


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("http://127.0.0.1:9000/hook", "is a URL"),
        (":9000", "has no host"),
        ("127.0.0.1:", "has no port after ':'"),
        ("127.0.0.1:http", "is not a number in 1..65535"),
        ("127.0.0.1:70000", "is not a number in 1..65535"),
        ("[::1", "is not \\[IPv6\\]"),
    ],
)
def test_an_entry_of_another_form_is_refused_saying_why(entry: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        PushTarget.parse(entry)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:9000/hook", True),
        ("http://127.0.0.1:9001/hook", False),
        ("http://localhost:9000/hook", False),
        ("https://hooks.example/a2a", True),
        ("http://hooks.example:8080/a2a", True),
        ("http://[::1]:7000/", True),
        ("http://[::1]:7001/", False),
        ("ftp://hooks.example/a2a", False),
        ("http://127.0.0.1:bad/", False),
    ],
)
async def test_with_an_allow_list_exactly_its_hosts_and_ports_are_allowed(
    url: str, allowed: bool
) -> None:
    policy = PushPolicy(["127.0.0.1:9000", "hooks.example", "[::1]:7000"])
    assert await policy.allows(url) is allowed


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "file:///etc/passwd",
    ],
)
async def test_by_default_loopback_private_and_metadata_addresses_are_refused(url: str) -> None:
    assert await PushPolicy().allows(url) is False


async def test_by_default_a_public_address_is_allowed() -> None:
    assert await PushPolicy().allows("https://93.184.215.14/hook") is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--push-allow", "http://x/"], "Invalid value for --push-allow: 'http://x/' is a URL"),
        (["--push-allow", "h:0"], "Invalid value for --push-allow: 'h:0': port '0'"),
        (["--no-push", "--push-allow", "h"], "--no-push turns push notifications off"),
    ],
)
def test_a_bad_push_option_is_a_usage_error_naming_it(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["a2a", "serve", TOOLS, "--http", "127.0.0.1:0", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_push_options_without_http_are_a_usage_error() -> None:
    result = CliRunner().invoke(
        cli, ["a2a", "serve", TOOLS, "--mqtt", "a/b/c", "--push-allow", "127.0.0.1"]
    )
    assert result.exit_code == 2
    assert "--push-allow is about the HTTP server's push notifications" in result.output
