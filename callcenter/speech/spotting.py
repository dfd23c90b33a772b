"""Phrase spotting (issue 16), pure: where in a transcript each checklist item's scripted
phrases and the agent's read-backs were heard — evidence for the scoring desk, never a score.

    find_phrases(transcript, {item: [phrase, …]}, *, tolerance=0.2) -> list[Found]
    find_readbacks(transcript, *, address=None, name=None, phone=None, tolerance=0.2)
        -> list[Found]                                      (readback.py)
    expected_phrases(checklist, *, on, holidays=(), work_number=None, placeholders=None)
        -> dict[item key, list[phrase]]
    evidence(checklist, transcript, *, on, holidays=(), work_number=None, placeholders=None,
             address=None, name=None, phone=None, tolerance=0.2) -> dict[item key, Found | None]

A phrase is listened for clause by clause (split on ，。！？、 and on a placeholder nobody
filled): each clause by its characters (confidence 1), else by its toneless pinyin within
`tolerance` syllable edits per syllable (homophones the recognizer wrote: 停滞→停止). The
clauses heard in order, each within MAX_PAUSE of the previous, make one Found whose confidence
is the clauses' mean score (a clause not heard scores 0: two of three heard exactly is 2/3)
and whose `missing` names the clauses not heard; it counts only if a clause of ANCHOR_UNITS
syllables or more is among them. Only Mandarin transcripts are matched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from callcenter.config import Holiday
from callcenter.qa.checklists import Checklist
from callcenter.qa.prefill import DEFAULT_OPENING
from callcenter.speech import pinyin
from callcenter.speech.model import Found, Transcript
from callcenter.speech.pinyin import DEFAULT_TOLERANCE, Heard, Hit, Unit
from callcenter.speech.readback import READ_BACK_ITEMS, find_readbacks

__all__ = ["DEFAULT_TOLERANCE", "evidence", "expected_phrases", "find_phrases", "find_readbacks"]

# Seconds of silence or other talk allowed between two clauses of one phrase (a resident's
# "好的" between the closing's sentences), counted again for each clause not heard between.
MAX_PAUSE = 5.0
# A phrase is heard only if a clause of this many syllables is: 您好 or 再见 alone, which
# anyone says, is no evidence of the opening or the closing.
ANCHOR_UNITS = 4
_BREAKS = re.compile(r"[，。！？、；：,.!?;:]+|\{[^{}]*\}")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
WORK_NUMBER = "工号"


@dataclass(frozen=True, slots=True)
class _Clause:
    text: str
    units: tuple[Unit, ...]


def clauses(phrase: str) -> list[str]:
    """The clauses listened for: a one-syllable clause (好！) is left out, being heard
    everywhere, unless the phrase has nothing longer."""
    parts = [p for p in (_BREAKS.split(phrase)) if pinyin.units(p)]
    longer = [p for p in parts if len(pinyin.units(p)) > 1]
    return longer or parts


@dataclass(frozen=True, slots=True)
class _Node:
    clause: int
    hit: Hit


# best[node][anchored]: (score, -span in units, previous node or -1, its anchored flag)
_Best = tuple[float, int, int, bool]


def _chain(heard: Heard, nodes: Sequence[_Node], anchors: set[int]) -> tuple[float, list[_Node]]:
    """The clauses heard in order and close together that score most (then span least) and
    include an anchor clause; (0, []) when there is none."""
    best: list[list[_Best | None]] = []
    for n, node in enumerate(nodes):
        own = node.clause in anchors
        row: list[_Best | None] = [None, None]
        row[own] = (node.hit.score, -(node.hit.last - node.hit.first), -1, False)
        for p in range(n):
            prev = nodes[p]
            if prev.clause >= node.clause or prev.hit.last > node.hit.first:
                continue
            pause = heard.starts[node.hit.first] - heard.ends[prev.hit.last - 1]
            if pause > MAX_PAUSE * (node.clause - prev.clause):
                continue
            for anchored in (False, True):
                before = best[p][anchored]
                if before is None:
                    continue
                span = before[1] - (node.hit.last - prev.hit.last)
                option = (before[0] + node.hit.score, span, p, anchored)
                now = row[anchored or own]
                if now is None or option[:2] > now[:2]:
                    row[anchored or own] = option
        best.append(row)
    ends = [(row[True], n) for n, row in enumerate(best) if row[True] is not None]
    if not ends:
        return 0.0, []
    top, n = max(ends, key=lambda e: (e[0][0], e[0][1], -e[1]))  # type: ignore[index]
    assert top is not None
    chain: list[_Node] = []
    entry: _Best | None = top
    while entry is not None:
        chain.append(nodes[n])
        n, flag = entry[2], entry[3]
        entry = best[n][flag] if n >= 0 else None
    return top[0], chain[::-1]


def _phrase_found(
    heard: Heard, item: str, phrase: str, tolerance: float, most: int = 10
) -> list[Found]:
    parts = [_Clause(c, tuple(pinyin.units(c))) for c in clauses(phrase)]
    if not parts:
        return []
    longest = max(len(c.units) for c in parts)
    anchors = {i for i, c in enumerate(parts) if len(c.units) >= min(ANCHOR_UNITS, longest)}
    nodes = [
        _Node(i, hit)
        for i, c in enumerate(parts)
        for hit in pinyin.search(c.units, heard.units, tolerance)
    ]
    nodes.sort(key=lambda n: (n.hit.first, n.clause))
    out: list[Found] = []
    while nodes and len(out) < most:
        score, chain = _chain(heard, nodes, anchors)
        if not chain:
            break
        first, last = chain[0].hit.first, chain[-1].hit.last
        start, end = heard.span(first, last)
        heard_clauses = {n.clause for n in chain}
        out.append(
            Found(
                item=item,
                phrase=phrase,
                heard=heard.text(first, last),
                start=round(start, 3),
                end=round(end, 3),
                confidence=round(score / len(parts), 3),
                how="exact" if all(n.hit.exact for n in chain) else "pinyin",
                clauses=len(parts),
                missing=tuple(c.text for i, c in enumerate(parts) if i not in heard_clauses),
            )
        )
        # Said again later (the closing after a resident's question): look past this one.
        nodes = [n for n in nodes if n.hit.last <= first or last <= n.hit.first]
    return out


def find_phrases(
    transcript: Transcript,
    phrases: Mapping[str, Sequence[str]],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
) -> list[Found]:
    """Every place each item's phrases were heard, in the order heard. `phrases` maps an
    item's key to its phrases, placeholders filled ({工号} → 007; one left as is splits the
    phrase there). Nothing for a transcript that is not Mandarin."""
    pinyin.max_edits(0, tolerance)  # a bad tolerance fails here, not on the first clause
    if not transcript.mandarin:
        return []
    heard = pinyin.heard(transcript)
    out: list[Found] = []
    for item, texts in phrases.items():
        # An item's phrases are ways of saying one thing (007 or 007号): where two were
        # heard in the same words, the more confident tells.
        candidates = [
            f for text in dict.fromkeys(texts) for f in _phrase_found(heard, item, text, tolerance)
        ]
        kept: list[Found] = []
        for f in sorted(candidates, key=lambda f: (-f.confidence, f.start)):
            if all(f.end <= k.start or k.end <= f.start for k in kept):
                kept.append(f)
        out += kept
    return sorted(out, key=lambda f: (f.start, f.item))


def expected_phrases(
    checklist: Checklist,
    *,
    on: date,
    holidays: Sequence[Holiday] = (),
    work_number: str | None = None,
    placeholders: Mapping[str, str] | None = None,
) -> dict[str, list[str]]:
    """Each item's phrases as the agent should say them on `on` (the call's local date):
    on a [desk] holiday the opening's 您好 is the holiday greeting (新年好 …), as the script
    asks and the desk shows (qa/prefill.opening_json); {工号} is the work number, said with
    or without 号 (the desk shows 007号); other placeholders from `placeholders`."""
    values = dict(placeholders or {})
    holiday = next((h for h in holidays if h.start <= on <= h.end), None)
    out: dict[str, list[str]] = {}
    for item in checklist.items:
        texts: list[str] = []
        for phrase in item.phrases:
            if item.holiday_opening and holiday is not None:
                phrase = phrase.replace(DEFAULT_OPENING, holiday.opening, 1)
            fills = [values]
            if work_number:
                fills = [values | {WORK_NUMBER: w} for w in (work_number, f"{work_number}号")]
            texts += [_fill(phrase, fill) for fill in fills]
        if texts:
            out[item.key] = list(dict.fromkeys(texts))
    return out


def _fill(phrase: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), phrase)


def _better(a: Found, b: Found | None) -> bool:
    """The more confident; between equals, for a read-back the later (the resident says it
    first, the agent reads it back), for a phrase the earlier."""
    if b is None or a.confidence != b.confidence:
        return b is None or a.confidence > b.confidence
    return a.start > b.start if a.how == "readback" else a.start < b.start


def evidence(
    checklist: Checklist,
    transcript: Transcript,
    *,
    on: date,
    holidays: Sequence[Holiday] = (),
    work_number: str | None = None,
    placeholders: Mapping[str, str] | None = None,
    address: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> dict[str, Found | None]:
    """The best evidence for each item listened for: the items with phrases, and the
    read-back items (READ_BACK_ITEMS) whose ticket field is given. None: listened for, not
    heard (the desk shows these first); an item missing from the dict has nothing to listen
    for (seat, station …). Evidence only: the reviewer scores."""
    phrases = expected_phrases(
        checklist, on=on, holidays=holidays, work_number=work_number, placeholders=placeholders
    )
    given = {"address": address, "name": name, "phone": phone}
    out: dict[str, Found | None] = {}
    for item in checklist.items:
        kind = READ_BACK_ITEMS.get(item.key)
        if item.key in phrases or (kind is not None and given[kind]):
            out[item.key] = None
    found = find_phrases(transcript, phrases, tolerance=tolerance)
    if any(READ_BACK_ITEMS.get(key) for key in out):
        found += find_readbacks(
            transcript, address=address, name=name, phone=phone, tolerance=tolerance
        )
    for f in found:
        if f.item in out and _better(f, out[f.item]):
            out[f.item] = f
    return out
