"""The two scripted-phrase checklists (录音抽查测评) as data: config/qa/intake.toml (35 points,
18 items) and config/qa/callback.toml (16 points, 7 items). Items are scored by deduction,
0 up to their points. A checklist is identified by its sheet, its `version` and the SHA-256 of
its file, so an evaluation always names exactly what it was scored against.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from callcenter.errors import ConfigError

Sheet = Literal["intake", "callback"]
SHEETS: tuple[Sheet, ...] = ("intake", "callback")
# The points each sheet totals on the department's paper (004): a file that differs is a typo.
TOTALS: dict[Sheet, int] = {"intake": 35, "callback": 16}
# What the service knows about a call and can pre-fill an item with (its evidence).
Known = Literal["name", "phone", "address", "station"]
KNOWN: tuple[Known, ...] = ("name", "phone", "address", "station")

_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_ITEM_KEYS = {"key", "points", "zh", "en", "phrases", "known", "holiday_opening"}
_TOP_KEYS = {"sheet", "version", "zh", "en", "item"}


@dataclass(frozen=True, slots=True)
class Item:
    key: str
    points: int
    zh: str
    en: str
    phrases: tuple[str, ...] = ()
    known: Known | None = None
    # The opening item: the holiday greeting (新年好 …) counts for 您好 on the holiday dates.
    holiday_opening: bool = False


@dataclass(frozen=True, slots=True)
class Checklist:
    sheet: Sheet
    version: int
    zh: str
    en: str
    items: tuple[Item, ...]
    sha256: str

    @property
    def total(self) -> int:
        return sum(i.points for i in self.items)

    def item(self, key: str) -> Item | None:
        return next((i for i in self.items if i.key == key), None)


def _text(key: str, value: Any, most: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > most:
        raise ConfigError(key, f"must be text of 1-{most} characters, got {value!r}")
    return value.strip()


def _item(where: str, raw: Any, seen: set[str]) -> Item:
    if not isinstance(raw, dict):
        raise ConfigError(where, "must be a table ([[item]])")
    unknown = sorted(set(raw) - _ITEM_KEYS)
    if unknown:
        names = ", ".join(sorted(_ITEM_KEYS))
        raise ConfigError(f"{where}.{unknown[0]}", f"unknown key (known: {names})")
    key = raw.get("key")
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise ConfigError(f"{where}.key", f"required: 1-32 of a-z 0-9 _ (got {key!r})")
    if key in seen:
        raise ConfigError(f"{where}.key", f"{key!r} is used twice")
    seen.add(key)
    points = raw.get("points")
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= 100:
        raise ConfigError(f"{where}.points", f"must be a whole number 1-100, got {points!r}")
    phrases = raw.get("phrases", [])
    if not isinstance(phrases, list) or not all(isinstance(p, str) and p for p in phrases):
        raise ConfigError(f"{where}.phrases", "must be an array of non-empty strings")
    known = raw.get("known")
    if known is not None and known not in KNOWN:
        raise ConfigError(f"{where}.known", f"must be one of {', '.join(KNOWN)}, got {known!r}")
    holiday = raw.get("holiday_opening", False)
    if not isinstance(holiday, bool):
        raise ConfigError(f"{where}.holiday_opening", "must be true or false")
    return Item(
        key=key,
        points=points,
        zh=_text(f"{where}.zh", raw.get("zh")),
        en=_text(f"{where}.en", raw.get("en")),
        phrases=tuple(phrases),
        known=next((k for k in KNOWN if k == known), None),
        holiday_opening=holiday,
    )


def parse(raw: dict[str, Any], name: str, sha256: str) -> Checklist:
    """A checklist from its TOML; every error names the file and key (`qa.intake.item[3]…`)."""
    prefix = f"qa.{name}"
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise ConfigError(
            f"{prefix}.{unknown[0]}", f"unknown key (known: {', '.join(sorted(_TOP_KEYS))})"
        )
    sheet = next((s for s in SHEETS if s == raw.get("sheet")), None)
    if sheet is None or sheet != name:
        raise ConfigError(f"{prefix}.sheet", f"must be {name!r}, got {raw.get('sheet')!r}")
    version = raw.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigError(f"{prefix}.version", f"must be a whole number >= 1, got {version!r}")
    items_raw = raw.get("item")
    if not isinstance(items_raw, list) or not items_raw:
        raise ConfigError(f"{prefix}.item", "needs at least one [[item]]")
    seen: set[str] = set()
    items = tuple(_item(f"{prefix}.item[{i}]", it, seen) for i, it in enumerate(items_raw))
    checklist = Checklist(
        sheet=sheet,
        version=version,
        zh=_text(f"{prefix}.zh", raw.get("zh")),
        en=_text(f"{prefix}.en", raw.get("en")),
        items=items,
        sha256=sha256,
    )
    if checklist.total != TOTALS[sheet]:
        raise ConfigError(
            f"{prefix}.item",
            f"the items total {checklist.total} points; the {sheet} sheet has {TOTALS[sheet]}",
        )
    return checklist


def load(directory: Path) -> dict[Sheet, Checklist]:
    """Both sheets from `directory` (config/qa): a missing or broken file stops start-up."""
    out: dict[Sheet, Checklist] = {}
    for sheet in SHEETS:
        path = directory / f"{sheet}.toml"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"qa.{sheet}", f"cannot read {path}: {exc.strerror}") from None
        try:
            raw = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"qa.{sheet}", f"{path} is not valid TOML: {exc}") from None
        out[sheet] = parse(raw, sheet, hashlib.sha256(data).hexdigest())
    return out
