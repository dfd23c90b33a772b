"""An incident's area against the address book and the other live incidents: the station
its one order goes to, no two open incidents over one place for one fault, and the
proposals a new incident takes over."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.errors import Conflict, Invalid
from callcenter.incidents import model, store
from callcenter.incidents.model import Incident, Place
from callcenter.stations.model import AddressBook


def stations_serving(book: AddressBook, area: Sequence[Place]) -> set[str]:
    stations: set[str] = set()
    for place in area:
        stations |= model.resolve_place(book, place.kind, place.name)[1]
    return stations


def with_station(book: AddressBook, draft: Incident, station: str | None) -> Incident:
    """The station the incident's order goes to: the one named, else the one serving the
    whole area."""
    serving = stations_serving(book, draft.area)
    if station is not None:
        if book.station(station) is None:
            raise Invalid("unknown-station", f"no station {station!r}", "station")
        return replace(draft, station=station)
    if len(serving) != 1:
        raise Invalid(
            "area-spans-stations",
            f"the area is served by {len(serving)} stations ({', '.join(sorted(serving))}):"
            " name the station whose network failed",
            "station",
            stations=sorted(serving),
        )
    return replace(draft, station=next(iter(serving)))


async def no_overlap(conn: AsyncConnection, incident: Incident) -> None:
    for other in await store.live(conn):
        if other.id == incident.id or other.status != "open":
            continue
        shared = set(other.categories) & set(incident.categories)
        if shared and model.overlapping(other.area, incident.area):
            raise Conflict(
                "overlapping-incident",
                f"incident {other.id} ({other.area_label}: {other.cause}) already covers "
                "part of this area: change that one, or close it first",
                "area",
                incident=other.id,
            )


async def supersede(conn: AsyncConnection, incident: Incident, now: datetime) -> None:
    """Proposals the new incident covers become part of it: their reports move to it."""
    for other in await store.live(conn):
        if other.status != "proposed" or other.id == incident.id:
            continue
        if not set(other.categories) & set(incident.categories):
            continue
        if not model.overlapping(other.area, incident.area):
            continue
        why = f"taken into incident {incident.id}"
        closed = replace(other, status="dismissed", closed_at=now, note=why)
        await store.save(conn, closed)
        moved = await store.move(conn, other.id, incident.id)
        await store.add_event(
            conn, other.id, now, incident.opened_by or "service", "superseded",
            {"incident": incident.id, "moved": moved},
        )  # fmt: skip
