"""The AMI connection: connect, login (MD5 challenge or plain), subscribe to call events,
resync after every (re)connect, checked keep-alive, reconnect with backoff; and Redirect.

Runs forever in `run()`; cancelling it logs off and closes the socket. PBX-side failures
never raise out of `redirect`: they come back as CommandResult(ok=False, …).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import secrets
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from callcenter.config import PbxSettings
from callcenter.privacy import mask_number
from callcenter.signals import CallsResynced, CommandResult, SourceEvent
from callcenter.telephony.ami import protocol
from callcenter.telephony.ami.protocol import ActionIds, Message, Parser, ProtocolError
from callcenter.telephony.ami.translate import EVENTS, AmiTranslator
from callcenter.telephony.source import SourceStatus

log = logging.getLogger(__name__)

_READ_SIZE = 1 << 16
# The `Filter` action (Asterisk 10+, needs "system" write permission) lets only these events
# through; the class mask given at login (call, agent) already leaves out dialplan, CDR, CEL
# and the rest when Filter is refused.
EVENT_FILTER = "Event: (" + "|".join(EVENTS) + ")"
EVENT_MASK = "call,agent"
_DIGITS = re.compile(r"\d{5,}")

Reply = tuple[Message, list[Message]]


class AuthFailed(Exception):
    """The PBX rejected the login (wrong username or secret, or not allowed from here)."""


class ConnectionLost(Exception):
    """The connection ended or failed under a pending action."""


def _redact(text: str) -> str:
    """Log text with phone numbers masked."""
    return _DIGITS.sub(lambda m: mask_number(m.group()) or "", text)


def _ok(reply: Message) -> bool:
    return (reply.response or "").lower() == "success"


@dataclass(slots=True)
class _Pending:
    """An action waiting for its response and, for a list action, its events."""

    future: asyncio.Future[Reply]
    complete: str | None  # the event that ends the list, lower case
    response: Message | None = None
    events: list[Message] = field(default_factory=list)

    def feed(self, m: Message) -> None:
        if self.future.done():
            return
        if m.response is not None and self.response is None:
            self.response = m
            if self.complete is None or not _ok(m):
                self.future.set_result((m, self.events))
            return
        name = (m.event or "").lower()
        if self.complete is not None and (
            name == self.complete or (m.get("EventList") or "").lower() == "complete"
        ):
            self.future.set_result((self.response or m, self.events))
        elif name:
            self.events.append(m)


class AmiClient:
    """One Asterisk PBX over AMI, as an event source (SourceStatus kind "ami")."""

    def __init__(
        self,
        settings: PbxSettings,
        on_event: Callable[[SourceEvent], None],
        *,
        ping_interval: float = 20.0,
        timeout: float = 10.0,
        login: Literal["md5", "plain"] = "md5",
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        auth_retry: float = 60.0,
        stable_after: float = 10.0,
    ) -> None:
        self.settings = settings
        self.on_event = on_event
        self.ping_interval = ping_interval
        self.timeout = timeout
        self.login = login
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.auth_retry = auth_retry
        self.stable_after = stable_after
        self.status = SourceStatus(settings.id, "ami", f"{settings.host}:{settings.port}")
        self.translator = AmiTranslator(settings.id)
        self.banner: str | None = None
        self._ids = ActionIds(secrets.token_hex(4))
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[str, _Pending] = {}
        self._logged_in = False
        self._filter_warned = False

    # -- the loop ---------------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = self.backoff_initial
        auth_logged = False
        last_logged: str | None = None
        while True:
            self.status.state = "connecting"
            started = loop.time()
            try:
                await self._session()
                message = "the PBX closed the connection"
            except AuthFailed as exc:
                message = f"authentication failed: {exc}"
                self.status.disconnected("auth_failed")
                self.status.error(message)
                if not auth_logged:  # one line, not one per retry
                    log.error(
                        "ami login rejected source=%s address=%s user=%s reason=%s retry_in=%gs",
                        self.settings.id,
                        self.status.address,
                        self.settings.username,
                        exc,
                        self.auth_retry,
                    )
                    auth_logged = True
                await asyncio.sleep(self.auth_retry)
                continue
            except (OSError, EOFError, ConnectionLost, ProtocolError, TimeoutError) as exc:
                message = _describe(exc)
            except Exception as exc:  # a bug, or a config value AMI cannot carry: keep trying
                log.exception("ami session failed source=%s", self.settings.id)
                message = f"internal error: {type(exc).__name__}"
            finally:
                self._logged_in = False
            if self.status.connected_since is not None:
                auth_logged = False
                last_logged = None
                self.status.reconnects += 1
                if loop.time() - started >= self.stable_after:
                    backoff = self.backoff_initial
            self.status.disconnected("backoff")
            self.status.error(_redact(message))  # a malformed event may quote a number
            if message != last_logged:
                log.warning(
                    "ami connection down source=%s address=%s error=%s retry_in=%gs",
                    self.settings.id,
                    self.status.address,
                    _redact(message),
                    backoff,
                )
                last_logged = message
            else:
                log.debug("ami retry source=%s error=%s", self.settings.id, _redact(message))
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.backoff_max)

    async def _session(self) -> None:
        s = self.settings
        async with asyncio.timeout(self.timeout):
            reader, writer = await asyncio.open_connection(s.host, s.port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tasks: list[asyncio.Task[None]] = []
        try:
            parser = Parser(expect_banner=True)
            early: list[Message] = []
            while parser.banner is None:
                async with asyncio.timeout(self.timeout):
                    data = await reader.read(_READ_SIZE)
                if not data:
                    raise ConnectionLost("closed before the AMI banner")
                early += parser.feed(data)
            self.banner = parser.banner
            self._writer = writer
            reading = asyncio.create_task(self._read_loop(reader, parser, early), name="ami-read")
            tasks.append(reading)
            await self._login()
            self._logged_in = True
            await self._subscribe()
            self.status.connected()
            log.info(
                "ami connected source=%s address=%s banner=%r",
                s.id,
                self.status.address,
                self.banner,
            )
            await self._resync()
            tasks.append(asyncio.create_task(self._ping_loop(), name="ami-ping"))
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # raises what ended the session
            raise ConnectionLost("the PBX closed the connection")
        finally:
            self._writer = None
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            self._fail_pending(ConnectionLost("connection closed"))
            await self._close(writer)

    async def _close(self, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            if self._logged_in and not writer.is_closing():
                writer.write(protocol.action("Logoff", self._ids.next()))
            writer.close()
            async with asyncio.timeout(1.0):
                await writer.wait_closed()

    # -- reading ----------------------------------------------------------------------------
    async def _read_loop(
        self, reader: asyncio.StreamReader, parser: Parser, early: list[Message]
    ) -> None:
        try:
            if early:
                self._dispatch(early)
            while True:
                data = await reader.read(_READ_SIZE)
                if not data:
                    raise ConnectionLost("the PBX closed the connection")
                messages = parser.feed(data)
                if messages:
                    self._dispatch(messages)
        except BaseException as exc:
            self._fail_pending(exc if isinstance(exc, Exception) else ConnectionLost("stopped"))
            raise

    def _dispatch(self, messages: list[Message]) -> None:
        now: datetime | None = None
        handed = 0
        pending = self._pending
        translate = self.translator.translate
        for m in messages:
            if pending:
                action_id = m.action_id
                if action_id is not None:
                    waiting = pending.get(action_id)
                    if waiting is not None:
                        waiting.feed(m)
                        continue
            if now is None:
                now = datetime.now(UTC)
            for event in translate(m, now):  # nothing for a response nobody waits for
                self._emit(event)
                handed += 1
        if handed:
            self.status.count_events(handed)

    def _emit(self, event: SourceEvent) -> None:
        try:
            self.on_event(event)
        except Exception:
            log.exception("handling an AMI event failed source=%s", self.settings.id)

    def _fail_pending(self, exc: BaseException) -> None:
        for waiting in self._pending.values():
            if not waiting.future.done():
                waiting.future.set_exception(
                    exc if isinstance(exc, ConnectionLost) else ConnectionLost(_describe(exc))
                )
                waiting.future.exception()  # retrieved: nobody may be awaiting it any more

    # -- actions ----------------------------------------------------------------------------
    async def _send(
        self,
        name: str,
        fields: Iterable[tuple[str, str]] = (),
        *,
        complete: str | None = None,
        wait: float | None = None,
    ) -> Reply:
        """Send an action; wait for its response (and its event list up to `complete`)."""
        writer = self._writer
        if writer is None or writer.is_closing():
            raise ConnectionLost("not connected to the PBX")
        action_id = self._ids.next()
        data = protocol.action(name, action_id, fields)  # ValueError on a smuggled line break
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = _Pending(future, complete.lower() if complete else None)
        try:
            writer.write(data)
            async with asyncio.timeout(wait or self.timeout):
                return await future
        finally:
            self._pending.pop(action_id, None)

    async def _login(self) -> None:
        s = self.settings
        fields = [("Username", s.username), ("Secret", s.secret), ("Events", EVENT_MASK)]
        if self.login == "md5":
            reply, _ = await self._send("Challenge", [("AuthType", "MD5")])
            challenge = reply.get("Challenge")
            if _ok(reply) and challenge:
                key = hashlib.md5((challenge + s.secret).encode("utf-8")).hexdigest()
                fields = [
                    ("Username", s.username),
                    ("AuthType", "MD5"),
                    ("Key", key),
                    ("Events", EVENT_MASK),
                ]
            else:
                log.info("ami md5 challenge refused, plain login source=%s", s.id)
        reply, _ = await self._send("Login", fields)
        if not _ok(reply):
            raise AuthFailed(reply.get("Message") or reply.response or "login rejected")

    async def _subscribe(self) -> None:
        reply, _ = await self._send("Filter", [("Operation", "Add"), ("Filter", EVENT_FILTER)])
        if not _ok(reply) and not self._filter_warned:
            self._filter_warned = True
            log.info(
                "ami Filter refused (no system write permission?): all call "
                "and agent events will be read source=%s message=%s",
                self.settings.id,
                reply.get("Message"),
            )

    async def _resync(self) -> None:
        """The calls the PBX has now: what happened while we were away is settled."""
        wait = max(self.timeout, 30.0)
        self.translator.resync_window.begin()
        try:
            channels, queues = await asyncio.gather(
                self._send("CoreShowChannels", complete="CoreShowChannelsComplete", wait=wait),
                self._send("QueueStatus", complete="QueueStatusComplete", wait=wait),
            )
        except BaseException:
            self.translator.resync_window.cancel()
            raise
        if not _ok(channels[0]):
            self.translator.resync_window.cancel()
            message = channels[0].get("Message") or "CoreShowChannels refused"
            self.status.error(f"resync failed: {message}")
            log.warning("ami resync failed source=%s message=%s", self.settings.id, message)
            return
        entries = [m for m in queues[1] if (m.event or "").lower() == "queueentry"]
        events = self.translator.resync(channels[1], entries, datetime.now(UTC))
        for event in events:
            self._emit(event)
        self.status.count_events(len(events))
        live = sum(len(e.live_call_ids) for e in events if isinstance(e, CallsResynced))
        log.info(
            "ami resync source=%s live_calls=%d channels=%d",
            self.settings.id,
            live,
            len(channels[1]),
        )

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self._send("Ping")
            except TimeoutError:
                raise ConnectionLost(f"no reply to Ping within {self.timeout:g} s") from None

    # -- the command port -------------------------------------------------------------------
    async def redirect(self, call_id: str, leg_id: str, target: str) -> CommandResult:
        """Send the caller's channel of `call_id` to `target` ("exten@context", or "exten"
        in the configured context), priority 1; return what the PBX answered."""
        if self._writer is None or not self._logged_in:
            return CommandResult(False, "not connected to the PBX")
        channel = self.translator.caller_channel(call_id)
        if channel is None:
            return CommandResult(False, f"no live caller channel for call {call_id}")
        exten, _, context = target.partition("@")
        if not exten:
            return CommandResult(False, f"bad redirect target {target!r}")
        fields = [
            ("Channel", channel),
            ("Exten", exten),
            ("Context", context or self.settings.context),
            ("Priority", "1"),
        ]
        try:
            reply, _ = await self._send("Redirect", fields)
        except TimeoutError:
            result = CommandResult(False, f"no answer from the PBX within {self.timeout:g} s")
        except ValueError as exc:
            result = CommandResult(False, str(exc))
        except (ConnectionLost, OSError) as exc:
            result = CommandResult(False, f"connection lost: {_describe(exc)}")
        else:
            text = ": ".join(x for x in (reply.response, reply.get("Message")) if x)
            result = CommandResult(_ok(reply), text or "no message")
        log.info(
            "ami redirect source=%s call=%s leg=%s target=%s ok=%s response=%s",
            self.settings.id,
            call_id,
            leg_id,
            target,
            result.ok,
            _redact(result.response),
        )
        return result


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError) and not str(exc):
        return "timed out"
    if isinstance(exc, ProtocolError):
        return f"protocol error: {exc}"
    text = str(exc) or type(exc).__name__
    return text
