"""The FreeSWITCH event socket client (inbound mode): connect, authenticate, subscribe,
resync, keep alive, reconnect; and the command port (api, bgapi, redirect).

One reader task owns the socket's input: command replies are matched to their commands in
order (mod_event_socket answers `auth`, `event` and `api` one by one, in the order sent),
background jobs by Job-UUID. Events go through the translator to `on_event`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections import deque
from datetime import UTC, datetime

from callcenter.config import PbxSettings
from callcenter.privacy import mask_number
from callcenter.signals import CommandResult, OnRecording, RecordingReady
from callcenter.telephony.esl.protocol import (
    API_RESPONSE,
    AUTH_REQUEST,
    COMMAND_REPLY,
    DISCONNECT_NOTICE,
    EVENT_JSON,
    EVENT_PLAIN,
    MAX_FRAME,
    EslEventError,
    EslParser,
    EslProtocolError,
    Frame,
    Headers,
    encode_command,
    event_headers,
)
from callcenter.telephony.esl.translate import EslOutput, EslTranslator, parse_channels
from callcenter.telephony.source import OnEvent, SourceStatus

log = logging.getLogger(__name__)

# What the call tracker needs; BACKGROUND_JOB carries bgapi results.
EVENTS = (
    "CHANNEL_CREATE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_ANSWER CHANNEL_BRIDGE "
    "CHANNEL_HANGUP_COMPLETE RECORD_STOP BACKGROUND_JOB CUSTOM callcenter::info"
)
_READ_SIZE = 1 << 16
_TICK = 1.0  # seconds between translator housekeeping ticks
_STABLE = 10.0  # a session up this long resets the reconnect backoff
_LOGGED_BAD_FRAMES = 10  # per connection; then every 1000th


class EslSessionEnded(Exception):
    """The connection ended (closed, disconnect notice, keep-alive unanswered)."""


class EslAuthRejected(Exception):
    """The PBX answered `auth` with -ERR."""


class EslClient:
    """One FreeSWITCH, watched over its event socket. `run()` runs until cancelled."""

    def __init__(
        self,
        settings: PbxSettings,
        on_event: OnEvent,
        *,
        on_recording: OnRecording | None = None,
        keepalive_interval: float = 20.0,
        timeout: float = 10.0,
        auth_retry_interval: float = 60.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        max_frame: int = MAX_FRAME,
        event_format: str = "json",
    ) -> None:
        self.settings = settings
        self.on_event = on_event
        self.on_recording = on_recording
        self.keepalive_interval = keepalive_interval
        self.timeout = timeout
        self.auth_retry_interval = auth_retry_interval
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_frame = max_frame
        self.event_format = event_format
        self.status = SourceStatus(id=settings.id, kind="esl", address=settings.address)
        self.translator = EslTranslator(settings.id)
        self.recordings_ignored = 0
        self.bad_frames = 0
        self.delivery_errors = 0
        self.sessions = 0
        self.resyncs = 0
        self._writer: asyncio.StreamWriter | None = None
        self._ready = False
        self._replies: deque[asyncio.Future[Frame]] = deque()
        self._jobs: dict[str, asyncio.Future[Headers]] = {}
        self._greeting: asyncio.Future[None] | None = None
        self._bad_this_session = 0

    # -- the run loop ---------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self.backoff_initial
        auth_logged = False
        attempts = 0
        s = self.settings
        try:
            while True:
                if attempts:
                    self.status.reconnects += 1
                attempts += 1
                self.status.state = "connecting"
                started = loop.time()
                try:
                    await self._session()
                except EslAuthRejected as exc:
                    self.status.error(f"authentication rejected by the PBX ({exc})")
                    self.status.disconnected("auth_failed")
                    if not auth_logged:
                        # One line, then quiet retries: a wrong password needs a person.
                        log.error(
                            "esl authentication rejected source=%s address=%s reply=%r: "
                            "check [[pbx]] password; retrying every %.0f s",
                            s.id, s.address, str(exc), self.auth_retry_interval,
                        )  # fmt: skip
                        auth_logged = True
                    await asyncio.sleep(self.auth_retry_interval)
                    continue
                except (OSError, TimeoutError, EslSessionEnded, EslProtocolError) as exc:
                    reason = _reason(exc)
                    self.status.error(reason)
                    level = logging.WARNING if self._ready or attempts == 1 else logging.INFO
                    log.log(
                        level,
                        "esl connection lost source=%s address=%s reason=%s retry_in=%.1fs",
                        s.id, s.address, reason, delay,
                    )  # fmt: skip
                except Exception as exc:  # a bug must not end the watch over the PBX
                    self.status.error(f"internal error: {type(exc).__name__}: {exc}")
                    log.exception("esl session failed source=%s address=%s", s.id, s.address)
                finally:
                    was_ready = self._ready
                    self._close()
                if was_ready:
                    auth_logged = False
                    if loop.time() - started >= _STABLE:
                        delay = self.backoff_initial
                self.status.disconnected("backoff")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
        finally:
            self._close()

    async def _session(self) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.timeout):
            reader, writer = await asyncio.open_connection(s.host, s.port, limit=4 * _READ_SIZE)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self._writer = writer
        self._greeting = loop.create_future()
        self._bad_this_session = 0
        parser = EslParser(self.max_frame)
        reader_task = loop.create_task(self._read_loop(reader, parser), name=f"esl-read-{s.id}")
        try:
            async with asyncio.timeout(self.timeout):
                await self._greeting
            reply = await self._expect(f"auth {s.password}", "auth")
            if not reply.startswith("+OK"):
                raise EslAuthRejected(reply or "no reply text")
            reply = await self._expect(f"event {self.event_format} {EVENTS}", "event")
            if not reply.startswith("+OK"):
                raise EslSessionEnded(f"event subscription refused: {reply}")
            self._ready = True
            self.sessions += 1
            self.status.connected()
            log.info("esl connected source=%s address=%s", s.id, s.address)
            await self._resync()
            next_ping = loop.time() + self.keepalive_interval
            while True:
                done, _ = await asyncio.wait({reader_task}, timeout=_TICK)
                if done:
                    reader_task.result()
                    raise EslSessionEnded("reader stopped")
                self._deliver_all(self.translator.tick())
                if loop.time() >= next_ping:
                    await self._expect("api status", "keep-alive `api status`")
                    next_ping = loop.time() + self.keepalive_interval
        finally:
            reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader_task
            if reader_task.done() and not reader_task.cancelled():
                with contextlib.suppress(asyncio.CancelledError):
                    reader_task.exception()

    def _close(self) -> None:
        self._ready = False
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        self._fail_waiters(EslSessionEnded("connection closed"))

    def _fail_waiters(self, exc: Exception) -> None:
        replies, self._replies = self._replies, deque()
        for fut in replies:
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # retrieved: nobody may be waiting any more
        for job in self._jobs.values():
            if not job.done():
                job.set_exception(exc)
                job.exception()
        if self._greeting is not None and not self._greeting.done():
            self._greeting.set_exception(exc)
            self._greeting.exception()

    # -- reading ---------------------------------------------------------------------------
    async def _read_loop(self, reader: asyncio.StreamReader, parser: EslParser) -> None:
        try:
            while True:
                data = await reader.read(_READ_SIZE)
                if not data:
                    detail = " mid-frame (its start is lost)" if parser.in_frame else ""
                    raise EslSessionEnded(f"closed by the PBX{detail}")
                frames = parser.feed(data)
                if frames:
                    self._dispatch(frames)
        except (OSError, EslProtocolError, EslSessionEnded) as exc:
            self._fail_waiters(
                exc if isinstance(exc, EslSessionEnded) else EslSessionEnded(str(exc))
            )
            raise

    def _dispatch(self, frames: list[Frame]) -> None:
        now = datetime.now(UTC)
        translate = self.translator.translate
        deliver = self._deliver
        events = 0
        for frame in frames:
            ctype = frame.headers.get("Content-Type")
            if ctype == EVENT_JSON or ctype == EVENT_PLAIN:
                try:
                    h = event_headers(frame)
                except EslEventError as exc:
                    self._bad_frame(str(exc))
                    continue
                events += 1
                if h.get("Event-Name") == "BACKGROUND_JOB":
                    self._job_done(h)
                    continue
                try:
                    outs = translate(h, now)
                except Exception as exc:  # one odd event must not stop the stream
                    self._bad_frame(f"event not understood: {type(exc).__name__}: {exc}")
                    continue
                for out in outs:
                    deliver(out)
            elif ctype == COMMAND_REPLY or ctype == API_RESPONSE:
                self._reply(frame)
            elif ctype == AUTH_REQUEST:
                if self._greeting is not None and not self._greeting.done():
                    self._greeting.set_result(None)
            elif ctype == DISCONNECT_NOTICE:
                if events:
                    self.status.count_events(events)
                raise EslSessionEnded(f"disconnect notice: {frame.text.strip()[:120]}")
            elif ctype == "text/rude-rejection":
                # The event socket's ACL refused our address: like a wrong password, a
                # person must act; retried slowly.
                self._greeting_failed(EslAuthRejected(f"ACL: {frame.text.strip()[:120]}"))
                raise EslSessionEnded("rejected by the event socket's ACL")
            else:
                self._bad_frame(f"unexpected frame Content-Type={ctype!r}")
        if events:
            self.status.count_events(events)

    def _greeting_failed(self, exc: Exception) -> None:
        if self._greeting is not None and not self._greeting.done():
            self._greeting.set_exception(exc)
            self._greeting.exception()

    def _bad_frame(self, message: str) -> None:
        self.bad_frames += 1
        self._bad_this_session += 1
        self.status.error(message)
        n = self._bad_this_session
        if n <= _LOGGED_BAD_FRAMES or n % 1000 == 0:
            log.warning(
                "esl bad input source=%s count=%d error=%s", self.settings.id, n, message[:200]
            )

    def _reply(self, frame: Frame) -> None:
        if self._replies:
            fut = self._replies.popleft()
            if not fut.done():  # else: a command that timed out still owns its late reply
                fut.set_result(frame)
            return
        self._bad_frame(f"reply nobody asked for: {frame.headers.get('Reply-Text', '')[:80]}")

    def _job_done(self, h: Headers) -> None:
        fut = self._jobs.get(h.get("Job-UUID", ""))
        if fut is not None and not fut.done():
            fut.set_result(h)

    def _deliver(self, out: EslOutput) -> None:
        try:
            if isinstance(out, RecordingReady):
                if self.on_recording is not None:
                    self.on_recording(out)
                else:
                    self.recordings_ignored += 1
            else:
                self.on_event(out)
        except Exception:
            self.delivery_errors += 1
            n = self.delivery_errors
            if n <= _LOGGED_BAD_FRAMES or n % 1000 == 0:
                log.exception(
                    "esl event handler failed source=%s event=%s count=%d",
                    self.settings.id, type(out).__name__, n,
                )  # fmt: skip

    def _deliver_all(self, outs: list[EslOutput]) -> None:
        for out in outs:
            self._deliver(out)

    # -- commands --------------------------------------------------------------------------
    async def _request(self, command: str, headers: Headers | None = None) -> str:
        """Send one command; its reply text (Reply-Text, or the api/response body)."""
        writer = self._writer
        if writer is None:
            raise EslSessionEnded("not connected")
        fut: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._replies.append(fut)
        writer.write(encode_command(command, headers))
        async with asyncio.timeout(self.timeout):
            frame = await fut
        if frame.content_type == API_RESPONSE:
            return frame.text
        return frame.headers.get("Reply-Text", "")

    async def _expect(self, command: str, what: str) -> str:
        """A command the session cannot go on without: no answer ends the connection."""
        try:
            return await self._request(command)
        except TimeoutError:
            raise EslSessionEnded(f"no answer to {what} in {self.timeout:g} s") from None

    async def _resync(self) -> None:
        s = self.settings
        self.translator.resync_window.begin()
        try:
            body = await self._expect("api show channels as json", "resync `show channels`")
            rows = parse_channels(body)
        except BaseException as exc:
            self.translator.resync_window.cancel()
            if not isinstance(exc, ValueError | TypeError):
                raise
            self.status.error(f"resync failed: {exc}")
            log.error("esl resync failed source=%s error=%s", s.id, exc)
            return
        events = self.translator.resync(rows, datetime.now(UTC))
        self._deliver_all(events)
        self.resyncs += 1
        live = events[-1]
        count = len(getattr(live, "live_call_ids", ()))
        log.info("esl resynced source=%s channels=%d live_calls=%d", s.id, len(rows), count)

    async def api(self, command: str) -> CommandResult:
        """`api <command>`: the PBX's answer; never raises for a PBX-side failure."""
        if "\n" in command or "\r" in command:
            return CommandResult(False, "-ERR a command cannot contain a line break")
        if not self._ready:
            return CommandResult(False, "-ERR not connected")
        try:
            text = await self._request(f"api {command}")
        except TimeoutError:
            return CommandResult(False, f"-ERR no answer in {self.timeout:g} s")
        except EslSessionEnded as exc:
            return CommandResult(False, f"-ERR connection lost: {exc}")
        text = text.strip()
        return CommandResult(not text.startswith("-ERR"), text)

    async def bgapi(self, command: str) -> CommandResult:
        """`bgapi <command>`, its result matched by Job-UUID (a BACKGROUND_JOB event)."""
        if "\n" in command or "\r" in command:
            return CommandResult(False, "-ERR a command cannot contain a line break")
        if not self._ready:
            return CommandResult(False, "-ERR not connected")
        job = str(uuid.uuid4())
        fut: asyncio.Future[Headers] = asyncio.get_running_loop().create_future()
        self._jobs[job] = fut
        try:
            reply = await self._request(f"bgapi {command}", {"Job-UUID": job})
            if not reply.startswith("+OK"):
                return CommandResult(False, reply.strip())
            async with asyncio.timeout(self.timeout):
                h = await fut
        except TimeoutError:
            return CommandResult(False, f"-ERR no answer in {self.timeout:g} s")
        except EslSessionEnded as exc:
            return CommandResult(False, f"-ERR connection lost: {exc}")
        finally:
            self._jobs.pop(job, None)
        text = h.get("_body", "").strip()
        return CommandResult(not text.startswith("-ERR"), text)

    async def redirect(self, call_id: str, leg_id: str, target: str) -> CommandResult:
        """Move the caller of `call_id` to `target` ("exten@context", or "exten" in the
        [[pbx]] context): `uuid_transfer <caller-uuid> <exten> XML <context>`."""
        exten, _, context = target.partition("@")
        context = context or self.settings.context
        caller = self.translator.caller_uuid(call_id)
        if not exten or any(not _token(x) for x in (exten, context, caller)):
            return CommandResult(False, f"-ERR invalid redirect target {target!r}")
        result = await self.api(f"uuid_transfer {caller} {exten} XML {context}")
        ok = result.ok and result.response.startswith("+OK")
        log.info(
            "esl redirect source=%s call_id=%s leg_id=%s target=%s@%s ok=%s reply=%s",
            self.settings.id, call_id, leg_id, _masked(exten), context, ok,
            result.response[:120],
        )  # fmt: skip
        return CommandResult(ok, result.response)


def _masked(exten: str) -> str:
    """An overflow target may be a mobile number: mask what looks like one."""
    return (mask_number(exten) or "") if len(exten) >= 7 else exten


def _token(value: str) -> bool:
    """Safe as one word of an ESL command line: no space, no control character."""
    return bool(value) and all(c > " " and c != "\x7f" for c in value)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, EslSessionEnded) else f"{type(exc).__name__}: {text}"
