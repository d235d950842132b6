"""One connection of the MQTT bus: a paho-mqtt client driven by the asyncio event loop.

Why paho-mqtt itself, and not aiomqtt: weft needs four things from its MQTT
client that aiomqtt 2.x keeps behind its private ``_client`` (and aiomqtt 3
drops paho altogether): the PUBACK reason code (a publish an ACL refused
must fail, not look delivered), the socket (TCP_NODELAY, read back by a
test), incoming messages routed in the read callback in arrival order
(aiomqtt's iterator costs a task and an ``asyncio.wait`` per message,
measured in ``bench/bus.py``), and a connect that fails as soon as the
broker drops the socket before its CONNACK (how TLS 1.3 refuses a client
certificate). paho 2.x documents an external event loop mode, used here as
documented (paho's ``examples/loop_asyncio.py``), through public API only:

- ``on_socket_open`` sets TCP_NODELAY on the new socket, before the CONNECT
  packet is written, and registers it with the loop's ``add_reader``
  (``loop_read``); ``on_socket_register_write``/``unregister_write`` add
  and remove the writer (``loop_write``); a task calls ``loop_misc`` every
  second for keepalive pings;
- ``connect()`` blocks (DNS, TCP, TLS handshake), so it runs in a worker
  thread; the callbacks paho makes from there reach the loop through
  ``call_soon_threadsafe``;
- every acknowledgement (CONNACK, PUBACK, SUBACK, UNSUBACK) resolves a
  future, and a lost connection fails them all with ``ConnectionLostError``,
  so the bus retries on its next connection. No state outlives a
  connection: a reconnect builds a new client.

The dependency is declared as ``paho-mqtt>=2.1,<3``: the callback API
version 2 and ``connect_timeout`` exist since 2.0, and a 3.x may change them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import socket
import ssl
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from weft.protocols import BusError, Message
from weft.protocols.mqtt_refusal import (
    CLOSED_BEFORE_CONNACK,
    RESET_IN_TLS_HANDSHAKE,
    closed_before_connack,
    connack_refusal,
    reset_in_tls_handshake,
    tls_refusal,
)
from weft.protocols.mqtt_url import MqttTlsError, tls_context
from weft.runtime.bus.mqtt._wire import BrokerAddress, to_paho

if TYPE_CHECKING:
    from paho.mqtt.client import SocketLike

log = logging.getLogger(__name__)

_CONNECTION_LOST_CODES = {paho.MQTT_ERR_NO_CONN, paho.MQTT_ERR_CONN_LOST}
_KEEPALIVE_TICK = 1.0  # seconds between loop_misc calls, as paho's own loop does
_PAHO_LOG = logging.getLogger(f"{__name__}.paho")
_SSL_ERROR = re.compile(r"\[SSL: \w+\] (.+?)(?: \(_ssl\.c:\d+\))?")
_PAHO_LEVELS = {int(level): std for level, std in paho.LOGGING_LEVEL.items()}
#: How a TLS connect fails when the listener does not speak TLS: a plain MQTT broker
#: reads the ClientHello as a malformed packet and drops the socket (a reset, or an EOF).
_READ_ERRORS = {"failed to receive on socket", "timeout on socket"}


class ConnectionLostError(BusError):
    """The connection an operation ran on went away; retry it on the next one.

    Private to the MQTT bus: ``MqttBus`` catches it and retries, it never
    reaches a caller. It is a ``BusError`` all the same, so that a bug that
    let it escape would still surface as a weft error.
    """


class BrokerRefusedError(BusError):
    """The broker refused this client (its login, its TLS certificate): ``why`` says how,
    in ``weft.protocols.mqtt_refusal``'s words. Private to the MQTT bus, which logs it
    once per change while it retries a lost connection; a ``BusError`` to callers."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.why = why


