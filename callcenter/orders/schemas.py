"""JSON of orders: the API's, and the messages to the stations (schema
`callcenter.order/1`, docs/station-orders.md). A station gets what it needs to repair: the
resident's name, number and address (the standard form), the fault; nothing else."""

from __future__ import annotations

from typing import Any

from callcenter.clock import iso_z
from callcenter.orders.model import Order
from callcenter.tickets.model import Ticket

ORDER_SCHEMA = "callcenter.order/1"


def order_message(order: Order, ticket: Ticket) -> dict[str, Any]:
    """A new order for the station (`message_id` is added per channel)."""
    return {
        "schema": ORDER_SCHEMA,
        "type": "order",
        "order": {
            "id": order.id,
            "round": order.round,
            "station": order.station,
            "ticket_id": ticket.id,
            "dispatched_at": iso_z(order.dispatched_at),
            "due": {
                "accept": iso_z(order.accept_due),
                "contact": iso_z(order.contact_due),
                "repair": iso_z(order.repair_due),
            },
            "resident": {
                "name": ticket.reporter_name,
                "phone": ticket.phone,
                "address": ticket.address_standard or ticket.address_typed,
            },
            "fault": {
                "category": ticket.category,
                "location": ticket.fault_location,
                "severity": ticket.severity,
                "description": ticket.description,
            },
            "address_flags": ticket.address_flags,
        },
    }


def recall_message(order: Order, reason: str) -> dict[str, Any]:
    return {
        "schema": ORDER_SCHEMA,
        "type": "recall",
        "order": {"id": order.id, "round": order.round, "station": order.station},
        "reason": reason,
    }


def live_json(change: Any) -> dict[str, Any]:
    """An order moved (service.OrderChanged), for the live pages: no resident data; a page
    that wants the details asks the API, which applies the role rules."""
    order: Order = change.order
    return {
        "type": "order",
        "action": change.action,
        "order_id": order.id,
        "ticket_id": order.ticket_id,
        "station": order.station,
        "status": order.status,
        "round": order.round,
        "by": change.by,
        "at": iso_z(change.at),
    }


def ticket_json(ticket: Ticket, phone: str | None) -> dict[str, Any]:
    """What a station needs of the ticket to repair, for the order's own station and the
    hotline (a station may not read /api/tickets). `phone` as the reader may see it."""
    return {
        "id": ticket.id,
        "reporter_name": ticket.reporter_name,
        "phone": phone,
        "address": ticket.address_typed,
        "address_standard": ticket.address_standard,
        "category": ticket.category,
        "fault_location": ticket.fault_location,
        "severity": ticket.severity,
        "description": ticket.description,
        # Why the order comes first (an infant, an elderly resident): the repairman should know.
        "vulnerability": ticket.vulnerability,
    }


def order_json(
    order: Order,
    history: list[dict[str, Any]] | None = None,
    ticket: dict[str, Any] | None = None,
    priority: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`priority`: the order's now, while it is at its station (None after)."""
    body: dict[str, Any] = {
        "id": order.id,
        "ticket_id": order.ticket_id,
        "station": order.station,
        "round": order.round,
        "status": order.status,
        "dispatched_at": iso_z(order.dispatched_at),
        "dispatched_by": order.dispatched_by,
        "due": {
            "accept": iso_z(order.accept_due),
            "contact": iso_z(order.contact_due),
            "repair": iso_z(order.repair_due),
        },
        "accepted_at": iso_z(order.accepted_at),
        "contacted_at": iso_z(order.contacted_at),
        "returned_at": iso_z(order.returned_at),
        "closed_at": iso_z(order.closed_at),
        "delivered_at": iso_z(order.delivered_at),
        "delivered_via": order.delivered_via,
        "repairman": order.repairman,
        "result": order.result,
        "priority": priority,
        # Waiting on the resident since (callcenter/timeline): contact and repair stand still.
        "paused_since": iso_z(order.paused_since),
    }
    if history is not None:
        body["history"] = [{**e, "at": iso_z(e["at"])} for e in history]
    if ticket is not None:
        body["ticket"] = ticket
    return body
