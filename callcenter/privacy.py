"""Residents' phone numbers (003 保密制度): who sees them in full, and the masked form.

A rule of its own, used by the API, the live feed, MQTT payloads and the adapters' logs.
"""

from __future__ import annotations


def mask_number(number: str | None) -> str | None:
    """138****0001: enough to tell calls apart, not enough to call the resident."""
    if not number:
        return number
    if len(number) <= 4:
        return "*" * len(number)
    if len(number) <= 7:
        return number[:1] + "*" * (len(number) - 3) + number[-2:]
    return number[:3] + "*" * (len(number) - 7) + number[-4:]
