"""The charts' words in zh-CN (the hotline's own terms: 接通率, 响铃次数, 未结工单) and English,
and how a day, a rate and a time are written in each."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal, get_args
from zoneinfo import ZoneInfo

Lang = Literal["zh-CN", "en"]
LANGS: tuple[Lang, ...] = get_args(Lang)

_TEXT: dict[str, tuple[str, str]] = {
    # hourly
    "hourly.title": ("每小时来电与接通率", "Calls and answer rate by hour"),
    "hourly.rate": ("{limit}声内接通率", "answered within {limit} rings"),
    "hourly.offered": ("来电量", "calls offered"),
    "hourly.hour": ("时", "hour"),
    "hourly.day": ("当日 {date}", "{date}"),
    "hourly.last_week": ("上周同日 {date}", "a week before, {date}"),
    "hourly.headline": (
        "来电 {offered} · 接通率 {rate}",
        "{offered} calls · {rate} in time",
    ),
    "hourly.desc": (
        "{title}（{date}，对比上周同日 {before}，接通率为{limit}声内接通）。",
        "{title} on {date}, against {before} (rate: answered within {limit} rings).",
    ),
    "hourly.desc_hour": (
        "{hour}时 来电 {offered}（上周 {b_offered}），接通率 {rate}（上周 {b_rate}）",
        "{hour}:00 {offered} calls (week before {b_offered}), rate {rate} (week before {b_rate})",
    ),
    # rings
    "rings.title": ("接听响铃次数", "Rings before answering"),
    "rings.bin": ("{n}声", "{n}"),
    "rings.last": ("{n}声+", "{n}+"),
    "rings.abandoned": ("放弃", "abandoned"),
    "rings.unanswered": ("未接", "rang out"),
    "rings.axis": ("接听时的响铃次数", "ring the call was answered on"),
    "rings.calls": ("通数", "calls"),
    "rings.limit": ("限{limit}声", "limit: {limit} rings"),
    "rings.within": ("{limit}声内接听", "answered within {limit} rings"),
    "rings.late": ("超过{limit}声接听", "answered after ring {limit}"),
    "rings.lost": ("未接通", "not answered"),
    "rings.desc_bin": ("{ring}接听 {n} 通", "answered on ring {ring}: {n}"),
    "rings.headline": (
        "接听 {answered} · {limit}声内 {within} · 放弃 {abandoned} · 未接 {unanswered}",
        "{answered} answered · {within} within {limit} rings · {abandoned} abandoned · "
        "{unanswered} rang out",
    ),
    # agents
    "agents.title": ("坐席接听", "Calls answered by agent"),
    "agents.answered": ("接听量", "calls answered"),
    "agents.time": ("接听用时（秒）", "time to answer (s)"),
    "agents.median": ("中位数", "median"),
    "agents.p90": ("90%分位", "90th percentile"),
    "agents.figures": ("中位/90%（秒）", "median / 90th (s)"),
    "agents.limit": ("限{seconds}秒", "limit {seconds} s"),
    "agents.headline": (
        "{agents} 名坐席 · 接听 {answered}",
        "{agents} agents · {answered} answered",
    ),
    "agents.none": ("暂无接听", "no calls answered"),
    "agents.desc_row": (
        "{name}：接听 {answered}，用时中位数 {median} 秒，90%分位 {p90} 秒",
        "{name}: {answered} answered, median {median} s, 90th percentile {p90} s",
    ),
    # stations
    "stations.title": ("各站未结工单", "Open orders by station"),
    "stations.overdue": ("超时", "overdue"),
    "stations.sent": ("待接单", "not yet accepted"),
    "stations.accepted": ("已接单", "accepted"),
    "stations.headline": ("未结工单 {total}", "{total} open orders"),
    "stations.none": ("无未结工单", "no open orders"),
    "stations.desc_row": (
        "{name}：未结 {total}（超时 {overdue}，待接单 {sent}，已接单 {accepted}）",
        "{name}: {total} open ({overdue} overdue, {sent} not yet accepted, {accepted} accepted)",
    ),
    # anomalies
    "anomalies.title": ("异常事件", "Anomalies"),
    "anomalies.open": ("未结", "open"),
    "anomalies.closed": ("已结", "closed"),
    "anomalies.headline": (
        "共 {total} · 未结 {open} · 已结 {closed}",
        "{total} · {open} open · {closed} closed",
    ),
    "anomalies.none": ("暂无异常事件", "no anomalies"),
    "anomalies.desc_row": (
        "{kind}：未结 {open}，已结 {closed}",
        "{kind}: {open} open, {closed} closed",
    ),
    # shared
    "no_calls": ("暂无来电", "no calls"),
    "as_of_end": ("截至当日结束", "at the end of the day"),
    "as_of_now": ("截至 {time}", "as of {time}"),
    "none": ("无", "none"),
    "sep": ("；", "; "),
}
# 004 九's nine anomalies, short enough for a bar's label (the number keeps the order).
ANOMALY_SHORT: dict[str, tuple[str, str]] = {
    "accept_late": ("接单超时", "accept late"),
    "contact_late": ("联系住户超时", "contact late"),
    "repair_late": ("维修超4小时", "repair over 4 h"),
    "station_unreachable": ("维修站无人接听", "station unreachable"),
    "praise_repairman": ("表扬维修人员", "praise: repairman"),
    "complaint_repairman": ("投诉维修人员", "complaint: repairman"),
    "complaint_fee_collector": ("投诉收费人员", "complaint: fee collector"),
    "suggestion": ("意见或建议", "suggestion"),
    "forwarded": ("供暖办转达", "forwarded by the office"),
}
_WEEKDAYS = (("周一", "Mon"), ("周二", "Tue"), ("周三", "Wed"), ("周四", "Thu"),
             ("周五", "Fri"), ("周六", "Sat"), ("周日", "Sun"))  # fmt: skip
# Not strftime("%b"): it follows the process's locale, and a chart must not.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def tr(lang: Lang, key: str, **values: object) -> str:
    zh, en = _TEXT[key]
    return (zh if lang == "zh-CN" else en).format(**values)


def colon(lang: Lang) -> str:
    return "：" if lang == "zh-CN" else ": "


def sentence(lang: Lang, parts: Sequence[str]) -> str:
    """The first part, then the others joined by "；" / "; ", closed by "。" / "."."""
    return parts[0] + tr(lang, "sep").join(parts[1:]) + ("。" if lang == "zh-CN" else ".")


def anomaly_name(lang: Lang, kind: str, number: int) -> str:
    zh, en = ANOMALY_SHORT.get(kind, (kind, kind))
    return f"{number} {zh if lang == 'zh-CN' else en}"


def day_text(lang: Lang, d: date) -> str:
    """2026年11月23日 周一 / Mon 23 Nov 2026."""
    zh, en = _WEEKDAYS[d.weekday()]
    if lang == "zh-CN":
        return f"{d.year}年{d.month}月{d.day}日 {zh}"
    return f"{en} {d.day} {_MONTHS[d.month - 1]} {d.year}"


def short_day(lang: Lang, d: date) -> str:
    zh, en = _WEEKDAYS[d.weekday()]
    return (
        f"{d.month}月{d.day}日 {zh}" if lang == "zh-CN" else f"{en} {d.day} {_MONTHS[d.month - 1]}"
    )


def rate_text(lang: Lang, rate: float | None) -> str:
    """92.3% / 92.3 %; "—" where nothing counts."""
    if rate is None:
        return "—"
    return f"{rate * 100:.1f}%" if lang == "zh-CN" else f"{rate * 100:.1f} %"


def as_of_text(lang: Lang, as_of: datetime, complete: bool, timezone: str) -> str:
    if complete:
        return tr(lang, "as_of_end")
    return tr(lang, "as_of_now", time=as_of.astimezone(ZoneInfo(timezone)).strftime("%H:%M"))


def seconds_text(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.1f}"
