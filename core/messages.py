"""Plain sentences for users. The log keeps the detail; people get one clear sentence.

Each is a :class:`core.i18n.Message` (English, said in the person's language when posted,
:func:`core.i18n.localize`); its translations are in ``core/locale``.
"""

from __future__ import annotations

import math

from core.gloo import errors as e
from core.i18n import Message, t, tn

EMPTY_QUESTION = t("Please include a question after the mention, and I'll ask Gloo.")
UNKNOWN_SUGGESTION = t(
    "Sorry, I can't find that suggestion any more. Please type your question instead."
)
STORE_UNAVAILABLE = t(
    "I can't reach my conversation memory right now, so I can't answer in context. "
    "Please try again in a moment."
)
INTERNAL_ERROR = t(
    "Something went wrong on my side while answering. It has been logged; please try again."
)
USAGE_LIMIT = t(
    "This organisation's Gloo usage limit has been reached, so Gloo isn't answering "
    "questions right now. An administrator can raise the limit in Gloo AI Studio."
)
DECLINED = t(
    "Gloo declined to answer that question. You can ask something else or put it differently."
)


def for_error(exc: BaseException) -> Message:
    """The one sentence a user sees for a failure while answering."""
    if isinstance(exc, e.GlooUsageLimited):
        return USAGE_LIMIT
    if isinstance(exc, e.GlooDeclined):
        return DECLINED
    if isinstance(exc, e.GlooRateLimited):
        if exc.retry_after and exc.retry_after > 0:
            seconds = max(1, math.ceil(exc.retry_after))
            return tn(
                "Gloo is handling a lot of questions right now. "
                "Please try again in about {count} second.",
                "Gloo is handling a lot of questions right now. "
                "Please try again in about {count} seconds.",
                seconds,
            )
        return t("Gloo is handling a lot of questions right now. Please try again in a minute.")
    if isinstance(exc, e.GlooStreamInterrupted):
        return t("My answer was cut off because the connection to Gloo dropped. Please ask again.")
    if isinstance(exc, e.GlooAuthError | e.GlooPermissionDenied | e.GlooConfigError):
        return t(
            "I can't sign in to Gloo right now. An administrator needs to check the bot's Gloo "
            "credentials."
        )
    if isinstance(exc, e.GlooBadRequest | e.GlooValidationError):
        return t("Gloo couldn't process that question. Try rephrasing it or making it shorter.")
    if isinstance(exc, e.GlooNotFound):
        return t("That conversation no longer exists at Gloo. Ask again to start a new one.")
    if isinstance(exc, e.GlooTimeout | e.GlooRequestTimeout):
        return t("Gloo took too long to answer. Please try again in a moment.")
    if isinstance(exc, e.GlooError):
        return t("I couldn't get an answer from Gloo just now. Please try again in a moment.")
    return INTERNAL_ERROR


def gave_up(attempts: int, last_reason: str) -> Message:
    """The sentence for a question given up on after ``attempts`` tries (``last_reason``: the
    last attempt's sentence, itself localized when it is a Message)."""
    return tn(
        "Sorry, I tried {count} time but couldn't get an answer from Gloo. "
        "{reason} If it keeps happening, let an administrator know.",
        "Sorry, I tried {count} times but couldn't get an answer from Gloo. "
        "{reason} If it keeps happening, let an administrator know.",
        attempts,
        reason=last_reason,
    )


def quota_exceeded(scope: str, limit: int, period: str) -> Message:
    """The sentence for a question over a usage limit (``scope``: "user", "workspace", or
    "dm" for the limit all direct messages outside a server share; ``period``: "minute" or
    "day")."""
    if scope == "user" and period == "minute":
        return tn(
            "You have reached the limit of {count} question per minute, so I didn't send this "
            "one to Gloo. Please try again later.",
            "You have reached the limit of {count} questions per minute, so I didn't send this "
            "one to Gloo. Please try again later.",
            limit,
        )
    if scope == "user":
        return tn(
            "You have reached the limit of {count} question per day, so I didn't send this "
            "one to Gloo. Please try again later.",
            "You have reached the limit of {count} questions per day, so I didn't send this "
            "one to Gloo. Please try again later.",
            limit,
        )
    if scope == "dm":
        return tn(
            "Direct messages to me have reached the limit of {count} question per day, so I "
            "didn't send this one to Gloo. Please try again later.",
            "Direct messages to me have reached the limit of {count} questions per day, so I "
            "didn't send this one to Gloo. Please try again later.",
            limit,
        )
    return tn(
        "This workspace has reached the limit of {count} question per day, so I didn't send "
        "this one to Gloo. Please try again later.",
        "This workspace has reached the limit of {count} questions per day, so I didn't send "
        "this one to Gloo. Please try again later.",
        limit,
    )


# --- access control (who may change and use what) ------------------------------------------

ACCESS_USER_REFUSED = t(
    "Sorry, I can't answer you here: an administrator of this workspace has limited who can "
    "use Gloo. If you think that is a mistake, ask them."
)
ACCESS_CHANNEL_REFUSED = t(
    "Sorry, I don't answer in this channel: an administrator of this workspace has limited "
    "where Gloo answers. If you think that is a mistake, ask them."
)
ADMINS_ONLY = t(
    "Only this workspace's administrators can change Gloo's settings and access lists. "
    "You can still see them."
)
CLICK_ELSEWHERE = t(
    "That button belongs to a conversation somewhere else, so I can't use it here. "
    "Please ask your question here instead."
)


def too_many_publishers(limit: int) -> Message:
    return tn(
        "Name at most {count} publisher (separated by commas).",
        "Name at most {count} publishers (separated by commas).",
        limit,
    )


def publisher_too_long(limit: int) -> Message:
    return tn(
        "A publisher's name can be at most {count} character long.",
        "A publisher's name can be at most {count} characters long.",
        limit,
    )


def too_many_access_rules(limit: int) -> Message:
    return tn(
        "The access lists of a workspace can hold at most {count} entry. "
        "Remove some before adding more.",
        "The access lists of a workspace can hold at most {count} entries. "
        "Remove some before adding more.",
        limit,
    )


#: Beneath the part of an answer shown when its question was deleted (the answer stops there).
ANSWER_STOPPED = t("Stopped: the question was deleted.")

#: Beneath an answer whose question was edited while (or after) it was answered.
EDIT_OFFER = t("You edited your question — ask this instead?")
