"""What the recording's transcript says about a sample (issue 16): phrase spotting against the
sample's own sheet and the ticket as it is now; and, when the sample is scored, the rule that
a deduction the transcript suggested counts only once the reviewer confirmed it (or scored
the item otherwise) — a machine's hearing never becomes a fine by itself."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.errors import Invalid
from callcenter.qa.checklists import Checklist
from callcenter.qa.context import SampleContext
from callcenter.qa.model import Sample, Score
from callcenter.qa.prefill import Suggestion
from callcenter.speech import store as speech_store
from callcenter.speech.evidence import Spotter, Subject
from callcenter.speech.findings import Listened, evidence_text

OFF = Listened("off")


async def listen(
    conn: AsyncConnection,
    spotter: Spotter | None,
    sample: Sample,
    context: SampleContext,
    checklist: Checklist | None,
) -> Listened:
    if spotter is None:
        return OFF
    job = await speech_store.job(conn, sample.recording_id)
    if job is None:
        return Listened(None)
    found = await speech_store.transcript(conn, sample.recording_id)
    if found is None or not found.transcript.mandarin or checklist is None:
        return Listened(job.state, job.reason, job.language)
    on = context.offered_at or found.created_at
    subject = Subject(
        sample.sheet,
        on.astimezone(spotter.timezone).date(),
        context.work_number,
        context.tickets[0].ticket if context.tickets else None,
    )
    evidence = await asyncio.to_thread(spotter.evidence, checklist, found.transcript, subject)
    return Listened(job.state, job.reason, found.transcript.language, evidence)


@dataclass(frozen=True, slots=True)
class Kept:
    scores: tuple[Score, ...]
    overridden: list[str]  # pre-filled items scored otherwise than suggested


def keep(
    checklist: Checklist,
    scores: tuple[Score, ...],
    suggested: dict[str, Suggestion],
    listened: Listened,
) -> Kept:
    """Each score with the evidence the service had for it. A transcript's suggestion the
    reviewer scored the same without confirming it is refused (400 naming the items): it
    may be the default the desk filled in, not what the reviewer heard."""
    heard = listened.suggestions(checklist)
    unconfirmed = [
        s.key
        for s in scores
        if s.key in heard and s.deducted == heard[s.key][0] and not s.confirmed
    ]
    if unconfirmed:
        raise Invalid(
            "unconfirmed-evidence",
            "confirm or override what the transcript suggests for: " + ", ".join(unconfirmed),
            "scores",
        )
    kept, overridden = [], []
    for s in scores:
        said = [suggested[s.key].evidence] if s.key in suggested else []
        if s.key in heard:
            said.append(evidence_text(heard[s.key][1]))
        if said:
            s = replace(s, evidence="; ".join(said), prefilled=True)
        changed = s.key in suggested and s.deducted != suggested[s.key].deducted
        if changed or (s.key in heard and s.deducted != heard[s.key][0]):
            overridden.append(s.key)
        kept.append(s)
    return Kept(tuple(kept), overridden)
