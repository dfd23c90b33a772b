"""One JSON shape for a recording: the API, `callcenter recording add` and the log."""

from __future__ import annotations

from typing import Any

from callcenter.clock import iso_z
from callcenter.recordings.model import Blob, Recording, media_type


def _blob(blob: Blob | None) -> dict[str, Any] | None:
    if blob is None:
        return None
    return {
        "sha256": blob.sha256,
        "size": blob.size,
        "ext": blob.ext,
        "media_type": media_type(blob.ext),
    }


def recording_json(r: Recording) -> dict[str, Any]:
    a = r.analysis
    gone = r.deleted is not None
    return {
        "id": r.id,
        "call_id": r.call_id,
        "call_ref": r.call_ref,
        "source": r.source,
        "linked": r.call_id is not None,
        "linked_at": iso_z(r.linked_at),
        "via": r.via,
        "name": r.name,
        "received_at": iso_z(r.received_at),
        "sha256": r.original.sha256,
        "size": r.original.size,
        "format": r.container,
        "codec": r.codec,
        "duration_seconds": a.duration_seconds,
        "channels": a.channels,
        "sample_rate": a.sample_rate,
        "loudness_dbfs": a.loudness_dbfs,
        "peak_dbfs": a.peak_dbfs,
        "longest_sound_ms": a.longest_sound_ms,
        "empty": a.empty,
        "original": _blob(r.original),
        "rendition": _blob(r.rendition),
        "audio_url": None if gone else f"/api/recordings/{r.id}/audio",
        "deleted": None
        if r.deleted is None
        else {"at": iso_z(r.deleted.at), "by": r.deleted.by, "reason": r.deleted.reason},
    }
