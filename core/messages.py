"""Plain sentences for users. The log keeps the detail; people get one clear sentence."""

from __future__ import annotations

import math

from core.gloo import errors as e

EMPTY_QUESTION = "Please include a question after the mention, and I'll ask Gloo."
UNKNOWN_SUGGESTION = (
    "Sorry, I can't find that suggestion any more. Please type your question instead."
)
STORE_UNAVAILABLE = (
    "I can't reach my conversation memory right now, so I can't answer in context. "
    "Please try again in a moment."
)
INTERNAL_ERROR = (
    "Something went wrong on my side while answering. It has been logged; please try again."
)
USAGE_LIMIT = (
    "This organisation's Gloo usage limit has been reached, so Gloo isn't answering "
    "questions right now. An administrator can raise the limit in Gloo AI Studio."
)
DECLINED = (
    "Gloo declined to answer that question. You can ask something else or put it differently."
)


def for_error(exc: BaseException) -> str:
    """The one sentence a user sees for a failure while answering."""
    if isinstance(exc, e.GlooUsageLimited):
        return USAGE_LIMIT
    if isinstance(exc, e.GlooDeclined):
        return DECLINED
    if isinstance(exc, e.GlooRateLimited):
        if exc.retry_after and exc.retry_after > 0:
            seconds = max(1, math.ceil(exc.retry_after))
            return (
                "Gloo is handling a lot of questions right now. "
                f"Please try again in about {seconds} seconds."
            )
        return "Gloo is handling a lot of questions right now. Please try again in a minute."
    if isinstance(exc, e.GlooStreamInterrupted):
        return "My answer was cut off because the connection to Gloo dropped. Please ask again."
    if isinstance(exc, e.GlooAuthError | e.GlooPermissionDenied | e.GlooConfigError):
        return (
            "I can't sign in to Gloo right now. An administrator needs to check the bot's Gloo "
            "credentials."
        )
    if isinstance(exc, e.GlooBadRequest | e.GlooValidationError):
        return "Gloo couldn't process that question. Try rephrasing it or making it shorter."
    if isinstance(exc, e.GlooNotFound):
        return "That conversation no longer exists at Gloo. Ask again to start a new one."
    if isinstance(exc, e.GlooTimeout | e.GlooRequestTimeout):
        return "Gloo took too long to answer. Please try again in a moment."
    if isinstance(exc, e.GlooError):
        return "I couldn't get an answer from Gloo just now. Please try again in a moment."
    return INTERNAL_ERROR


def gave_up(attempts: int, last_reason: str) -> str:
    """The sentence for a question given up on after ``attempts`` tries."""
    return (
        f"Sorry, I tried {attempts} times but couldn't get an answer from Gloo. "
        f"{last_reason} If it keeps happening, let an administrator know."
    )


def quota_exceeded(scope: str, limit: int, period: str) -> str:
    """The sentence for a question over a usage limit (``scope``: "user", "workspace", or
    "dm" for the limit all direct messages outside a server share)."""
    who = {"user": "You have", "dm": "Direct messages to me have"}.get(scope, "This workspace has")
    return (
        f"{who} reached the limit of {limit} question{'' if limit == 1 else 's'} per {period}, "
        "so I didn't send this "
        "one to Gloo. Please try again later."
    )


# --- access control (who may change and use what) ------------------------------------------

ACCESS_USER_REFUSED = (
    "Sorry, I can't answer you here: an administrator of this workspace has limited who can "
    "use Gloo. If you think that is a mistake, ask them."
)
ACCESS_CHANNEL_REFUSED = (
    "Sorry, I don't answer in this channel: an administrator of this workspace has limited "
    "where Gloo answers. If you think that is a mistake, ask them."
)
ADMINS_ONLY = (
    "Only this workspace's administrators can change Gloo's settings and access lists. "
    "You can still see them."
)
CLICK_ELSEWHERE = (
    "That button belongs to a conversation somewhere else, so I can't use it here. "
    "Please ask your question here instead."
)


def too_many_publishers(limit: int) -> str:
    return f"Name at most {limit} publishers (separated by commas)."


def publisher_too_long(limit: int) -> str:
    return f"A publisher's name can be at most {limit} characters long."


def too_many_access_rules(limit: int) -> str:
    return (
        f"The access lists of a workspace can hold at most {limit} entries. "
        "Remove some before adding more."
    )


#: Beneath an answer whose question was edited while (or after) it was answered.
EDIT_OFFER = "You edited your question — ask this instead?"
