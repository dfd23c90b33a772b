"""Routes for the stations list and the address check the desk runs as the agent types."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from callcenter.auth.http import principal
from callcenter.auth.model import ALL_ROLES, Role
from callcenter.errors import Invalid
from callcenter.stations import schemas, service
from callcenter.stations.model import AddressBook

# Who checks addresses: whoever takes or reads tickets. Stations may list the stations.
ADDRESS_USERS = frozenset({Role.AGENT, Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN})
MAX_ADDRESS = 200


@dataclass(frozen=True, slots=True)
class StationsDeps:
    """What the station routes need: the address book loaded at start-up."""

    book: Callable[[], AddressBook]


STATIONS = web.AppKey("stations", StationsDeps)


def address_text(value: object, field: str) -> str:
    """An address as typed: text of 1-200 characters without control characters."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid("missing-field", f"{field} is required", field)
    if len(value) > MAX_ADDRESS:
        raise Invalid("too-long", f"{field} is longer than {MAX_ADDRESS} characters", field)
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in value):
        raise Invalid("bad-value", f"{field} holds control characters", field)
    return value.strip()


async def list_stations(request: web.Request) -> web.Response:
    deps = request.app[STATIONS]
    await principal(request, ALL_ROLES)
    return web.json_response([schemas.station_json(s) for s in deps.book().stations])


async def normalize_address(request: web.Request) -> web.Response:
    deps = request.app[STATIONS]
    await principal(request, ADDRESS_USERS)
    text = address_text(request.query.get("q"), "q")
    book = deps.book()
    return web.json_response(schemas.routing_json(book, service.route(book, text)))


def add_routes(app: web.Application, deps: StationsDeps) -> None:
    app[STATIONS] = deps
    app.router.add_get("/api/stations", list_stations, name="stations")
    app.router.add_get("/api/address/normalize", normalize_address, name="address_normalize")
