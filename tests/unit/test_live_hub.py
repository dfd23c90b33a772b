"""The live hub sends each browser only what its user may see."""

import json
from typing import Any

from callcenter.auth.model import Principal, Role
from callcenter.privacy import NumberPolicy
from callcenter.web.live import LiveClient, LiveHub


def client(hub: LiveHub, user_id: int, role: Role, extension: str | None = None) -> LiveClient:
    principal = Principal(user_id, f"u{user_id}", role, extension)
    c = LiveClient(ws=None, principal=principal)  # type: ignore[arg-type]
    hub.clients.add(c)
    return c


def received(c: LiveClient) -> list[dict[str, Any]]:
    out = []
    while not c.queue.empty():
        out.append(json.loads(c.queue.get_nowait()))
    return out


async def test_violation_reaches_its_agent_and_leads_but_not_other_agents() -> None:
    hub = LiveHub()
    own, other, lead = (
        client(hub, 1, Role.AGENT),
        client(hub, 2, Role.AGENT),
        client(hub, 3, Role.TEAM_LEAD),
    )
    hub.broadcast({"type": "violation", "caller": "13800000001"}, private=True, agent_id=1)
    assert len(received(own)) == 1 and received(other) == [] and len(received(lead)) == 1


async def test_caller_number_is_masked_for_roles_that_do_not_need_it() -> None:
    hub = LiveHub()
    agent, boss = client(hub, 1, Role.AGENT, "2001"), client(hub, 2, Role.SUPERVISOR)
    hub.broadcast({"type": "phone_rang", "extension": "2001", "caller": "13800000001"})
    assert received(agent)[0]["caller"] == "13800000001"
    assert received(boss)[0]["caller"] == "138****0001"


async def test_agent_sees_a_colleagues_ringing_phone_with_the_number_masked() -> None:
    hub = LiveHub()
    agent = client(hub, 1, Role.AGENT, "2001")
    hub.broadcast({"type": "phone_rang", "extension": "2002", "caller": "13800000002"})
    hub.broadcast({"type": "phone_rang", "extension": "2001", "caller": "13800000001"})
    assert [m["caller"] for m in received(agent)] == ["138****0002", "13800000001"]


async def test_full_number_roles_come_from_the_privacy_setting() -> None:
    hub = LiveHub(NumberPolicy(frozenset({"supervisor"})))
    agent, boss = client(hub, 1, Role.AGENT, "2001"), client(hub, 2, Role.SUPERVISOR)
    hub.broadcast({"type": "phone_rang", "extension": "2001", "caller": "13800000001"})
    assert received(agent)[0]["caller"] == "138****0001"
    assert received(boss)[0]["caller"] == "13800000001"


async def test_a_message_seen_alike_is_put_in_json_once() -> None:
    hub = LiveHub()
    leads = [client(hub, n, Role.TEAM_LEAD) for n in (1, 2)]
    agent = client(hub, 3, Role.AGENT, "2001")
    hub.broadcast({"type": "incidents", "incidents": [{"id": "a", "area_label": "东兴里"}]})
    first, second, third = (c.queue.get_nowait() for c in (*leads, agent))
    assert first is second is third
    assert json.loads(first)["incidents"][0]["area_label"] == "东兴里"
