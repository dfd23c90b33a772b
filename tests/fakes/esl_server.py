"""A fake FreeSWITCH event socket (mod_event_socket, inbound mode) for tests, byte for byte.

What it says follows mod_event_socket.c: `Content-Type: auth/request` on connect;
`auth <password>` → `command/reply` `+OK accepted` or `-ERR invalid` (then a disconnect
notice and close); `event json|plain …` → `+OK event listener enabled json`; `api …` →
`api/response` with a Content-Length body; `bgapi …` → `+OK Job-UUID: …` then a
BACKGROUND_JOB event; events as `Content-Length: N\\nContent-Type: text/event-json\\n\\n<N bytes>`.
It keeps a channel table from the events it plays (for `show channels as json`), can cut
every write into pieces, send garbage, drop a connection mid-event, stop answering `api`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import quote

Headers = dict[str, str]
Splitter = Callable[[bytes], list[bytes]]

AUTH_REQUEST = b"Content-Type: auth/request\n\n"
GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
STATUS = (
    "UP 0 years, 0 days, 3 hours, 12 minutes, 5 seconds, 880 milliseconds, 120 microseconds\n"
    "FreeSWITCH (Version 1.10.12-release 64bit) is ready\n"
    "42 session(s) since startup\n"
    "2 session(s) - peak 9, last 5min 3\n"
    "0 session(s) per Sec out of max 30, peak 4, last 5min 1\n"
    "1000 session(s) max\n"
    "min idle cpu 0.00/97.40\n"
    "Current Stack Size/Max 240K/8192K\n"
)


def json_event(headers: Headers) -> bytes:
    """An event as mod_event_socket sends it with `event json` (cJSON: raw UTF-8)."""
    body = json.dumps(headers, ensure_ascii=False, separators=(",", ":")).encode()
    return b"Content-Length: %d\nContent-Type: text/event-json\n\n%s" % (len(body), body)


def plain_event(headers: Headers) -> bytes:
    """An event as `event plain` sends it: percent-encoded values, the body after them."""
    lines = [f"{k}: {quote(v, safe='')}\n" for k, v in headers.items() if k != "_body"]
    text = "".join(lines)
    if "_body" in headers:
        inner = headers["_body"].encode()
        body = text.encode() + b"Content-Length: %d\n\n" % len(inner) + inner
    else:
        body = text.encode() + b"\n"
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(body), body)


def command_reply(text: str, **extra: str) -> bytes:
    more = "".join(f"{k.replace('_', '-')}: {v}\n" for k, v in extra.items())
    return f"Content-Type: command/reply\nReply-Text: {text}\n{more}\n".encode()


def api_response(body: str) -> bytes:
    raw = body.encode()
    return b"Content-Type: api/response\nContent-Length: %d\n\n%s" % (len(raw), raw)


def disconnect_notice(message: str = GOODBYE) -> bytes:
    raw = message.encode()
    return b"Content-Type: text/disconnect-notice\nContent-Length: %d\n\n%s" % (len(raw), raw)


def random_splitter(seed: int, max_piece: int = 7) -> Splitter:
    """Cut every write into pieces of 1..max_piece bytes (reads split anywhere)."""
    rng = random.Random(seed)

    def split(data: bytes) -> list[bytes]:
        pieces, pos = [], 0
        while pos < len(data):
            n = rng.randint(1, max_piece)
            pieces.append(data[pos : pos + n])
            pos += n
        return pieces

    return split


@dataclass
class EslConnection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    authed: bool = False
    format: str = "plain"
    events: set[str] = field(default_factory=set)
    closed: bool = False
    # One frame at a time: a reply must not land inside an event being written in pieces.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class FakeEslServer:
    def __init__(self, password: str = "ClueCon") -> None:
        self.password = password
        self.channels: dict[str, Headers] = {}  # uuid → `show channels` row
        self.answer_api = True  # False: `api` is never answered (a stuck switch)
        self.api_delay = 0.0  # seconds before each `api` answer (a slow one; order is kept)
        self.api_handlers: dict[str, Callable[[str], str | None]] = {}
        self.split: Splitter | None = None
        self.acl_reject = False  # True: refuse every connection as an ACL would
        self.split_delay = 0.0
        self.connections: list[EslConnection] = []
        self.auth_attempts = 0
        self.commands: list[str] = []
        self.api_calls: list[str] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        for conn in self.connections:
            self._abort(conn)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        for task in list(self._tasks):
            task.cancel()

    @property
    def subscribed(self) -> list[EslConnection]:
        return [c for c in self.connections if c.authed and c.events and not c.closed]

    @property
    def current(self) -> EslConnection:
        live = self.subscribed
        assert live, "no subscribed client connection"
        return live[-1]

    async def wait_for(self, predicate: Callable[[], bool], within: float = 4.0) -> None:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)

    async def wait_subscribed(self, count: int = 1, within: float = 4.0) -> EslConnection:
        """Until the `count`-th connection has authenticated and subscribed."""
        await self.wait_for(
            lambda: (
                len([c for c in self.connections if c.events]) >= count and bool(self.subscribed)
            ),
            within,
        )
        return self.current

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- the protocol ----------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = EslConnection(reader, writer)
        self.connections.append(conn)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            if self.acl_reject:
                message = b"Access Denied, go away.\n"
                head = b"Content-Type: text/rude-rejection\nContent-Length: %d\n\n" % len(message)
                await self.write(head + message, conn)
                return
            await self.write(AUTH_REQUEST, conn)
            buf = b""
            while not conn.closed:
                data = await reader.read(4096)
                if not data:
                    break
                buf += data
                while b"\n\n" in buf and not conn.closed:
                    raw, buf = buf.split(b"\n\n", 1)
                    await self._command(conn, raw.decode())
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._abort(conn)
            if task is not None:
                self._tasks.discard(task)
            await self._notify()

    async def _command(self, conn: EslConnection, raw: str) -> None:
        first, *rest = raw.strip("\n").split("\n")
        headers = dict(line.split(": ", 1) for line in rest if ": " in line)
        cmd = first.strip()
        self.commands.append("auth ***" if cmd.startswith("auth ") else cmd)
        if not conn.authed:
            if cmd.startswith("auth "):
                self.auth_attempts += 1
                if cmd[5:] == self.password:
                    conn.authed = True
                    await self.write(command_reply("+OK accepted"), conn)
                else:
                    await self.write(command_reply("-ERR invalid"), conn)
                    await self.write(disconnect_notice(), conn)
                    self._abort(conn)
            else:
                await self.write(command_reply("-ERR command not found"), conn)
            await self._notify()
            return
        if cmd.startswith("event "):
            words = cmd.split()[1:]
            if words and words[0] in ("json", "plain", "xml"):
                conn.format = words.pop(0)
            conn.events.update(words)
            await self.write(command_reply(f"+OK event listener enabled {conn.format}"), conn)
            await self._notify()
        elif cmd.startswith("api "):
            self.api_calls.append(cmd[4:])
            if self.api_delay:
                await asyncio.sleep(self.api_delay)  # like FreeSWITCH: one command at a time
            if self.answer_api:
                body = self.api(cmd[4:])
                if body is not None:
                    await self.write(api_response(body), conn)
        elif cmd.startswith("bgapi "):
            job = headers.get("Job-UUID", "a1b2c3d4-0000-4000-8000-00000000b9a1")
            self.api_calls.append(cmd[6:])
            reply = command_reply(f"+OK Job-UUID: {job}", Job_UUID=job)
            await self.write(reply, conn)
            body = self.api(cmd[6:])
            if body is not None and "BACKGROUND_JOB" in conn.events:
                name, _, arg = cmd[6:].partition(" ")
                event = {
                    "Job-UUID": job,
                    "Job-Command": name,
                    "Job-Command-Arg": arg,
                    "Event-Name": "BACKGROUND_JOB",
                    "Core-UUID": "6f6e2b1c-3a7e-4a55-9d3b-2c1f0e9d8a71",
                    "Event-Date-Timestamp": str(int(time.time() * 1_000_000)),
                    "Event-Calling-File": "mod_event_socket.c",
                    "Event-Calling-Function": "api_exec",
                    "Event-Calling-Line-Number": "1557",
                    "_body": body,
                }
                await self.send_event(event, conn)
        elif cmd in ("exit", "..."):
            await self.write(command_reply("+OK bye"), conn)
            await self.write(disconnect_notice(), conn)
            self._abort(conn)
        else:
            await self.write(command_reply("-ERR command not found"), conn)

    def api(self, line: str) -> str | None:
        """The body `api <line>` answers (None: no answer at all)."""
        name, _, args = line.partition(" ")
        handler = self.api_handlers.get(name)
        if handler is not None:
            return handler(args)
        if name == "status":
            return STATUS
        if line == "show channels as json":
            rows = list(self.channels.values())
            if not rows:
                return json.dumps({"row_count": 0})
            return json.dumps({"row_count": len(rows), "rows": rows}, ensure_ascii=False)
        if name == "uuid_transfer":
            words = args.split()
            if not words:
                return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
            if words[0] not in self.channels:
                return "-ERR No such channel!\n"
            return "+OK\n"
        return f"-ERR {name} Command not found!\n"

    # -- sending ---------------------------------------------------------------------------
    async def write(self, data: bytes, conn: EslConnection | None = None) -> None:
        """Write raw bytes, cut by `split` into separate writes when set."""
        conn = conn or self.current
        if conn.closed:
            return
        pieces = self.split(data) if self.split is not None else [data]
        async with conn.lock:
            for piece in pieces:
                if conn.closed:
                    return
                conn.writer.write(piece)
                try:
                    await conn.writer.drain()
                except ConnectionError:
                    self._abort(conn)
                    return
                if self.split_delay and len(pieces) > 1:
                    await asyncio.sleep(self.split_delay)

    def frame(self, headers: Headers, conn: EslConnection) -> bytes:
        return json_event(headers) if conn.format == "json" else plain_event(headers)

    async def send_event(self, headers: Headers, conn: EslConnection | None = None) -> None:
        """Send one event (if the connection subscribed to it) and track its channel."""
        self.track(headers)
        conn = conn or self.current
        name = headers.get("Event-Name", "")
        if name == "CUSTOM":
            wanted = headers.get("Event-Subclass", "") in conn.events
        else:
            wanted = name in conn.events or "ALL" in conn.events
        if wanted:
            await self.write(self.frame(headers, conn), conn)

    async def play(
        self,
        events: Iterable[Headers],
        speed: float = 1.0,
        *,
        send: bool = True,
        max_gap: float | None = None,
    ) -> list[Headers]:
        """Replay events with their original spacing × `speed` (each gap at most `max_gap`
        seconds), stamped with the time they are sent. With send=False only the channel
        table changes (what happened while no client was connected). Returns what was sent."""
        out: list[Headers] = []
        start = time.time()
        offset = 0.0
        last: int | None = None
        for h in events:
            ts = int(h["Event-Date-Timestamp"])
            if last is not None:
                gap = (ts - last) / 1e6 * speed
                offset += min(gap, max_gap) if max_gap is not None else gap
            last = ts
            if send:
                delay = start + offset - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            stamped = dict(h, **{"Event-Date-Timestamp": str(int((start + offset) * 1e6))})
            if send:
                await self.send_event(stamped)
            else:
                self.track(stamped)
            out.append(stamped)
        return out

    async def drop(self, conn: EslConnection | None = None, partial: bytes = b"") -> None:
        """Close the connection abruptly, after writing `partial` (e.g. half an event)."""
        conn = conn or self.current
        async with conn.lock:
            if partial and not conn.closed:
                conn.writer.write(partial)
                with contextlib.suppress(ConnectionError):
                    await conn.writer.drain()
            self._abort(conn)
        await self._notify()

    def _abort(self, conn: EslConnection) -> None:
        if not conn.closed:
            conn.closed = True
            conn.writer.transport.abort()

    # -- the channel table -----------------------------------------------------------------
    def track(self, h: Headers) -> None:
        """Keep `show channels` in step with the events (as FreeSWITCH's core db does)."""
        uuid = h.get("Unique-ID")
        name = h.get("Event-Name")
        if not uuid or name not in _CALLSTATE:
            return
        if name == "CHANNEL_HANGUP_COMPLETE":
            self.channels.pop(uuid, None)
            return
        row = self.channels.get(uuid)
        if row is None:
            if name != "CHANNEL_CREATE":
                return
            ts = int(h.get("Event-Date-Timestamp", "0") or 0)
            row = self.channels[uuid] = {
                "uuid": uuid,
                "direction": h.get("Call-Direction", ""),
                "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts / 1e6)),
                "created_epoch": str(ts // 1_000_000),
                "name": h.get("Channel-Name", ""),
                "state": h.get("Channel-State", ""),
                "cid_name": h.get("Caller-Caller-ID-Name", ""),
                "cid_num": h.get("Caller-Caller-ID-Number", ""),
                "ip_addr": h.get("Caller-Network-Addr", ""),
                "dest": h.get("Caller-Destination-Number", ""),
                "application": "",
                "application_data": "",
                "dialplan": "XML",
                "context": h.get("Caller-Context", ""),
                "read_codec": "PCMA",
                "read_rate": "8000",
                "read_bit_rate": "64000",
                "write_codec": "PCMA",
                "write_rate": "8000",
                "write_bit_rate": "64000",
                "secure": "",
                "hostname": h.get("FreeSWITCH-Hostname", ""),
                "presence_id": "",
                "presence_data": "",
                "accountcode": "",
                "callstate": "DOWN",
                "callee_name": "",
                "callee_num": "",
                "callee_direction": "",
                "call_uuid": h.get("Channel-Call-UUID", uuid),
                "sent_callee_name": "",
                "sent_callee_num": "",
                "initial_cid_name": h.get("Caller-Caller-ID-Name", ""),
                "initial_cid_num": h.get("Caller-Caller-ID-Number", ""),
                "initial_ip_addr": h.get("Caller-Network-Addr", ""),
                "initial_dest": h.get("Caller-Destination-Number", ""),
                "initial_dialplan": "XML",
                "initial_context": h.get("Caller-Context", ""),
            }
        state = _CALLSTATE[name]
        if state and not (row["callstate"] == "ACTIVE" and state != "ACTIVE"):
            row["callstate"] = state
        row["state"] = h.get("Channel-State", row["state"])


_CALLSTATE = {
    "CHANNEL_CREATE": "DOWN",
    "CHANNEL_PROGRESS": "RINGING",
    "CHANNEL_PROGRESS_MEDIA": "EARLY",
    "CHANNEL_ANSWER": "ACTIVE",
    "CHANNEL_BRIDGE": "ACTIVE",
    "CHANNEL_HANGUP_COMPLETE": "",
}
