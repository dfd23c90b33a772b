"""Residents' phone numbers (003 保密制度): who sees them in full, and the masked form.

A rule of its own, used by the API, the live feed, MQTT payloads and the adapters' logs.
"""

from __future__ import annotations

from dataclasses import dataclass

# Who sees residents' numbers in full by default: those who talk to residents or must trace
# a call (003 保密制度). `[privacy] full_number_roles` changes it.
DEFAULT_FULL_NUMBER_ROLES = ("agent", "team_lead", "admin")


@dataclass(frozen=True, slots=True)
class NumberPolicy:
    """Whether a user of `role` sees a caller's number in full. Agents see their own calls
    in full even when they may watch a colleague's phone ring (to pick it up), masked."""

    full_roles: frozenset[str] = frozenset(DEFAULT_FULL_NUMBER_ROLES)

    def full(self, role: str, own_call: bool = True) -> bool:
        return role in self.full_roles and (own_call or role != "agent")

    def show(self, number: str | None, role: str, own_call: bool = True) -> str | None:
        return number if self.full(role, own_call) else mask_number(number)


def mask_number(number: str | None) -> str | None:
    """138****0001: enough to tell calls apart, not enough to call the resident."""
    if not number:
        return number
    if len(number) <= 4:
        return "*" * len(number)
    if len(number) <= 7:
        return number[:1] + "*" * (len(number) - 3) + number[-2:]
    return number[:3] + "*" * (len(number) - 7) + number[-4:]
