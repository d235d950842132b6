"""Start and stop a Mosquitto broker configured the way weft needs it.

Why weft ships a broker config at all: a QoS 1 round trip through Mosquitto
costs ~88 ms with Nagle's algorithm on both ends and ~44 ms with Debian's
default config (client sockets already set TCP_NODELAY), but ~0.5 ms once the
broker sets ``set_tcp_nodelay true`` as well. Tests about latency and every
benchmark therefore start their own broker from ``WEFT_MOSQUITTO_CONFIG``
on a free loopback port; ``docs/protocol.md`` shows the same config for
production brokers.

``MosquittoBroker`` is for tests, benchmarks and local development: it binds
to loopback by default, keeps nothing on disk (``persistence false``) and
removes its temporary directory when stopped. Scale-out and production are
the job of a real broker deployment (Mosquitto, EMQX, HiveMQ).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from weft.protocols import BusError

WEFT_MOSQUITTO_CONFIG = """\
# Mosquitto configuration for weft (written by weft.runtime.bus.mqtt.broker).
#
# set_tcp_nodelay: disables Nagle's algorithm on the broker's sockets. Without
#   it every QoS 1 round trip waits for a delayed TCP ACK (~44 ms instead of
#   ~0.5 ms). weft clients set TCP_NODELAY on their own sockets.
# max_queued_messages: QoS 1 messages kept per slow subscriber before the
#   broker drops new ones (Mosquitto's default is 1000).
# persistence false: retained cards and sessions live only as long as the
#   broker; agents republish their cards when they reconnect.
per_listener_settings false
listener {port} {host}
protocol mqtt
set_tcp_nodelay true
allow_anonymous {allow_anonymous}
max_queued_messages 10000
persistence false
log_dest stderr
log_type error
log_type warning
{extra}"""
"""The broker config weft uses; ``render_config`` fills in the placeholders.

