"""A broker URL that is refused before connecting never shows the password in it.

``weft agents`` and ``weft agent serve`` read the URL from ``--broker`` or
``$WEFT_BROKER`` (where docs/distributed.md says to keep passwords); a URL
with a wrong scheme, port or host is an error of one line that echoes the
URL, its password as ``***``, as the error for an unreachable broker does.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.cli import cli

BAD_URLS = [
    ("http://bob:s3cr3t-pw@broker.lan:1883", "must start with mqtt:// or mqtts://"),
    ("mqtt://bob:s3cr3t-pw@broker.lan:port", "has a bad port"),
    ("mqtt://bob:s3cr3t-pw@", "has no host"),
    ("mqtt://bob:s3cr3t-pw@broker.lan:x/a@b?ca=c@d", "has a bad port"),
]


@pytest.mark.parametrize(("url", "expected"), BAD_URLS)
@pytest.mark.parametrize("given", ["option", "environment"])
def test_a_refused_broker_url_is_shown_without_its_password(
    tmp_path: Path, url: str, expected: str, given: str
) -> None:
    argv, env = ["agents"], {"WEFT_HOME": str(tmp_path), "WEFT_BROKER": None}
    if given == "option":
        argv += ["--broker", url]
    else:
        env["WEFT_BROKER"] = url
    result = CliRunner().invoke(cli, argv, env=env)
    assert result.exit_code == 2, result.output
    assert expected in result.output, result.output
    assert "s3cr3t-pw" not in result.output
    assert "bob:***@" in result.output
