"""Which phone a leg is, on real SIP: SIPp phones whose Contact user is not their extension
("sipp", a MAC-like id) ring through a real Kamailio, statically routed, registered with its
registrar (`save`/`lookup("location")`: the Request-URI becomes the phone's Contact) or
reached through the hotline's hunt group (To is 96069); its siptrace mirrors every message
as HEP3 to the service. Also: the agent's re-INVITE after answering is no second call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientSession, web

from callcenter.app import SERVICES, Services, build
from callcenter.auth import service as auth_service
from tests.conftest import settings_for
from tests.integration import bench
from tests.integration.bench.kamailio import HOTLINE, HOTLINE_EXTENSION
from tests.integration.bench.processes import log_tail
from tests.integration.bench.sipp import SippProcess, register_phone, start_sipp
from tests.waiting import eventually

CYCLE = 0.4
AGENTS = {2001: "li.na", 2002: "wang.wei"}
MAC_LIKE = "0004f2abcdef"


@dataclass
class Service:
    svc: Services
    base: str
    http: ClientSession
    headers: dict[str, str]

    async def calls(self) -> list[dict[str, Any]]:
        await self.svc.calls().settled()
        async with self.http.get(self.base + "/api/calls", headers=self.headers) as response:
            assert response.status == 200, await response.text()
            result: list[dict[str, Any]] = await response.json()
            return result

    async def closed(self, count: int) -> bool:
        calls = await self.calls()
        return len(calls) == count and all(c["ended_at"] is not None for c in calls)


@pytest.fixture
def registrar(start_kamailio: bench.KamailioFactory, hep_port: int) -> bench.KamailioProxy:
    """A proxy of its own: the phones registered here must not reroute the shared proxy's
    statically routed extensions in other tests."""
    return start_kamailio(hep_port, instance="registrar")


@pytest.fixture
async def service(hep_port: int, fresh_postgres_url: str) -> AsyncIterator[Service]:
    settings = settings_for(
        fresh_postgres_url,
        sip={"hep_listen": f"127.0.0.1:{hep_port}"},
        rings={"cycle_seconds": CYCLE, "limit": 3},
    )
    app = build(settings, migrate=True, mqtt=False)
    runner = web.AppRunner(app)
    await runner.setup()
    port = bench.free_tcp_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    svc = app[SERVICES]
    for ext, name in AGENTS.items():
        await auth_service.add_user(svc.db(), svc.clock, name, "agent", "password1", str(ext))
    await auth_service.add_user(svc.db(), svc.clock, "lead", "team_lead", "password1")
    token = await auth_service.create_token(svc.db(), svc.clock, "lead")
    await svc.directory.reload(svc.db())
    async with ClientSession() as http:
        yield Service(svc, f"http://127.0.0.1:{port}", http, {"Authorization": f"Bearer {token}"})
    await runner.cleanup()


@dataclass
class Phone:
    extension: int
    contact_user: str
    port: int


@pytest.fixture
async def registered(
    registrar: bench.KamailioProxy, service: Service
) -> AsyncIterator[list[Phone]]:
    """Phones to register with the registrar (after the service listens, so that it sees the
    REGISTER); every one is unregistered at the end, even when the test fails."""
    phones: list[Phone] = []
    yield phones
    for phone in phones:
        await register_phone(
            registrar.address,
            phone.extension,
            contact_user=phone.contact_user,
            local_port=phone.port,
            expires=0,
        )


async def register(
    registrar: bench.KamailioProxy, phones: list[Phone], extension: int, contact_user: str
) -> Phone:
    phone = Phone(extension, contact_user, bench.free_udp_port())
    result = await register_phone(
        registrar.address, extension, contact_user=contact_user, local_port=phone.port
    )
    assert result.ok and any("REGISTERED" in line for line in result.log_lines), result.describe()
    phones.append(phone)
    return phone


async def call(
    proxy: bench.KamailioProxy,
    dial: str | int,
    *,
    phone_port: int,
    contact_user: str,
    uas: str = "uas_answer.xml",
    uac: str = "uac_caller_hangup.xml",
    uas_vars: dict[str, object] | None = None,
    uac_vars: dict[str, object] | None = None,
) -> str:
    """One call from a resident dialling `dial` to the phone SIPp UAS on `phone_port` whose
    Contact user is `contact_user`; returns the Call-ID once both ends finished cleanly."""
    phone = await start_sipp(
        uas,
        local_port=phone_port,
        service=contact_user,
        variables=uas_vars or {"answer_ms": 200},
        timeout_s=15,
        label=f"phone-{contact_user}",
    )
    procs: list[SippProcess] = [phone]
    try:
        await phone.wait_bound()
        caller = await start_sipp(
            uac,
            remote=proxy.address,
            variables=uac_vars or {"hold_ms": 300},
            inject=[(dial, bench.DEFAULT_CALLER)],
            timeout_s=15,
            label="caller",
        )
        procs.append(caller)
        uac_result = await caller.wait(20)
        uas_result = await phone.wait(5)
    finally:
        for proc in procs:
            proc.kill()
    assert uac_result.ok and uas_result.ok, (
        f"{uac_result.describe()}\n{uas_result.describe()}\n"
        f"kamailio:\n{log_tail(proxy.log_path, 15)}"
    )
    assert uac_result.finals() == {uac_result.call_ids()[0]: 200}
    return uac_result.call_ids()[0]


def attributed_to(calls: Sequence[dict[str, Any]], call_id: str, extension: int) -> None:
    (c,) = [c for c in calls if c["sip_call_id"] == call_id]
    assert c["outcome"] == "answered"
    assert c["extension"] == str(extension) and c["agent"] == AGENTS[extension]
    (leg,) = c["legs"]
    assert leg["extension"] == str(extension) and leg["agent"] == AGENTS[extension]
    assert leg["outcome"] == "answered"


async def test_statically_routed_phone_whose_contact_user_is_sipp(
    service: Service, kamailio: bench.KamailioProxy
) -> None:
    call_id = await call(kamailio, 2001, phone_port=kamailio.agent_port(2001), contact_user="sipp")
    await eventually(lambda: service.closed(1))
    attributed_to(await service.calls(), call_id, 2001)


async def test_hunt_group_to_a_statically_routed_phone(
    service: Service, kamailio: bench.KamailioProxy
) -> None:
    call_id = await call(
        kamailio,
        HOTLINE,
        phone_port=kamailio.agent_port(HOTLINE_EXTENSION),
        contact_user="sipp",
    )
    await eventually(lambda: service.closed(1))
    calls = await service.calls()
    assert calls[0]["dialed"] == HOTLINE
    attributed_to(calls, call_id, HOTLINE_EXTENSION)


async def test_registered_phone_with_a_mac_like_contact(
    service: Service, registrar: bench.KamailioProxy, registered: list[Phone]
) -> None:
    phone = await register(registrar, registered, 2002, MAC_LIKE)
    call_id = await call(registrar, 2002, phone_port=phone.port, contact_user=MAC_LIKE)
    await eventually(lambda: service.closed(1))
    attributed_to(await service.calls(), call_id, 2002)
    # The proxy did route by the registration: it rewrote the Request-URI to the Contact.
    assert f"-> sip:{MAC_LIKE}@127.0.0.1:{phone.port}" in registrar.log_text()


async def test_hunt_group_to_a_registered_phone_whose_contact_user_is_sipp(
    service: Service, registrar: bench.KamailioProxy, registered: list[Phone]
) -> None:
    # Not the port the proxy would route 2001 to statically: only the binding reaches it.
    phone = await register(registrar, registered, HOTLINE_EXTENSION, "sipp")
    assert phone.port != registrar.agent_port(HOTLINE_EXTENSION)
    call_id = await call(registrar, HOTLINE, phone_port=phone.port, contact_user="sipp")
    await eventually(lambda: service.closed(1))
    calls = await service.calls()
    assert calls[0]["dialed"] == HOTLINE
    attributed_to(calls, call_id, HOTLINE_EXTENSION)


async def test_unregistered_phone_is_routed_statically_again(
    service: Service, registrar: bench.KamailioProxy, registered: list[Phone]
) -> None:
    phone = await register(registrar, registered, 2001, "sipp")
    unbind = await register_phone(
        registrar.address, 2001, contact_user="sipp", local_port=phone.port, expires=0
    )
    assert unbind.ok, unbind.describe()
    registered.clear()
    call_id = await call(
        registrar, 2001, phone_port=registrar.agent_port(2001), contact_user="sipp"
    )
    await eventually(lambda: service.closed(1))
    attributed_to(await service.calls(), call_id, 2001)


async def test_agents_reinvite_after_answering_is_no_second_call(
    service: Service, kamailio: bench.KamailioProxy
) -> None:
    call_id = await call(
        kamailio,
        2001,
        phone_port=kamailio.agent_port(2001),
        contact_user="2001",
        uas="uas_reinvite.xml",
        uac="uac_reinvited.xml",
        uas_vars={"answer_ms": 200, "reinvite_ms": 200},
        uac_vars={"hold_ms": 300},
    )
    await eventually(lambda: service.closed(1))
    calls = await service.calls()
    assert len(calls) == 1
    (c,) = calls
    assert c["sip_call_id"] == call_id and c["caller"] == bench.DEFAULT_CALLER
    assert c["hung_up_by"] == "caller"
    attributed_to(calls, call_id, 2001)
