"""[qa]: recording spot checks (录音抽查制度): how many recordings each reviewer checks, when
the service draws them, and how the draw leans towards the calls worth hearing; [qa.fines]
and [qa.bonus]: what the monthly assessment (月度考核) turns its findings into.

    [qa]
    checklists_dir = "config/qa"   # intake.toml and callback.toml
    daily_per_agent = 2            # a team lead's sample of each agent, every day
    weekly_per_agent = 5           # the QA lead's (客服部长) sample of each agent, every week
    draw_hour = 6                  # local hour the service draws yesterday's and last week's
    weight_violation = 3.0         # a call with a late answer or the agent hanging up first
    weight_complaint = 3.0         # a call with a complaint ticket
    weight_new_agent = 2.0         # an agent in their first month
    new_agent_days = 30

    [qa.fines]                     # yuan each (004 考核 处罚, 录音抽查 奖罚 4)
    [qa.bonus]                     # the 月奖 levels; see Bonus
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from callcenter.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Fines:
    """Yuan per finding, the department's table (004). `serious` is fined on top of the
    finding's own fine: a wrong address is 20 (考核 处罚 3) and, as a serious violation
    (严重违纪, 录音抽查 奖罚 4), 10 more, and from the fourth in a month another 50 each
    (`serious_after_third`). A hotline that reads the two rules as one sets serious = 0."""

    non_standard: int = 10  # 使用非标准用语: per recording with a scripted phrase missed
    late_answer: int = 10  # 接听电话超时
    bad_attitude: int = 50  # 接听电话态度不好
    hung_up_first: int = 50  # 主动挂断住户电话
    name_wrong: int = 10  # 记录住户姓名错误
    phone_wrong: int = 20  # 记录电话错误
    address_wrong: int = 20  # 记录地址错误
    wrong_station: int = 30  # 将报修传递给错误的维修站
    unreported_anomaly: int = 20  # 异常情况未主动上报 (漏报)
    # Marked by the reviewer. An invalid promise is fined as a serious violation only (its
    # own line 0); wrong guidance is a finding the table puts no price on.
    invalid_promise: int = 0  # 对外进行无效承诺
    wrong_guidance: int = 0  # 错误引导
    serious: int = 10  # 严重违纪 (地址填写错误, 维修站选错, 无效承诺): 每次均罚10元
    serious_after_third: int = 50  # 超过3次的每次加罚50元


@dataclass(frozen=True, slots=True)
class BonusLevel:
    """One 月奖 level and the most a month may hold to reach it (None: no limit)."""

    yuan: int
    max_fines: int | None = None  # yuan of fines in the month
    max_deducted_pct: float | None = None  # points deducted ÷ points of the sheets scored


_DEFAULT_LEVELS = (
    BonusLevel(500, 0, 3.0),
    BonusLevel(400, 30, 6.0),
    BonusLevel(300, 80, 10.0),
    BonusLevel(200, 150, 15.0),
    BonusLevel(100),
)


@dataclass(frozen=True, slots=True)
class Bonus:
    """The monthly bonus (月奖, 004 考核 奖励 1: five levels, 100-500 yuan). The domain names
    the levels only; the rule is ours: the highest level whose limits the month keeps within,
    then lifted one level for every `good_examples_per_step` good examples (闪光点, 奖罚 7:
    praised recordings count), at most `max_lift` levels. A month past every level's limits
    gets no bonus (0)."""

    levels: tuple[BonusLevel, ...] = _DEFAULT_LEVELS
    good_examples_per_step: int = 3  # 0: good examples do not lift
    max_lift: int = 1


@dataclass(frozen=True, slots=True)
class QaSettings:
    checklists_dir: str = "config/qa"
    daily_per_agent: int = 2
    weekly_per_agent: int = 5
    draw_hour: int = 6
    weight_violation: float = 3.0
    weight_complaint: float = 3.0
    weight_new_agent: float = 2.0
    new_agent_days: int = 30
    fines: Fines = field(default_factory=Fines)
    bonus: Bonus = field(default_factory=Bonus)

    @property
    def sampling_version(self) -> str:
        """What a draw depends on besides the date and the reviewer: a sample re-drawn with
        the same settings is the same sample (the audit of a draw)."""
        values = {
            k: v
            for k, v in asdict(self).items()
            if k not in ("checklists_dir", "fines", "bonus")  # not the draw's
        }
        digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()
        return digest[:12]


_INTS = {"daily_per_agent": (0, 100), "weekly_per_agent": (0, 100), "draw_hour": (0, 23),
         "new_agent_days": (0, 366)}  # fmt: skip
_MOST_YUAN = 100_000


def _whole(key: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(key, f"must be a whole number {lo}-{hi}, got {value!r}")
    return value


def _table(key: str, raw: Any, known: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(key, "must be a table")
    for name in raw:
        if name not in known:
            names = ", ".join(sorted(known))
            raise ConfigError(f"{key}.{name}", f"unknown key (known: {names})")
    return raw


def parse_fines(raw: Any) -> Fines:
    table = _table("qa.fines", raw, {f.name for f in fields(Fines)})
    return Fines(**{n: _whole(f"qa.fines.{n}", v, 0, _MOST_YUAN) for n, v in table.items()})


def _level(key: str, raw: Any) -> BonusLevel:
    table = _table(key, raw, {f.name for f in fields(BonusLevel)})
    if "yuan" not in table:
        raise ConfigError(f"{key}.yuan", "required: the level's bonus in yuan")
    pct = table.get("max_deducted_pct")
    if pct is not None and (
        isinstance(pct, bool) or not isinstance(pct, int | float) or not 0 <= pct <= 100
    ):
        raise ConfigError(f"{key}.max_deducted_pct", f"must be a number 0-100, got {pct!r}")
    fines = table.get("max_fines")
    return BonusLevel(
        yuan=_whole(f"{key}.yuan", table["yuan"], 1, _MOST_YUAN),
        max_fines=None if fines is None else _whole(f"{key}.max_fines", fines, 0, _MOST_YUAN),
        max_deducted_pct=None if pct is None else float(pct),
    )


def parse_bonus(raw: Any) -> Bonus:
    table = _table("qa.bonus", raw, {"level", "good_examples_per_step", "max_lift"})
    values: dict[str, Any] = {}
    if "level" in table:
        if not isinstance(table["level"], list) or not table["level"]:
            raise ConfigError("qa.bonus.level", "needs at least one [[qa.bonus.level]]")
        levels = tuple(_level(f"qa.bonus.level[{i}]", r) for i, r in enumerate(table["level"]))
        for i, (upper, lower) in enumerate(itertools.pairwise(levels)):
            # Listed from the best down: each level pays less and allows at least as much.
            where = f"qa.bonus.level[{i + 1}]"
            if lower.yuan >= upper.yuan:
                raise ConfigError(f"{where}.yuan", "levels go from the highest bonus down")
            for name in ("max_fines", "max_deducted_pct"):
                hi, lo = getattr(upper, name), getattr(lower, name)
                if (hi is None and lo is not None) or (None not in (hi, lo) and lo < hi):
                    raise ConfigError(f"{where}.{name}", "a lower level cannot be stricter")
        values["levels"] = levels
    for name in ("good_examples_per_step", "max_lift"):
        if name in table:
            values[name] = _whole(f"qa.bonus.{name}", table[name], 0, 100)
    return Bonus(**values)


def parse_qa(raw: Any) -> QaSettings:
    if not isinstance(raw, dict):
        raise ConfigError("qa", "must be a table")
    known = {f.name for f in fields(QaSettings)}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        key = f"qa.{name}"
        if name not in known:
            raise ConfigError(key, f"unknown key (known: {', '.join(sorted(known))})")
        if name == "fines":
            value = parse_fines(value)
        elif name == "bonus":
            value = parse_bonus(value)
        elif name == "checklists_dir":
            if not isinstance(value, str) or not value:
                raise ConfigError(key, "must be a directory's path")
        elif name in _INTS:
            lo, hi = _INTS[name]
            value = _whole(key, value, lo, hi)
        else:
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 1:
                raise ConfigError(key, f"must be a number >= 1 (1: no lean), got {value!r}")
            value = float(value)
        values[name] = value
    return QaSettings(**values)
