"""The tickets and stations capabilities keep the layering: their domain modules import no
edge, their route modules reach no PBX source, listener or publisher."""

from __future__ import annotations

import pytest

from tests.unit.test_layering import EDGES, PACKAGE, imports, reachable

DOMAIN = [
    "stations/address.py",
    "stations/model.py",
    "stations/store.py",
    "stations/service.py",
    "tickets/model.py",
    "tickets/store.py",
    "tickets/schemas.py",
    "tickets/service.py",
]
ROUTES = ["stations/http.py", "tickets/http.py"]


@pytest.mark.parametrize("module", DOMAIN)
def test_domain_module_imports_no_edge(module: str) -> None:
    bad = sorted(i for i in imports(PACKAGE / module) if i.startswith(EDGES))
    assert bad == [], f"{module} imports {bad}"


@pytest.mark.parametrize("module", ROUTES)
def test_route_module_reaches_no_source_listener_or_publisher(module: str) -> None:
    bad = sorted(
        i
        for i in reachable(module)
        if i.startswith(("callcenter.telephony", "callcenter.mqtt", "callcenter.app"))
    )
    assert bad == [], f"{module} depends on {bad}"
