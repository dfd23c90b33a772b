"""Call recordings (录音), pure: what a stored recording is, which originals a browser plays,
who may hear one and who may delete one (004 录音制度: kept forever, 永久保存; agents never
delete; a team lead may delete an empty recording, with a written reason)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from callcenter.auth.model import Principal, Role
from callcenter.errors import Conflict, DomainError, Forbidden, Invalid

# How a recording came in: FreeSWITCH RECORD_STOP over ESL, `callcenter recording add`
# (Asterisk MixMonitor's post-command), the watched spool directory, or an HTTP upload.
Via = Literal["esl", "cli", "spool", "upload"]

# Who may hear a recording (and see its metadata); agents only when it is theirs.
LISTENERS = frozenset({Role.AGENT, Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN})
# Who may hear every recording, not only their own.
ALL_RECORDINGS = frozenset({Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN})
# Who may search recordings by what was said in them (said=, issue 16): the supervisors
# and QA who look across every agent's calls; each search is written to the audit log.
SEARCHERS = frozenset({Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN})
# Who may upload over HTTP: a PBX or recorder with a token of its own role (it may do
# nothing else), team leads and admins.
UPLOADERS = frozenset({Role.PBX, Role.TEAM_LEAD, Role.ADMIN})
# 004: only a team lead (领班) may delete, and only an empty recording.
DELETERS = frozenset({Role.TEAM_LEAD})
MAX_REASON = 500

# Containers and codecs a browser plays as they are (Chrome, Firefox, Safari); anything
# else (G.711 A-law/µ-law WAV, GSM, ADPCM, …) gets a PCM WAV rendition beside the original.
_PLAYABLE = {
    "wav": frozenset({"pcm_s16le", "pcm_u8"}),
    "mp3": frozenset({"mp3"}),
    "ogg": frozenset({"vorbis", "opus"}),
}
MEDIA_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg"}
# ffprobe's format name → the extension the stored original gets.
_EXTENSIONS = {
    "wav": "wav",
    "mp3": "mp3",
    "ogg": "ogg",
    "gsm": "gsm",
    "flac": "flac",
    "aiff": "aiff",
    "au": "au",
    "mulaw": "ulaw",
    "alaw": "alaw",
    "s16le": "sln",
    "mov,mp4,m4a,3gp,3g2,mj2": "m4a",
    "matroska,webm": "webm",
}


def playable(container: str, codec: str) -> bool:
    """Does a browser play this original as it is?"""
    return codec in _PLAYABLE.get(container, frozenset())


def extension(container: str) -> str:
    return _EXTENSIONS.get(container, "audio")


def media_type(ext: str) -> str:
    return MEDIA_TYPES.get(ext, "application/octet-stream")


def blob_path(root: Path, sha256: str, ext: str) -> Path:
    """Where the file with these bytes lives: root/ab/cd/<sha256>.<ext>."""
    return root / sha256[:2] / sha256[2:4] / f"{sha256}.{ext}"


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the audio holds. `loudness_dbfs` and `peak_dbfs` are None for digital silence;
    `longest_sound_ms` is the longest stretch above the silence threshold."""

    duration_seconds: float
    channels: int
    sample_rate: int
    loudness_dbfs: float | None
    peak_dbfs: float | None
    longest_sound_ms: int
    empty: bool


@dataclass(frozen=True, slots=True)
class Blob:
    """One stored file (the original or its rendition), named by the SHA-256 of its bytes."""

    sha256: str
    ext: str
    size: int


@dataclass(frozen=True, slots=True)
class Deletion:
    """The tombstone of a deleted recording: who, when and why (the hash stays on the row)."""

    at: datetime
    by: str
    reason: str


@dataclass(frozen=True, slots=True)
class Recording:
    id: str
    original: Blob
    container: str
    codec: str
    analysis: Analysis
    rendition: Blob | None
    via: Via
    name: str
    received_at: datetime
    # The call as it was given (our id or the PBX's), and the PBX source when known.
    call_ref: str | None
    source: str | None
    call_id: str | None
    linked_at: datetime | None
    deleted: Deletion | None = None

    @property
    def playback(self) -> Blob:
        """What a browser is given: the rendition when there is one."""
        return self.rendition or self.original


def deletion_refusal(user: Principal, recording: Recording, reason: str) -> DomainError | None:
    """Why `user` may not delete `recording` with this `reason`, or None if they may."""
    if user.role == Role.AGENT:
        # 004 录音制度: agents never delete a recording.
        return Forbidden("recording-not-deletable", "agents may never delete a recording")
    if user.role not in DELETERS:
        return Forbidden(
            "recording-not-deletable",
            "recordings are kept forever; only a team lead may delete one, and only an empty one",
        )
    if recording.deleted is not None:
        return Conflict("recording-deleted", "this recording was deleted already")
    if not recording.analysis.empty:
        return Conflict(
            "recording-not-empty",
            "only a recording flagged empty may be deleted; this one holds sound",
        )
    if not reason.strip():
        return Invalid("reason-required", "a written reason is required", "reason")
    if len(reason) > MAX_REASON:
        return Invalid("reason-too-long", f"the reason is limited to {MAX_REASON} characters")
    return None


def call_from_name(pattern: re.Pattern[str], name: str) -> str | None:
    """The call id a spool file's name carries (the pattern's group `call`), or None."""
    match = pattern.match(name)
    if match is None:
        return None
    return match.group("call") or None


def map_path(path: str, path_map: tuple[str, ...]) -> str:
    """A path as the PBX names it → where it is mounted here (the longest prefix wins)."""
    best = ""
    local = path
    for item in path_map:
        pbx, _, here = item.partition("=")
        pbx = pbx.rstrip("/")
        if (path == pbx or path.startswith(pbx + "/")) and len(pbx) > len(best):
            best, local = pbx, here.rstrip("/") + path[len(pbx) :]
    return local
