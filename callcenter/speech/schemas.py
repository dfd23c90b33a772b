"""One JSON shape for a transcript and a recording's place in the transcription queue."""

from __future__ import annotations

from typing import Any

from callcenter.clock import iso_z
from callcenter.speech.said import SaidIn
from callcenter.speech.store import Job, StoredTranscript


def job_json(job: Job | None) -> dict[str, Any] | None:
    if job is None:
        return None
    return {
        "state": job.state,
        "attempts": job.attempts,
        "reason": job.reason,
        "language": job.language,
        "queued_at": iso_z(job.queued_at),
        "started_at": iso_z(job.started_at),
        "finished_at": iso_z(job.finished_at),
    }


def transcript_json(found: StoredTranscript, job: Job | None) -> dict[str, Any]:
    t = found.transcript
    return {
        "recording_id": found.recording_id,
        "text": t.text,
        # [character, start, end]: seconds from the recording's start, to seek the player
        "chars": [[c.text, c.start, c.end] for c in t.chars],
        "language": t.language,
        "language_probability": t.language_probability,
        "duration_seconds": t.duration,
        "model": t.model,
        "model_sha256": t.model_sha256,
        "created_at": iso_z(found.created_at),
        "findings": found.findings,
        "job": job_json(job),
    }


def missing_message(job: Job | None) -> str:
    """Why a recording has no transcript (yet)."""
    if job is None:
        return (
            "no transcript: the recording was never queued (stored before transcription was "
            "on: `callcenter speech backfill` queues it)"
        )
    return {
        "queued": "no transcript yet: the recording waits in the transcription queue",
        "running": "no transcript yet: the recording is being transcribed",
        "skipped": f"no transcript: skipped ({job.reason})",
        "failed": f"no transcript: transcription failed ({job.reason})",
    }.get(job.state, "no transcript")


def said_json(found: SaidIn) -> dict[str, Any]:
    """What a said= search adds to a recording's JSON: who answered the call, and where the
    words were first said (to start the player there) with the words around them."""
    agent = None
    if found.agent is not None:
        agent = {"name": found.agent, "work_number": found.work_number}
    return {
        "agent": agent,
        "said": {
            "at": found.at,
            "end": found.end,
            "snippet": found.snippet,
            "count": found.count,
        },
    }
