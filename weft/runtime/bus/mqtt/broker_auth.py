"""Who may talk to the broker, and about what: Mosquitto password files and ACLs.

Why weft ships this: as soon as agents run on several machines the broker
listens on a network, and anybody who reaches it could register a capability
card, answer calls meant for an agent, or read every call. The defence is the
broker's: users with passwords (``password_file``), an ACL that confines each
agent to its own topics (``acl_file``), and TLS. ``docs/security.md`` shows
the whole setup; this module writes the two files.

Password files use Mosquitto 2's PBKDF2-SHA512 format
(``user:$7$<iterations>$<base64 salt>$<base64 hash>``, the format
``mosquitto_passwd`` writes), computed here rather than by running
``mosquitto_passwd -b``: that would put every password on a command line,
readable by any local user in ``/proc`` while it runs, and would need the
Mosquitto tools on the machine that prepares the file.

The ACL comes from ``weft/data/mosquitto.acl.template``. Its convention:
every agent process connects with its agent id as MQTT user name, so each
replica is a user of its own, and the pools replicas share are granted per
user; orchestrators and callers get user blocks with more rights. What
Mosquitto's ``acl_file`` cannot do, and what to use then, is in
``docs/security.md`` ("Limits").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import tempfile
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

from weft.protocols import BusError

__all__ = [
    "DEFAULT_ITERATIONS",
    "acl_template",
    "check_username",
    "hash_password",
    "read_password_file",
    "render_acl",
    "verify_password",
    "write_acl_file",
    "write_password_file",
]

DEFAULT_ITERATIONS = 10_000
"""PBKDF2 rounds per password hash.

``mosquitto_passwd`` 2.0 uses 101, cheap to brute-force if the file leaks.
The broker pays the rounds once per CONNECT (about 5 ms at 10,000), which
long-lived agent connections do not notice. Mosquitto reads the count from
each line, so files mixing both work.
"""

_SALT_BYTES = 12  # what mosquitto_passwd uses
_HASH_BYTES = 64  # SHA-512 output


def check_username(name: str, what: str = "user name") -> str:
    """Reject names Mosquitto or the ACL convention cannot use; ``BusError`` says why.

    A user name is also an agent id in topics (``cards/%u``), so it must be a
    valid topic level: no ``/ + #``. Mosquitto refuses to substitute ``%u``
    for such names (a client could otherwise widen its rights), and ``:``
    would end the name in the password file.
    """
    bad = set("/+#:\x00") | {" ", "\t", "\n", "\r"}
    if not name or any(c in bad for c in name):
        raise BusError(
            f"{what} {name!r} must be non-empty, without spaces and without / + # : NUL "
            "(it is also the agent id in topics)"
        )
    return name


def hash_password(
    password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None
) -> str:
    """The ``$7$`` PBKDF2-SHA512 hash Mosquitto 2 accepts in a password file."""
    if iterations < 1:
        raise BusError(f"iterations must be at least 1, not {iterations}")
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, _HASH_BYTES)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash (ours or ``mosquitto_passwd``'s).

    Raises ``BusError`` for other formats (Mosquitto 1.x ``$6$`` hashes:
    re-create those users).
    """
    parts = encoded.split("$")
    if len(parts) != 5 or parts[1] != "7":
        raise BusError("not a Mosquitto 2 password hash ($7$...): re-create this user")
    try:
        iterations = int(parts[2])
        salt = base64.b64decode(parts[3], validate=True)
        expected = base64.b64decode(parts[4], validate=True)
    except ValueError:
        raise BusError("malformed Mosquitto password hash") from None
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, len(expected))
    return hmac.compare_digest(digest, expected)


def read_password_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{user: hash}`` from a Mosquitto password file (blank and ``#`` lines skipped)."""
    users: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, encoded = line.partition(":")
        if not sep or not user:
            raise BusError(f"{path}:{number}: expected 'user:hash'")
        users[user] = encoded
    return users


def write_password_file(
    path: str | os.PathLike[str],
    users: Mapping[str, str],
    *,
    iterations: int = DEFAULT_ITERATIONS,
    replace: bool = False,
) -> Path:
    """Add or update ``{user: password}`` in a Mosquitto password file.

    Users already in the file keep their hashes unless ``replace`` is true
    (then the file holds exactly ``users``). The file is written atomically
    with mode 0600: it must stay private even though it holds hashes only. A
    running Mosquitto reads it again on SIGHUP.
    """
    target = Path(path)
    entries = {} if replace or not target.exists() else read_password_file(target)
    for user, password in users.items():
        entries[check_username(user)] = hash_password(password, iterations=iterations)
    text = "".join(f"{user}:{encoded}\n" for user, encoded in entries.items())
    _write_private(target, text)
    return target


def acl_template() -> str:
    """The ACL template shipped in ``weft/data`` (placeholders ``{namespace}``, ``{users}``)."""
    return (resources.files("weft") / "data" / "mosquitto.acl.template").read_text()


def render_acl(
    namespace: str = "+",
    *,
    orchestrators: Iterable[str] = ("orchestrator",),
    callers: Iterable[str] = (),
    pools: Mapping[str, Iterable[str]] | None = None,
) -> str:
    """A Mosquitto ACL for ``namespace`` (``+``: every namespace).

    Every user gets the agent rights of the template: its own card, calls,
    cancellations and replies, and the pool named like it. ``orchestrators``
    may also read and write everything under ``weft/{namespace}/``;
    ``callers`` may call and cancel on any agent or pool and read run
    events; ``pools`` maps an agent user to the pools it serves besides its
    own (replicas of one agent are users of their own sharing a pool).
    Raises ``BusError`` for a name that cannot be a topic level.
    """
    if namespace != "+":
        check_username(namespace, "namespace")
    prefix = f"weft/{namespace}"
    rights: dict[str, list[str]] = {}
    for user in orchestrators:
        rights.setdefault(check_username(user), []).append(f"topic readwrite {prefix}/#")
    for user in callers:
        rights.setdefault(check_username(user), []).extend(
            [
                f"topic write {prefix}/agents/+/call",
                f"topic write {prefix}/agents/+/cancel",
                f"topic write {prefix}/pools/+/call",
                f"topic read {prefix}/runs/+/events",
            ]
        )
    for user, served in (pools or {}).items():
        rights.setdefault(check_username(user), []).extend(
            f"topic read {prefix}/pools/{check_username(pool, 'pool')}/call" for pool in served
        )
    # One block per user: Mosquitto's handling of a user named twice is not
    # something an ACL should depend on.
    blocks = ["\n".join([f"user {user}", *lines]) + "\n" for user, lines in rights.items()]
    users = "\n".join(blocks) if blocks else "# (none)\n"
    return acl_template().format(namespace=namespace, users=users)


def write_acl_file(
    path: str | os.PathLike[str],
    namespace: str = "+",
    *,
    orchestrators: Iterable[str] = ("orchestrator",),
    callers: Iterable[str] = (),
    pools: Mapping[str, Iterable[str]] | None = None,
) -> Path:
    """Write ``render_acl(...)`` to ``path`` (mode 0600); Mosquitto reloads it on SIGHUP."""
    target = Path(path)
    text = render_acl(namespace, orchestrators=orchestrators, callers=callers, pools=pools)
    _write_private(target, text)
    return target


def _write_private(target: Path, text: str) -> None:
    """Replace ``target`` atomically with a file only its owner can read."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