class Connection:
    """One MQTT connection and the acknowledgements waiting on it.

    ``lost`` completes when the connection is gone (dropped, refused or
    closed). paho numbers PUBLISH, SUBSCRIBE and UNSUBSCRIBE packets from
    one counter, so one table maps a packet id to the future its
    acknowledgement resolves; an acknowledgement nobody waits for any more
    is dropped.
    """

    def __init__(
        self,
        client: paho.Client,
        url: str,
        name: str,
        generation: int,
        on_message: Callable[[paho.MQTTMessage], None],
    ) -> None:
        self.client = client
        self.url = url
        self.name = name
        self.generation = generation
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self.lost: asyncio.Future[None] = self._loop.create_future()
        self.connack: asyncio.Future[ReasonCode | None] = self._loop.create_future()
        """The CONNACK's reason code, or None when the broker closed the socket first."""
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._fd: int | None = None
        self._released = False
        self._keepalive: asyncio.Task[None] | None = None
        self.socket_error: str | None = None
        """What paho's read said when the socket failed before the CONNACK (a TLS alert)."""
        client.on_log = self._on_log
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_suback
        client.on_unsubscribe = self._on_suback
        client.on_message = lambda _client, _userdata, raw: on_message(raw)
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write

    # -- operations -------------------------------------------------------------

    def publish(self, message: Message, properties: Properties) -> asyncio.Future[ReasonCode]:
        """Queue ``message`` for the writer; the future resolves with the broker's reason code.

        QoS 0 resolves once written. Raises ``ConnectionLostError`` when the
        connection is gone, ``BusError`` when paho refuses the message.
        """
        try:
            info = self.client.publish(
                message.topic, message.payload, message.qos, message.retain, properties
            )
        except ValueError as exc:  # paho's own checks (topic, payload type)
            raise BusError(f"publish to {message.topic!r} on {self.url} failed: {exc}") from exc
        self._check(info.rc, f"publish to {message.topic!r}")
        return self._expect(info.mid)

    async def subscribe(
        self, pattern: str, qos: int, subscription_id: int, timeout: float
    ) -> list[ReasonCode]:
        """SUBSCRIBE with a subscription identifier; the SUBACK's reason codes.

        Raises ``ConnectionLostError`` on a loss and ``TimeoutError`` without a SUBACK.
        """
        props = Properties(PacketTypes.SUBSCRIBE)  # type: ignore[no-untyped-call]
        props.SubscriptionIdentifier = subscription_id
        rc, mid = self.client.subscribe(pattern, qos=qos, properties=props)
        self._check(rc, f"subscribe to {pattern!r}")
        codes: list[ReasonCode] = await self._within(mid, timeout)
        return codes

    async def unsubscribe(self, pattern: str, timeout: float) -> None:
        """UNSUBSCRIBE and wait for the UNSUBACK (errors as for ``subscribe``)."""
        rc, mid = self.client.unsubscribe(pattern)
        self._check(rc, f"unsubscribe from {pattern!r}")
        await self._within(mid, timeout)

    async def close(self, timeout: float) -> None:
        """Send DISCONNECT (so no Will fires), wait up to ``timeout`` for it, release the socket."""
        if not self.lost.done() and self.client.disconnect() == paho.MQTT_ERR_SUCCESS:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await asyncio.shield(self.lost)
        self.release()

    def release(self) -> None:
        """Stop watching the socket, close it, and fail whatever still waits. Idempotent.

        Without a DISCONNECT (``close`` sends one): the broker treats this
        like a crash and publishes the Will. After this no callback of this
        client touches the event loop again, so the socket's file descriptor
        may be reused safely.
        """
        if self._released:
            return
        self._released = True
        self._unwatch()
        sock = self.client.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
        if not self.connack.done():
            self.connack.set_result(None)
        self.mark_lost()

    def release_after(self, connecting: asyncio.Future[None]) -> None:
        """Release once an abandoned connect attempt has finished, whatever its outcome."""
        if not connecting.cancelled():
            connecting.exception()  # retrieved: an abandoned attempt's failure is no news
        self.release()

    def mark_lost(self) -> None:
        """The connection is gone: complete ``lost`` and fail every waiting acknowledgement."""
        if not self.lost.done():
            self.lost.set_result(None)
        waiting, self._acks = self._acks, {}
        for waiter in waiting.values():
            if not waiter.done():
                waiter.set_exception(ConnectionLostError())

    @property
    def tcp_nodelay(self) -> bool | None:
        """TCP_NODELAY as the kernel reports it for the live socket (None when there is none)."""
        sock = self.client.socket()
        if self.lost.done() or not isinstance(sock, socket.socket):
            return None
        return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    # -- acknowledgements -------------------------------------------------------

    def _check(self, rc: MQTTErrorCode, what: str) -> None:
        if rc == paho.MQTT_ERR_SUCCESS:
            return
        if rc in _CONNECTION_LOST_CODES:
            raise ConnectionLostError()
        raise BusError(f"{what} on {self.url} failed: {paho.error_string(rc)}")

    def _expect(self, mid: int | None) -> asyncio.Future[Any]:
        if self.lost.done() or mid is None:
            raise ConnectionLostError()
        waiter: asyncio.Future[Any] = self._loop.create_future()
        self._acks[mid] = waiter
        return waiter

    async def _within(self, mid: int | None, timeout: float) -> Any:
        waiter = self._expect(mid)
        try:
            async with asyncio.timeout(timeout):
                return await waiter
        finally:
            if mid is not None and self._acks.get(mid) is waiter:
                del self._acks[mid]

    def _resolve(self, mid: int, value: Any) -> None:
        waiter = self._acks.pop(mid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(value)

    # -- paho callbacks (event loop thread, except where noted) ------------------

    def _on_log(self, _c: paho.Client, _u: Any, level: int, buf: str) -> None:
        """Forward paho's log to ``_PAHO_LOG``, except a read error before the CONNACK.

        That error (a TLS alert: no client certificate, one from another CA)
        is why the connect fails, so it goes into the connect's one error
        instead of a second, separate log line.
        """
        if level == paho.MQTT_LOG_ERR and not self.connack.done():
            prefix, _, why = buf.partition(": ")
            if prefix in _READ_ERRORS:
                ssl_said = _SSL_ERROR.fullmatch(why)  # "[SSL: X] words (_ssl.c:N)"
                self.socket_error = f"TLS: {ssl_said[1]}" if ssl_said else why
                return
        _PAHO_LOG.log(_PAHO_LEVELS.get(int(level), logging.DEBUG), "%s", buf)

    def _on_connect(
        self, _c: paho.Client, _u: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if not self.connack.done():
            self.connack.set_result(reason)

    def _on_disconnect(
        self, _c: paho.Client, _u: Any, _flags: Any, _reason: ReasonCode, _props: Any
    ) -> None:
        self._in_loop(self._disconnected)

    def _disconnected(self) -> None:
        if not self.connack.done():
            self.connack.set_result(None)  # closed before the CONNACK: fail the connect now
        self.mark_lost()

    def _on_publish(
        self, _c: paho.Client, _u: Any, mid: int, reason: ReasonCode, _props: Any
    ) -> None:
        self._resolve(mid, reason)

    def _on_suback(
        self, _c: paho.Client, _u: Any, mid: int, reasons: list[ReasonCode], _props: Any
    ) -> None:
        self._resolve(mid, reasons)

    def _on_socket_open(self, _c: paho.Client, _u: Any, sock: SocketLike) -> None:
        """Called in the connect thread, before the CONNECT packet is written."""
        if isinstance(sock, socket.socket):  # also an ssl.SSLSocket
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._in_loop(functools.partial(self._watch, sock.fileno()))

    def _watch(self, fd: int) -> None:
        if self._released:
            return
        self._fd = fd
        self._loop.add_reader(fd, self._read)
        self._keepalive = self._loop.create_task(
            self._tick(), name=f"weft-mqtt-keepalive-{self.name}"
        )

    def _on_socket_close(self, _c: paho.Client, _u: Any, _sock: SocketLike) -> None:
        self._in_loop(self._unwatch)

    def _unwatch(self) -> None:
        if self._fd is not None:
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
            self._fd = None
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None

    def _on_register_write(self, _c: paho.Client, _u: Any, sock: SocketLike) -> None:
        """May be called in the connect thread (the CONNECT packet is the first write)."""
        self._in_loop(functools.partial(self._want_write, sock.fileno()))

    def _want_write(self, fd: int) -> None:
        if not self._released and fd == self._fd:
            self._loop.add_writer(fd, self._write)

    def _on_unregister_write(self, _c: paho.Client, _u: Any, _sock: SocketLike) -> None:
        self._in_loop(self._no_write)

    def _no_write(self) -> None:
        if self._fd is not None:
            self._loop.remove_writer(self._fd)

    def _in_loop(self, callback: Callable[[], None]) -> None:
        if threading.get_ident() == self._loop_thread:
            callback()
        else:
            self._loop.call_soon_threadsafe(callback)

    # -- driving paho -------------------------------------------------------------

    def _read(self) -> None:
        try:
            while True:
                self.client.loop_read()
                sock = self.client.socket()
                # An SSL socket may hold decrypted bytes that select() cannot see.
                if not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
                    return
        except Exception:  # paho reports losses itself; anything else ends the connection
            log.warning("MQTT read failed; dropping the connection", exc_info=True)
            self.release()

    def _write(self) -> None:
        try:
            self.client.loop_write()
        except Exception:
            log.warning("MQTT write failed; dropping the connection", exc_info=True)
            self.release()

    async def _tick(self) -> None:
        while self.client.loop_misc() == paho.MQTT_ERR_SUCCESS:
            await asyncio.sleep(_KEEPALIVE_TICK)


async def open_connection(
    address: BrokerAddress,
    client_id: str,
    *,
    generation: int,
    keepalive: int,
    connect_timeout: float,
    will: Message | None,
    on_message: Callable[[paho.MQTTMessage], None],
) -> Connection:
    """Connect to ``address``: MQTT v5, clean start, TCP_NODELAY, TLS if asked.

    ``on_message(raw)`` gets every incoming message, called in paho's read
    callback on the event loop (it must not block or raise). Raises
    ``BusError`` naming the broker URL when the connect fails or is refused:
    a refused login (CONNACK reason code) or an untrusted broker certificate
    in the words of ``weft.protocols.mqtt_refusal``, which name the cause and
    the fix; cancelled meanwhile, it leaves nothing open.
    """
    client = _new_client(address, client_id, connect_timeout, will)
    url = address.redacted()
    conn = Connection(client, url, client_id, generation, on_message)

    def connect() -> None:  # in a worker thread: loads certificates, resolves, handshakes
        if address.tls:  # the same context as the A2A client's (weft.protocols.mqtt_url)
            client.tls_set_context(tls_context(address.tls_options))
        client.connect(address.host, address.port, keepalive, clean_start=True)

    connecting = asyncio.get_running_loop().run_in_executor(None, connect)
    try:
        # The thread cannot be cancelled; if we are, release the client once it is done.
        await asyncio.shield(connecting)
        async with asyncio.timeout(connect_timeout):
            reason = await conn.connack
    except asyncio.CancelledError:
        connecting.add_done_callback(conn.release_after)
        raise
    except MqttTlsError as exc:  # a TLS option names a file that cannot be used
        conn.release()
        raise BusError(str(exc)) from None
    except TimeoutError as exc:  # before OSError, its base class: no CONNACK, or no TCP connect
        conn.release()
        _raise_unreachable(url, "timed out", address.tls, connect_timeout, exc)
    except (OSError, ValueError) as exc:  # OSError covers DNS, refusals and TLS errors
        conn.release()
        tls = tls_refusal(exc)  # the broker's certificate not trusted: the URL's to fix
        if tls is not None:
            raise BrokerRefusedError(
                f"cannot connect to MQTT broker at {url}: {tls}", tls
            ) from None
        reason_text = str(exc) or type(exc).__name__
        if address.tls and reset_in_tls_handshake(exc):  # mqtts:// to a plain port
            raise BusError(
                f"cannot reach MQTT broker at {url}: {reason_text} ({RESET_IN_TLS_HANDSHAKE})"
            ) from exc
        _raise_unreachable(url, reason_text, address.tls, connect_timeout, exc)
    if reason is None:
        conn.release()
        _raise_unreachable(
            url, CLOSED_BEFORE_CONNACK, address.tls, connect_timeout, None, conn.socket_error
        )
    if reason.is_failure:
        conn.release()
        refusal = connack_refusal(reason.value, address.username)
        message = f"MQTT broker at {url} refused the connection: {refusal or reason}"
        if refusal is not None:
            raise BrokerRefusedError(message, refusal)
        raise BusError(message)
    return conn


def _new_client(
    address: BrokerAddress, client_id: str, connect_timeout: float, will: Message | None
) -> paho.Client:
    """A paho client for one connection: MQTT v5, credentials and Will set, not connected."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5,
        reconnect_on_failure=False,
    )
    client.suppress_exceptions = True  # an exception in a callback must not tear down the loop
    client.connect_timeout = connect_timeout
    if address.username is not None:
        client.username_pw_set(address.username, address.password)
    if will is not None:
        client.will_set(
            will.topic,
            will.payload,
            will.qos,
            will.retain,
            to_paho(will.properties, PacketTypes.WILLMESSAGE),
        )
    return client


def _raise_unreachable(
    url: str,
    reason: str,
    tls: bool,
    timeout: float,
    cause: BaseException | None,
    socket_error: str | None = None,
) -> NoReturn:
    hint = _connect_hint(reason, tls=tls, timeout=timeout, socket_error=socket_error)
    raise BusError(f"cannot reach MQTT broker at {url}: {reason}{hint}") from cause


def _connect_hint(
    reason: str, *, tls: bool, timeout: float, socket_error: str | None = None
) -> str:
    """What to check when a connect failed for ``reason`` (empty if nothing useful).

    ``socket_error`` is what the read that found the socket closed said (a TLS
    alert such as ``tlsv13 alert certificate required``): said here, in the
    one error line, rather than in a log line of its own.
    """
    if "refused" in reason.lower():
        return " (is it running? `weft broker` starts a local Mosquitto)"
    if reason == CLOSED_BEFORE_CONNACK:  # the shared words, with the read's own error
        said = f"{socket_error}; " if socket_error else ""
        return f" ({said}{closed_before_connack(tls)})"
    if "timed out" in reason.lower():
        return (
            f" (no CONNACK within {timeout:g}s: is it an MQTT broker, "
            "and does it accept this client's credentials and TLS certificate?)"
        )
    return ""
