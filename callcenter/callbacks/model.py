"""Callbacks (回访), pure: after every repair and every complaint the hotline calls the
resident back within 3 days (002 第3篇; callback rate 100 %), asks the callback script's
questions and records the answers. A repair not solved, or a resident not satisfied, goes
back to the station (rework) and is called back again, until satisfied.

The script (004): 「您好，我们是供暖报修平台，对您家报修的处理情况进行回访。您现在方便吗?」 — if
not, book a time. a) solved? b) the repairman's attitude (satisfied / average / unsatisfied)
c) were you charged? d) score our service 1–10 e) suggestions f) if satisfied and unpaid,
remind to pay the heating fee. Closing with the hotline number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from callcenter.auth.model import Role

DUE_WITHIN = timedelta(days=3)

Reason = Literal["repair", "complaint"]
CallbackStatus = Literal["due", "done", "cancelled"]
CALLBACK_STATUSES: tuple[CallbackStatus, ...] = ("due", "done", "cancelled")
Attitude = Literal["satisfied", "average", "unsatisfied"]
ATTITUDES: tuple[Attitude, ...] = ("satisfied", "average", "unsatisfied")
# How the call went: the resident answered the questions, asked to be called at another
# time (re-booked), or did not pick up (tried again later; the attempt is counted).
Outcome = Literal["answered", "rebooked", "no_answer"]
OUTCOMES: tuple[Outcome, ...] = ("answered", "rebooked", "no_answer")

CALLBACK_USERS = frozenset({Role.AGENT, Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN})
CALLBACK_LEADS = frozenset({Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Answers:
    """What the resident said (a–f of the script)."""

    solved: bool
    attitude: Attitude
    charged: bool
    score: int  # 1–10
    suggestions: str
    fee_reminded: bool

    @property
    def satisfied(self) -> bool:
        """Solved and not unhappy with the repairman: the ticket can close. Anything else is
        rework (a repair) or a follow-up (a complaint)."""
        return self.solved and self.attitude != "unsatisfied"


@dataclass(frozen=True, slots=True)
class Callback:
    id: str
    ticket_id: str
    order_id: str | None  # the returned order it follows (None: a complaint)
    reason: Reason
    agent_id: int | None  # the agent owning the ticket (首问责任制): they call back
    station: str | None
    created_at: datetime
    due_at: datetime
    status: CallbackStatus = "due"
    booked_for: datetime | None = None  # the resident's "call me at …"
    attempts: int = 0
    done_at: datetime | None = None
    done_by: str | None = None
    call_id: str | None = None
    solved: bool | None = None
    attitude: Attitude | None = None
    charged: bool | None = None
    score: int | None = None
    suggestions: str | None = None
    fee_reminded: bool | None = None

    def on_time(self) -> bool | None:
        """Done by its due time (None while not done)."""
        if self.done_at is None:
            return None
        return self.done_at <= self.due_at

    def overdue(self, now: datetime) -> bool:
        return self.status == "due" and now > self.due_at
