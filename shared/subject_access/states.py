"""A subject access request's states: one table of which action may follow which, and `advance`, the only
way a request's state changes. Anything else is refused with `TransitionRefused` (the views answer 409)."""

from __future__ import annotations

from shared.models import (
    AccessRequest,
    AccessStatus,
)
from shared.platform.errors import ServiceError


class TransitionRefused(ServiceError):
    """The request's state does not allow that action now: nothing is changed, and the views answer 409."""

    message = "That cannot be done to this request now."


class SecondOfficerRequired(TransitionRefused):
    message = ("You made redactions in this copy and reviewed it yourself, so another officer must release it. "
               "Ask a colleague to release it, or to review it and then release it.")


RECEIVED, PAUSED, REVIEWED, REFUSED, RELEASING, RELEASED, EXPIRED = (s.value for s in (
    AccessStatus.RECEIVED, AccessStatus.PAUSED, AccessStatus.REVIEWED, AccessStatus.REFUSED, AccessStatus.RELEASING,
    AccessStatus.RELEASED, AccessStatus.EXPIRED))
REQUEST, PAUSE, RESUME, EXTEND, REDACT, UNREDACT = "request", "pause", "resume", "extend", "redact", "unredact"
REVIEW, RELEASE, RETRY, RENDER, EXPIRE, REFUSE = "review", "release", "retry", "render", "expire", "refuse"

# {state: {action: next state}}. `None` is before the request exists. A change to the redactions (or a
# pause) after the review takes the copy back before it: the review no longer covers what would be released.
TRANSITIONS: dict[str | None, dict[str, str]] = {
    None: {REQUEST: RECEIVED},
    RECEIVED: {PAUSE: PAUSED, EXTEND: RECEIVED, REDACT: RECEIVED, UNREDACT: RECEIVED, REVIEW: REVIEWED,
               REFUSE: REFUSED},
    PAUSED: {RESUME: RECEIVED, EXTEND: PAUSED, REDACT: PAUSED, UNREDACT: PAUSED, REFUSE: REFUSED},
    REVIEWED: {PAUSE: PAUSED, EXTEND: REVIEWED, REDACT: RECEIVED, UNREDACT: RECEIVED, RELEASE: RELEASING,
               REFUSE: REFUSED},
    RELEASING: {RETRY: RELEASING, RENDER: RELEASED},  # the job produces the copy; a failed job is retried
    RELEASED: {EXPIRE: EXPIRED},  # after the download period the stored copy is discarded
    REFUSED: {},
    EXPIRED: {},
}
ACTIONS = tuple(sorted({action for moves in TRANSITIONS.values() for action in moves} - {REQUEST}))
BEFORE_REVIEW = (RECEIVED, PAUSED)  # states whose copy has no review: entering one clears it

_DOING = {  # what each action does, for the message that refuses it
    PAUSE: "pause the clock", RESUME: "restart the clock", EXTEND: "extend the time to reply",
    REDACT: "change the redactions", UNREDACT: "change the redactions", REVIEW: "mark the copy as reviewed",
    RELEASE: "release the copy", RETRY: "produce the copy again", RENDER: "produce the copy",
    EXPIRE: "discard the copy", REFUSE: "refuse the request",
}
_BECAUSE = {
    RECEIVED: "This copy has not been reviewed yet",
    PAUSED: "The clock on this request is paused",
    REVIEWED: "This copy has been reviewed and is waiting to be released",
    RELEASING: "This copy has been released and is being produced",
    RELEASED: "This copy has been released",
    REFUSED: "This request was refused",
    EXPIRED: "This copy has expired",
}
_NOT_REVIEWED = "This copy has not been reviewed yet, so it can't be released. Review it first."
_ALREADY_RELEASED = "This copy has already been released."
_REFUSAL_MESSAGES = {
    (RECEIVED, RELEASE): _NOT_REVIEWED,
    (PAUSED, RELEASE): "The clock on this request is paused and the copy has not been reviewed, so it can't be released.",
    (RELEASING, RELEASE): _ALREADY_RELEASED,
    (RELEASED, RELEASE): _ALREADY_RELEASED,
    (EXPIRED, RELEASE): _ALREADY_RELEASED,
    (REFUSED, RELEASE): "This request was refused, so no copy can be released.",
    (PAUSED, PAUSE): "The clock on this request is already paused.",
    (RECEIVED, RESUME): "The clock on this request is running, so it can't be restarted.",
    (REVIEWED, RESUME): "The clock on this request is running, so it can't be restarted.",
    (REVIEWED, REVIEW): "This copy has already been reviewed.",
    (PAUSED, REVIEW): "The clock on this request is paused: restart it before marking the copy as reviewed.",
}


def refusal_message(status: str, action: str) -> str:
    return _REFUSAL_MESSAGES.get((status, action)) or f"{_BECAUSE[status]}, so you can't {_DOING[action]} now."


def check(req: AccessRequest, action: str) -> str:
    """The state `action` leads to from the request's state, or `TransitionRefused` saying why not."""
    moves = TRANSITIONS[req.status]
    if action not in moves:
        raise TransitionRefused(refusal_message(req.status, action))
    return moves[action]


def advance(req: AccessRequest, action: str) -> None:
    """Apply `action` to the request's state (checked again here). Going back before the review clears it."""
    target = check(req, action)
    if target in BEFORE_REVIEW:
        req.reviewed_at = req.reviewed_by_id = None
    req.status = target

