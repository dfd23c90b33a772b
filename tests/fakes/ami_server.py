"""A fake Asterisk Manager Interface (AMI) server for tests, byte for byte over TCP.

What it says follows Asterisk's manager.c and the AMI action documentation: the banner line
"Asterisk Call Manager/5.0.1" on connect; `Challenge` (AuthType MD5) → a random challenge;
`Login` with Secret, or AuthType MD5 + Key = md5(challenge + secret) → "Authentication
accepted" + FullyBooted, or "Authentication failed" and the connection closed; `Ping` →
Pong with the ActionID; `Events`, `Filter`; `CoreShowChannels` / `QueueStatus` as event
lists (a Success response with EventList: start, the items, the …Complete event); `Redirect`
→ "Redirect successful" for a known channel, else an Error; `Logoff` → Goodbye.

Tests play event transcripts (`tests/fixtures/ami/*.txt`) and can cut every write at given
byte positions (even inside a UTF-8 character), drop a connection mid-event, refuse logins,
stop answering Pings and send garbage.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.telephony.ami.protocol import Message, Parser, encode

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ami"
Fields = list[tuple[str, str]]


def transcript(name_or_text: str, *, timestamps: bool = True) -> bytes:
    """A fixture (file name under tests/fixtures/ami, or the text itself) as wire bytes:
    comment lines dropped, CRLF line endings, one blank line after every message.
    `timestamps=False` drops the `Timestamp:` lines, so the client stamps events when read."""
    text = name_or_text
    if "\n" not in name_or_text and name_or_text.endswith(".txt"):
        text = (FIXTURES / name_or_text).read_text(encoding="utf-8")
    lines = [
        line
        for line in text.splitlines()
        if not line.startswith("#") and (timestamps or not line.startswith("Timestamp:"))
    ]
    blocks = "\n".join(lines).strip("\n").split("\n\n")
    return b"".join(
        ("\r\n".join(b.strip("\n").split("\n")) + "\r\n\r\n").encode() for b in blocks if b
    )


def messages(data: bytes) -> list[Message]:
    """The AMI messages in wire bytes (no banner)."""
    return Parser(expect_banner=False).feed(data)


@dataclass
class _Client:
    writer: asyncio.StreamWriter
    challenge: str | None = None
    logged_in: bool = False
    actions: list[Message] = field(default_factory=list)
    # Held while a test's write is cut into pieces: a reply never lands inside a message.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class FakeAmiServer:
    """Listen on 127.0.0.1 (a free port); `await start()`, `await stop()`."""

    def __init__(
        self,
        *,
        username: str = "hotline",
        secret: str = "s3cret-不告诉你",
        banner: bytes = b"Asterisk Call Manager/5.0.1\r\n",
        md5: bool = True,
        filter_supported: bool = True,
    ) -> None:
        self.username = username
        self.secret = secret
        self.banner = banner
        self.md5 = md5
        self.filter_supported = filter_supported
        self.refuse_logins = False
        self.answer_pings = True
        self.redirect_error: str | None = None  # answer every Redirect with this Error
        self.channels: list[Fields] = []  # what CoreShowChannels lists
        self.queue_entries: list[Fields] = []  # what QueueStatus lists
        self.connections = 0
        self.logins = 0
        self.failed_logins = 0
        self.actions: list[Message] = []  # every action received, in order
        self.port = 0
        self._server: asyncio.Server | None = None
        self._clients: list[_Client] = []

    # -- life cycle ---------------------------------------------------------------------------
    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for client in list(self._clients):
            client.writer.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        self._server = None

    async def __aenter__(self) -> FakeAmiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- what tests wait for ------------------------------------------------------------------
    @property
    def clients(self) -> int:
        return len(self._clients)

    async def wait_for(self, condition: str, value: int = 1, within: float = 5.0) -> None:
        """Poll until attribute `condition` (logins, connections, …) reaches `value`."""
        deadline = time.monotonic() + within
        while getattr(self, condition) < value:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{condition} = {getattr(self, condition)}, wanted {value}")
            await asyncio.sleep(0.01)

    async def wait_action(self, name: str, count: int = 1, within: float = 5.0) -> Message:
        deadline = time.monotonic() + within
        while True:
            found = [a for a in self.actions if (a.action or "").lower() == name.lower()]
            if len(found) >= count:
                return found[count - 1]
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} {name} actions, wanted {count}")
            await asyncio.sleep(0.01)

    # -- what tests make it do ----------------------------------------------------------------
    def _current(self) -> _Client:
        live = [c for c in self._clients if c.logged_in] or self._clients
        if not live:
            raise RuntimeError("no client connected")
        return live[-1]

    async def send(self, data: bytes, cuts: Iterable[int] = (), pause: float = 0.002) -> None:
        """Write `data` to the latest logged-in client, cut at the byte offsets in `cuts`
        (each piece its own write, a pause between, so they arrive as separate reads)."""
        client = self._current()
        writer = client.writer
        start = 0
        async with client.lock:
            for cut in [*sorted(set(cuts)), len(data)]:
                if cut <= start:
                    continue
                writer.write(data[start:cut])
                await writer.drain()
                start = cut
                if cut < len(data):
                    await asyncio.sleep(pause)

    async def play(
        self, fixture: str, *, timestamps: bool = False, cuts: Iterable[int] = ()
    ) -> None:
        await self.send(transcript(fixture, timestamps=timestamps), cuts)

    async def drop(self, partial: bytes = b"") -> None:
        """Write `partial` (half an event, say) and close the connection at once."""
        client = self._current()
        if partial:
            client.writer.write(partial)
            await client.writer.drain()
        transport = client.writer.transport
        transport.abort()  # no goodbye: like a PBX that died
        self._clients.remove(client)

    async def garbage(self, size: int = 4096, seed: int = 1, *, end: bool = True) -> None:
        """Random bytes; `end` closes them with a blank line, as if they were a message."""
        rng = random.Random(seed)
        junk = bytes(rng.randrange(256) for _ in range(size))
        await self.send(junk + (b"\r\n\r\n" if end else b""))

    # -- the server side of the protocol ------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        client = _Client(writer)
        self._clients.append(client)
        parser = Parser(expect_banner=False, strict=False)
        try:
            writer.write(self.banner)
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                for action in parser.feed(data):
                    self.actions.append(action)
                    client.actions.append(action)
                    async with client.lock:
                        if not await self._answer(client, action):
                            return
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            if client in self._clients:
                self._clients.remove(client)
            writer.close()

    def _reply(self, client: _Client, action: Message, fields: Fields) -> None:
        action_id = action.action_id
        head = fields[:1] + ([("ActionID", action_id)] if action_id else []) + fields[1:]
        client.writer.write(encode(head))

    async def _answer(self, client: _Client, action: Message) -> bool:
        """Answer one action; False closes the connection."""
        name = (action.action or "").lower()
        if name == "challenge":
            if not self.md5 or (action.get("AuthType") or "").lower() != "md5":
                self._reply(
                    client, action, [("Response", "Error"), ("Message", "Must specify AuthType")]
                )
                return True
            client.challenge = str(random.randrange(10**8, 10**9))
            self._reply(client, action, [("Response", "Success"), ("Challenge", client.challenge)])
            return True
        if name == "login":
            return self._login(client, action)
        if name == "logoff":
            self._reply(
                client, action, [("Response", "Goodbye"), ("Message", "Thanks for all the fish.")]
            )
            return False
        if not client.logged_in:
            self._reply(client, action, [("Response", "Error"), ("Message", "Permission denied")])
            return True
        if name == "ping":
            if self.answer_pings:
                pong = [
                    ("Response", "Success"),
                    ("Ping", "Pong"),
                    ("Timestamp", f"{time.time():.6f}"),
                ]
                self._reply(client, action, pong)
        elif name == "events":
            on = (action.get("EventMask") or "off").lower() != "off"
            self._reply(
                client, action, [("Response", "Success"), ("Events", "On" if on else "Off")]
            )
        elif name == "filter":
            if self.filter_supported:
                self._reply(
                    client,
                    action,
                    [("Response", "Success"), ("Message", "Filter Added Successfully")],
                )
            else:
                self._reply(
                    client,
                    action,
                    [
                        ("Response", "Error"),
                        (
                            "Message",
                            "Invalid/unknown command: Filter. "
                            "Use Action: ListCommands to show available commands.",
                        ),
                    ],
                )
        elif name == "coreshowchannels":
            self._list(
                client,
                action,
                "Channels will follow",
                "CoreShowChannel",
                self.channels,
                "CoreShowChannelsComplete",
            )
        elif name == "queuestatus":
            self._list(
                client,
                action,
                "Queue status will follow",
                "QueueEntry",
                self.queue_entries,
                "QueueStatusComplete",
            )
        elif name == "redirect":
            known = any(dict(ch).get("Channel") == action.get("Channel") for ch in self.channels)
            if self.redirect_error is not None:
                self._reply(
                    client, action, [("Response", "Error"), ("Message", self.redirect_error)]
                )
            elif known:
                self._reply(
                    client, action, [("Response", "Success"), ("Message", "Redirect successful")]
                )
            else:
                self._reply(
                    client,
                    action,
                    [("Response", "Error"), ("Message", "Channel specified does not exist")],
                )
        else:
            self._reply(
                client, action, [("Response", "Error"), ("Message", "Invalid/unknown command")]
            )
        return True

    def _login(self, client: _Client, action: Message) -> bool:
        user_ok = action.get("Username") == self.username
        if (action.get("AuthType") or "").lower() == "md5":
            expected = hashlib.md5(f"{client.challenge}{self.secret}".encode()).hexdigest()
            secret_ok = client.challenge is not None and action.get("Key") == expected
        else:
            secret_ok = action.get("Secret") == self.secret
        if self.refuse_logins or not (user_ok and secret_ok):
            self.failed_logins += 1
            self._reply(
                client, action, [("Response", "Error"), ("Message", "Authentication failed")]
            )
            return False  # manager.c ends the session after a failed login
        client.logged_in = True
        self.logins += 1
        self._reply(
            client, action, [("Response", "Success"), ("Message", "Authentication accepted")]
        )
        client.writer.write(
            encode(
                [
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", "4242"),
                    ("LastReload", "4242"),
                    ("Status", "Fully Booted"),
                ]
            )
        )
        return True

    def _list(
        self,
        client: _Client,
        action: Message,
        message: str,
        event: str,
        items: Sequence[Fields],
        complete: str,
    ) -> None:
        action_id = action.action_id or ""
        self._reply(
            client, action, [("Response", "Success"), ("EventList", "start"), ("Message", message)]
        )
        for item in items:
            client.writer.write(encode([("Event", event), ("ActionID", action_id), *item]))
        client.writer.write(
            encode(
                [
                    ("Event", complete),
                    ("ActionID", action_id),
                    ("EventList", "Complete"),
                    ("ListItems", str(len(items))),
                ]
            )
        )


def channel(
    name: str,
    uid: str,
    linkedid: str,
    *,
    state: str = "6",
    number: str = "",
    exten: str = "s",
    application: str = "Queue",
    data: str = "repair",
    seconds: int = 5,
) -> Fields:
    """One CoreShowChannel item."""
    desc = {"0": "Down", "4": "Ring", "5": "Ringing", "6": "Up"}.get(state, "Unknown")
    return [
        ("Channel", name),
        ("ChannelState", state),
        ("ChannelStateDesc", desc),
        ("CallerIDNum", number),
        ("CallerIDName", ""),
        ("ConnectedLineNum", "<unknown>"),
        ("ConnectedLineName", "<unknown>"),
        ("Language", "zh"),
        ("AccountCode", ""),
        ("Context", "hotline"),
        ("Exten", exten),
        ("Priority", "1"),
        ("Uniqueid", uid),
        ("Linkedid", linkedid),
        ("BridgeId", ""),
        ("Application", application),
        ("ApplicationData", data),
        ("Duration", time.strftime("%H:%M:%S", time.gmtime(seconds))),
    ]
