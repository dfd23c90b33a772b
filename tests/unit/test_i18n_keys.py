"""The page dictionaries (zh-CN, en) agree, and every string the pages ask for exists."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import get_args, get_type_hints

import pytest

from callcenter.anomalies.model import ANOMALY_KINDS
from callcenter.auth.model import Role
from callcenter.config import PBX_KINDS
from callcenter.events import ViolationKind
from callcenter.orders.model import DEADLINE_KINDS, ORDER_STATUSES, StationAction
from callcenter.speech.model import Found
from callcenter.telephony.source import State as SourceState
from callcenter.timeline.model import StepName
from callcenter.timeline.pauses import PAUSE_REASONS

WEB = Path(__file__).resolve().parents[2] / "callcenter" / "web"
DICTIONARIES = WEB / "static" / "i18n"
LANGUAGES = ("zh-CN", "en")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Keys named in the pages: data-i18n="…", data-i18n-title="…", … and t("…") in scripts.
HTML_KEY = re.compile(r'data-i18n(?:-[a-z-]+)?="([^"]+)"')
JS_KEY = re.compile(r"""\bt\(\s*["']([^"']+)["']""")


def load(lang: str) -> dict[str, str]:
    with (DICTIONARIES / f"{lang}.json").open(encoding="utf-8") as fh:
        data: dict[str, str] = json.load(fh)
    return data


def placeholders(text: str) -> set[str]:
    # The ring limit may be spelled in digits ({limit}) or as a Chinese numeral ({limit_cn},
    # as in the domain term 响铃三声): the page passes both, each language picks.
    return set(PLACEHOLDER.findall(text)) - {"limit", "limit_cn"}


def used_keys() -> set[str]:
    keys: set[str] = set()
    for page in (WEB / "templates").glob("*.html"):
        keys |= set(HTML_KEY.findall(page.read_text(encoding="utf-8")))
    for script in (WEB / "static").glob("*.js"):
        keys |= set(JS_KEY.findall(script.read_text(encoding="utf-8")))
    return keys


def test_both_dictionaries_have_the_same_keys() -> None:
    zh, en = load("zh-CN"), load("en")
    assert sorted(zh.keys() - en.keys()) == [], "missing in en.json"
    assert sorted(en.keys() - zh.keys()) == [], "missing in zh-CN.json"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_string_is_non_empty_text(lang: str) -> None:
    for key, value in load(lang).items():
        assert isinstance(value, str) and value.strip(), f"{lang}: {key} is empty"


def test_translations_use_the_same_placeholders() -> None:
    zh, en = load("zh-CN"), load("en")
    for key in zh.keys() & en.keys():
        assert placeholders(zh[key]) == placeholders(en[key]), key


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_key_the_pages_use_exists(lang: str) -> None:
    keys = used_keys()
    assert "ringing.title" in keys  # the pattern finds the pages' keys at all
    assert sorted(keys - load(lang).keys()) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_role_violation_kind_and_status_has_a_label(lang: str) -> None:
    names = [f"role.{r.value}" for r in Role]
    names += [f"kind.{k}" for k in get_args(ViolationKind)]
    # The sources panel names each state (t(`source_state.${state}`)) and kind of source.
    names += [f"source_state.{s}" for s in get_args(SourceState)]
    names += [f"source_kind.{k}" for k in PBX_KINDS]
    names += [f"conn.{s}" for s in ("connecting", "live", "reconnecting")]
    names += [f"error.{c}" for c in ("bad-credentials", "missing-field", "network")]
    assert sorted(set(names) - load(lang).keys()) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_station_portal_names_every_order_status_step_and_action(lang: str) -> None:
    """station*.js build these keys (t(`portal.status.${order.status}`)): each status an
    order can be in, each deadline, each step a station takes and each line of history."""
    actions = get_args(StationAction)
    names = [f"portal.status.{s}" for s in ORDER_STATUSES]
    names += [f"portal.step.{k.removesuffix('_late')}" for k in DEADLINE_KINDS]
    names += [f"portal.ok.{a}" for a in actions]
    names += [f"portal.action.{a}" for a in (*actions, "dispatched", "recalled", "delivered")]
    assert sorted(set(names) - load(lang).keys()) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_report_form_names_every_figure_it_prints(lang: str) -> None:
    """reports-form.js builds these keys: each anomaly and violation kind the report counts,
    the station columns of each kind of report."""
    names = [f"report.anomaly.{k}" for k in ANOMALY_KINDS]
    names += [f"kind.{k}" for k in get_args(ViolationKind)]
    names += [f"report.col.{c}.{kind}" for c in ("reports", "repairs")
              for kind in ("daily", "weekly", "monthly", "season")]  # fmt: skip
    names += [f"report.title.{kind}" for kind in ("daily", "weekly", "monthly", "season")]
    assert sorted(set(names) - load(lang).keys()) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_one_clock_names_every_step_and_every_reason_to_wait(lang: str) -> None:
    """desk-clock.js builds t(`clock.step.${step}`) and both it and station-pause.js
    t(`pause.reason.${reason}`); the portal names the pause's steps in the history."""
    names = [f"clock.step.{s}" for s in get_args(StepName)]
    names += [f"pause.reason.{r}" for r in PAUSE_REASONS]
    names += [f"portal.action.{a}" for a in ("paused", "resumed")]
    names += [f"portal.ok.{a}" for a in ("pause", "resume")]
    assert sorted(set(names) - load(lang).keys()) == []


def test_the_live_page_knows_every_source_state_and_kind() -> None:
    """live-panels.js colours each state and labels each kind the server can report."""
    script = (WEB / "static" / "live-panels.js").read_text(encoding="utf-8")
    tones = re.search(r"const SOURCE_TONES = \{(.*?)\};", script, re.S)
    kinds = re.search(r"const SOURCE_KINDS = \[(.*?)\];", script, re.S)
    assert tones and kinds
    assert sorted(re.findall(r"(\w+):", tones.group(1))) == sorted(get_args(SourceState))
    assert sorted(re.findall(r'"(\w+)"', kinds.group(1))) == sorted(PBX_KINDS)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_transcript_view_names_how_each_phrase_was_heard(lang: str) -> None:
    """transcript-view.js builds t(`tx.how.${found.how}`) for each way spotting hears a
    phrase, and transcript-states.js names the failures it knows."""
    names = [f"tx.how.{how}" for how in get_args(get_type_hints(Found)["how"])]
    names += [f"tx.reason.{code}" for code in ("corrupt-audio", "worker-died", "abandoned")]
    assert sorted(set(names) - load(lang).keys()) == []


PRODUCT = {"zh-CN": "供暖报修热线", "en": "Heating Repair Hotline"}
# Names the hotline went by before it had one: 供热抢修热线, "Repair hotline".
OLD_NAMES = re.compile(r"供热|抢修|\bRepair hotline\b|\bHeating repair hotline\b")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_hotline_has_one_name_everywhere(lang: str) -> None:
    words = load(lang)
    assert words["app.name"] == PRODUCT[lang]
    for key in ("page.login", "page.live"):
        assert words[key].endswith(f" — {PRODUCT[lang]}"), key
    assert [k for k, v in words.items() if OLD_NAMES.search(v)] == []


def test_the_pages_and_readme_use_the_same_name() -> None:
    for page in (WEB / "templates").glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not OLD_NAMES.search(text), page.name
        assert f"<title>{PRODUCT['en']} ({PRODUCT['zh-CN']})</title>" in text, page.name
    readme = (WEB.parents[1] / "README.md").read_text(encoding="utf-8")
    opening = "\n".join(readme.splitlines()[:5])
    assert PRODUCT["zh-CN"] in opening and PRODUCT["en"] in opening