Placeholders: ``{host}`` and ``{port}`` of the listener, ``{allow_anonymous}``
(``true``/``false``) and ``{extra}`` (``password_file``, ``acl_file``, TLS and
``user`` lines, or nothing).
"""


@dataclass(frozen=True, slots=True)
class TlsListener:
    """TLS for the broker's listener: its certificate, and the CA that signs clients.

    With ``require_certificate`` (the default) a client must present a
    certificate signed by ``ca_file`` or the TLS handshake fails; the broker
    never sees its CONNECT. Paths are resolved when the config is rendered.
    """

    ca_file: str | os.PathLike[str]
    cert_file: str | os.PathLike[str]
    key_file: str | os.PathLike[str]
    require_certificate: bool = True

    def config_lines(self) -> str:
        return (
            f"cafile {Path(self.ca_file).resolve()}\n"
            f"certfile {Path(self.cert_file).resolve()}\n"
            f"keyfile {Path(self.key_file).resolve()}\n"
            f"require_certificate {'true' if self.require_certificate else 'false'}\n"
        )


_SEARCH_PATHS = (
    "/usr/sbin/mosquitto",
    "/usr/local/sbin/mosquitto",
    "/opt/homebrew/sbin/mosquitto",
    "/usr/local/opt/mosquitto/sbin/mosquitto",
)


def mosquitto_install_message() -> str:
    """What to tell a user whose machine has no ``mosquitto`` binary."""
    return (
        "Mosquitto (the MQTT broker) is not installed or not on PATH. Install it with "
        "'sudo apt-get install mosquitto' (Debian/Ubuntu), 'sudo dnf install mosquitto' "
        "(Fedora) or 'brew install mosquitto' (macOS), or set WEFT_MOSQUITTO to the "
        "binary's path, or point weft at a running MQTT v5 broker (mqtt://host:port)."
    )


def find_mosquitto(binary: str | None = None) -> str:
    """Path of the ``mosquitto`` executable.

    Looks at ``binary``, then ``$WEFT_MOSQUITTO``, then ``PATH``, then the
    usual sbin directories (Debian installs to /usr/sbin, which is not on a
    normal user's PATH). Raises ``BusError`` with install instructions.
    """
    candidates = [binary, os.environ.get("WEFT_MOSQUITTO"), shutil.which("mosquitto")]
    candidates.extend(_SEARCH_PATHS)
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    if binary:
        raise BusError(f"mosquitto binary {binary!r} not found or not executable")
    raise BusError(mosquitto_install_message())


def render_config(
    port: int,
    *,
    host: str = "127.0.0.1",
    allow_anonymous: bool = True,
    password_file: str | os.PathLike[str] | None = None,
    acl_file: str | os.PathLike[str] | None = None,
    user: str | None = None,
    tls: TlsListener | None = None,
    extra_config: str = "",
) -> str:
    """weft's Mosquitto config for one listener (see ``WEFT_MOSQUITTO_CONFIG``).

    ``password_file`` is a ``mosquitto_passwd`` file (``weft.runtime.bus.mqtt.broker_auth``
    writes one), ``acl_file`` a Mosquitto ACL file; both apply to every
    listener (``per_listener_settings false``). ``tls`` makes the listener a
    TLS one. ``user`` is the account a broker started as root switches to
    (Mosquitto's default is ``mosquitto``, which cannot read files in a private
    directory). ``extra_config`` is appended verbatim (plugins, for example).
    """
    extra = ""
    if password_file is not None:
        extra += f"password_file {Path(password_file).resolve()}\n"
    if acl_file is not None:
        extra += f"acl_file {Path(acl_file).resolve()}\n"
    if tls is not None:
        extra += tls.config_lines()
    if user is not None:
        extra += f"user {user}\n"
    if extra_config:
        extra += extra_config if extra_config.endswith("\n") else extra_config + "\n"
    return WEFT_MOSQUITTO_CONFIG.format(
        host=host,
        port=port,
        allow_anonymous="true" if allow_anonymous else "false",
        extra=extra,
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it).

    Another process may take it before the broker binds it; ``MosquittoBroker``
    retries with a new port when that happens.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    """Whether nothing listens on ``host:port`` (bound like Mosquitto, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


async def wait_until_accepting(host: str, port: int, *, timeout: float = 5.0) -> None:
    """Wait until something accepts TCP connections on ``host:port``.

    Raises ``BusError`` after ``timeout`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            if loop.time() >= deadline:
                raise BusError(
                    f"nothing accepts connections on {host}:{port} after {timeout:g}s: {exc}"
                ) from None
            await asyncio.sleep(0.01)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


def _current_user() -> str | None:
    """The account running weft: a broker started as root stays that user.

    A child broker then reads exactly the files its starter can read (the
    config dir is private, password files should be); when not root Mosquitto
    ignores the setting.
    """
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):  # Windows, or a uid without a passwd entry
        return None


class MosquittoBroker:
    """A Mosquitto child process with weft's config, on a loopback port.

    Use it as ``async with MosquittoBroker() as broker: ... broker.url``.
    ``port=None`` picks a free port; ``restart()`` keeps the port, so clients
    can reconnect to the same URL. ``tls`` serves ``mqtts://`` instead of
    ``mqtt://``; ``extra_config`` is appended to the config as is. Not safe to
    share between event loops.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        allow_anonymous: bool = True,
        password_file: str | os.PathLike[str] | None = None,
        acl_file: str | os.PathLike[str] | None = None,
        tls: TlsListener | None = None,
        extra_config: str = "",
        binary: str | None = None,
        startup_timeout: float = 5.0,
    ) -> None:
        self.host = host
        self.port = port
        self._fixed_port = port is not None
        self.allow_anonymous = allow_anonymous
        self.password_file = password_file
        self.acl_file = acl_file
        self.tls = tls
        self.extra_config = extra_config
        self.binary = binary
        self.startup_timeout = startup_timeout
        self._process: asyncio.subprocess.Process | None = None
        self._dir: Path | None = None

    @property
    def url(self) -> str:
        """``mqtt://host:port`` (``mqtts://`` with TLS) of the listener, once started."""
        if self.port is None:
            raise BusError("the broker has no port yet: start it first")
        scheme = "mqtts" if self.tls is not None else "mqtt"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def config_path(self) -> Path | None:
        """Where the config file was written (None before the first start)."""
        return None if self._dir is None else self._dir / "mosquitto.conf"

    @property
    def log_path(self) -> Path | None:
        """Where the broker writes its errors and warnings (None before the first start)."""
        return None if self._dir is None else self._dir / "mosquitto.log"

    async def wait(self) -> int | None:
        """Wait until the broker process exits; its exit code (None if never started).

        For running a broker in the foreground (``weft broker``); a broker
        stopped with ``stop()`` or a signal ends the wait too.
        """
        process = self._process
        if process is None:
            return None
        return await process.wait()

    async def start(self) -> None:
        """Start the broker and return once it accepts connections.

        Raises ``BusError`` when mosquitto is missing (with install
        instructions) or exits at startup (with its error output).
        """
        if self.running:
            return
        binary = find_mosquitto(self.binary)
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="weft-mosquitto-"))
        attempts = 1 if self._fixed_port else 3
        for attempt in range(attempts):
            if self.port is None or (not self._fixed_port and attempt > 0):
                self.port = free_port(self.host)
            try:
                await self._launch(binary)
                return
            except BusError:
                if attempt == attempts - 1:
                    await self.stop()  # nothing runs: do not leave the temp dir behind
                    raise

    async def _launch(self, binary: str) -> None:
        assert self._dir is not None and self.port is not None
        # Checked first because "something accepts on the port" is how we
        # detect a started broker: another server there would fool it.
        if not port_is_free(self.host, self.port):
            raise BusError(f"cannot start mosquitto: {self.host}:{self.port} is already in use")
        config = self._dir / "mosquitto.conf"
        config.write_text(
            render_config(
                self.port,
                host=self.host,
                allow_anonymous=self.allow_anonymous,
                password_file=self.password_file,
                acl_file=self.acl_file,
                user=_current_user(),
                tls=self.tls,
                extra_config=self.extra_config,
            )
        )
        log_path = self._dir / "mosquitto.log"
        # stderr goes to a file we opened, not a pipe: nobody reads a pipe while
        # the broker runs, and a full pipe would freeze the broker.
        with log_path.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                binary,
                "-c",
                str(config),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        process = self._process
        exited = asyncio.ensure_future(process.wait())
        accepting = asyncio.ensure_future(
            wait_until_accepting(self.host, self.port, timeout=self.startup_timeout)
        )
        try:
            await asyncio.wait({exited, accepting}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (exited, accepting):
                task.cancel()
        started = accepting.done() and not accepting.cancelled() and not accepting.exception()
        if process.returncode is None and started:
            return
        if process.returncode is None:
            await self._terminate(process)
        output = log_path.read_text(errors="replace").strip()
        self._process = None
        raise BusError(
            f"mosquitto did not start on {self.host}:{self.port} "
            f"(exit code {process.returncode}): {output or 'no output'}"
        )

    async def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after 5 s) and delete its files."""
        if self._process is not None:
            await self._terminate(self._process)
            self._process = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    async def restart(self) -> None:
        """Stop and start again on the same port; connected clients see a broker restart."""
        if self._process is not None:
            await self._terminate(self._process)
            self._process = None
        self._fixed_port = self.port is not None
        await self.start()

    @staticmethod
    async def _terminate(process: asyncio.subprocess.Process) -> None:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=5.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()

    async def __aenter__(self) -> MosquittoBroker:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
