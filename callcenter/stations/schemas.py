"""Stations and routed addresses as JSON."""

from __future__ import annotations

from typing import Any

from callcenter.stations.model import AddressBook, Routing, Station


def station_json(station: Station) -> dict[str, Any]:
    return {"code": station.code, "name": station.name, "phone": station.phone}


def routing_json(book: AddressBook, routing: Routing) -> dict[str, Any]:
    """What the desk shows under the address field: the standard form, the proposed
    station, or why there is none."""
    a = routing.address
    proposed = book.station(routing.station) if routing.station else None
    return {
        "q": routing.typed,
        "standard": routing.standard,
        "place": a.place,
        "building": a.building,
        "unit": a.unit,
        "room": a.room,
        "status": routing.status,
        "station": station_json(proposed) if proposed else None,
        "candidates": [
            station_json(s) for code in routing.candidates if (s := book.station(code)) is not None
        ],
        "rules": list(routing.rules),
        "reason": routing.reason,
    }
