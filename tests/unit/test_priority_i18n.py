"""The pages name every band, vulnerability and temperature state the API can send, in both
languages (priority.js builds t(`priority.band.${band}`), t(`vulnerability.${v}`),
t(`outdoor.why.${state}`)), and its lists are the model's."""

from __future__ import annotations

import re

import pytest

from callcenter.priority.model import BANDS, TEMPERATURE_STATES
from callcenter.tickets.model import VULNERABILITIES
from tests.unit.test_i18n_keys import LANGUAGES, WEB, load


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_band_vulnerability_and_temperature_state_has_words(lang: str) -> None:
    names = [f"priority.band.{b}" for b in BANDS]
    names += [f"vulnerability.{v}" for v in (*VULNERABILITIES, "none")]
    names += [f"outdoor.why.{s}" for s in TEMPERATURE_STATES]
    assert sorted(set(names) - load(lang).keys()) == []


def test_the_pages_know_the_models_bands_and_vulnerabilities() -> None:
    script = (WEB / "static" / "priority.js").read_text(encoding="utf-8")
    for name, values in (("BANDS", BANDS), ("VULNERABILITIES", VULNERABILITIES)):
        found = re.search(rf"export const {name} = \[(.*?)\];", script, re.S)
        assert found is not None, name
        assert tuple(re.findall(r'"(\w+)"', found.group(1))) == values
