"""The layering holds: the domain owns its port, route modules see only what they use."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "callcenter"

# The pure domain and its use cases: never the adapters, the broker or the web.
DOMAIN = [
    "calls/model.py",
    "calls/rings.py",
    "calls/stats.py",
    "calls/service.py",
    "calls/actions.py",
    "calls/alerting.py",
    "calls/deadlines.py",
    "auth/model.py",
    "recordings/model.py",
    "recordings/service.py",
    "recordings/analysis.py",
    "recordings/storage.py",
    "signals.py",
    "events.py",
    "privacy.py",
    # the spot checks' sheets, draw, pre-filled findings and fines: pure, tested alone
    "qa/model.py",
    "qa/checklists.py",
    "qa/sampling.py",
    "qa/periods.py",
    "qa/prefill.py",
    "qa/assessment.py",
    # what a recording says and where the script was heard in it (issue 16)
    "speech/model.py",
    "speech/pinyin.py",
    "speech/spotting.py",
    "speech/readback.py",
    # the wallboard's tokens and figures: read from the stores and the tracker, no edge
    "wallboard/model.py",
    "wallboard/service.py",
    # transcripts: the queue and its worker loop know the database, never an edge
    "speech/model.py",
    "speech/service.py",
    "speech/queue.py",
    # the line probe's verdicts and line state, and the SIP requests it builds (issue 17)
    "probe/model.py",
    "probe/dialog.py",
    "probe/service.py",
    # priority by the cold (issue 18): the score and the temperature's rules and state
    "priority/model.py",
    "priority/service.py",
    "priority/settings.py",
    # the one clock: steps, pauses and percentiles pure; its use cases know the stores only
    "timeline/model.py",
    "timeline/pauses.py",
    "timeline/figures.py",
    "timeline/service.py",
]
EDGES = ("callcenter.telephony", "callcenter.mqtt", "callcenter.web", "callcenter.app")
# Route modules: the web edge, but no PBX source, HEP listener or MQTT publisher.
ROUTES = [
    "calls/http.py",
    "auth/http.py",
    "recordings/http.py",
    "web/routes.py",
    "web/live.py",
    "qa/http.py",
    "qa/http_evaluations.py",
    "qa/http_assessment.py",
    "wallboard/http.py",
    "wallboard/live.py",
    "speech/http.py",
    "probe/http.py",
    "ha/http.py",
    "priority/http.py",
    "timeline/http.py",
]


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


@pytest.mark.parametrize("module", DOMAIN)
def test_domain_module_imports_no_edge(module: str) -> None:
    bad = sorted(i for i in imports(PACKAGE / module) if i.startswith(EDGES))
    assert bad == [], f"{module} imports {bad}"


def module_file(name: str) -> Path | None:
    rel = Path(*name.split(".")[1:])
    for candidate in (PACKAGE / rel.with_suffix(".py"), PACKAGE / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def reachable(module: str) -> set[str]:
    """Every callcenter module `module` imports, directly or through others."""
    seen: set[str] = set()
    todo = [PACKAGE / module]
    while todo:
        for name in imports(todo.pop()):
            if name.startswith("callcenter.") and name not in seen:
                seen.add(name)
                path = module_file(name)
                if path is not None:
                    todo.append(path)
    return seen


@pytest.mark.parametrize("module", ROUTES)
def test_route_module_reaches_no_source_listener_or_publisher(module: str) -> None:
    bad = sorted(
        i
        for i in reachable(module)
        if i.startswith(("callcenter.telephony", "callcenter.mqtt", "callcenter.app"))
    )
    assert bad == [], f"{module} depends on {bad}"


def test_masking_is_its_own_module_not_an_auth_rule() -> None:
    for client in ("telephony/ami/client.py", "telephony/esl/client.py"):
        assert not any(i.startswith("callcenter.auth") for i in imports(PACKAGE / client))
