"""Slack's published Web API rate limits, as :class:`core.budget.Rate`s, and the scope of a call.

Slack evaluates Web API calls "per API method per workspace/team per app", in per-minute
windows, by tier (docs.slack.dev/apis/web-api/rate-limits, "Overview"): Tier 1 is 1+ a
minute, Tier 2 20+, Tier 3 50+, Tier 4 100+; "Special" methods have their own conditions.
Each method's tier is in the Facts of its reference page, docs.slack.dev/reference/methods/
<method> (also ``rate_limits`` ``t2``…``t5`` in slack-ruby/slack-api-ref, docs.slack.dev/
methods/*.json). We budget the floor of each range ("20+" → 20) over a sliding minute
(:mod:`core.budget`): the floor is what Slack promises, and a sliding window is never more
than Slack allows whatever window it counts in.

The scope of a call is its workspace (``ThreadKey.workspace``: ``T…`` or ``E…:T…``), except
for the per-channel limits (:data:`PER_CHANNEL`), whose scope is ``"<workspace>/<channel>"``
(:func:`slack_scope`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from core.budget import Rate

__all__ = [
    "PER_CHANNEL",
    "POST_MESSAGE_WINDOW",
    "SLACK_RATES",
    "TIER_1",
    "TIER_2",
    "TIER_3",
    "TIER_4",
    "slack_rates",
    "slack_scope",
]

MINUTE: Final = 60.0
# docs.slack.dev/apis/web-api/rate-limits, "Overview" (the floor of each tier's range).
TIER_1: Final = Rate(1, MINUTE)
TIER_2: Final = Rate(20, MINUTE)
TIER_3: Final = Rate(50, MINUTE)
TIER_4: Final = Rate(100, MINUTE)

#: chat.postMessage's budget window: Slack's 2 s plus a margin for the calls' latency.
POST_MESSAGE_WINDOW: Final = 2.1

#: Methods Slack limits per channel rather than per workspace.
PER_CHANNEL: Final = frozenset({"chat.postMessage", "assistant.threads.setStatus"})

#: conversations.replies/history for apps outside the Slack Marketplace: 1 call a minute (and
#: at most 15 objects a call): docs.slack.dev/changelog/2025/05/29/rate-limit-changes-for-
#: non-marketplace-apps, for new apps and installations since 2025-05-29 (existing ones later).
NON_MARKETPLACE_HISTORY: Final = Rate(1, MINUTE)


def slack_rates(*, marketplace: bool = False) -> Mapping[str, Rate]:
    """The rates of the methods the bot calls; ``marketplace``: the app is Marketplace-approved.

    Methods left out are unlimited in the budget (their 429s are still honoured).
    """
    history = TIER_3 if marketplace else NON_MARKETPLACE_HISTORY
    return MappingProxyType(
        {
            # Tier 2: docs.slack.dev/reference/methods/chat.startStream.
            "chat.startStream": TIER_2,
            # Tier 4: docs.slack.dev/reference/methods/chat.appendStream.
            "chat.appendStream": TIER_4,
            # Tier 2: docs.slack.dev/reference/methods/chat.stopStream.
            "chat.stopStream": TIER_2,
            # Tier 3: docs.slack.dev/reference/methods/chat.update.
            "chat.update": TIER_3,
            # Tier 3: docs.slack.dev/reference/methods/reactions.add.
            "reactions.add": TIER_3,
            # Tier 3: docs.slack.dev/reference/methods/conversations.replies; 1 a minute for
            # non-Marketplace apps (NON_MARKETPLACE_HISTORY).
            "conversations.replies": history,
            # Tier 3: docs.slack.dev/reference/methods/conversations.history; as above.
            "conversations.history": history,
            # Special: "generally allows posting one message per second per channel, while
            # also maintaining a workspace-wide limit" (rate-limits, "Overview"); "Short
            # bursts >1 allowed. If you attempt bursts, there is no guarantee that messages
            # will be stored or displayed" ("Posting messages"). We budget the average of 1
            # a second with the smallest burst that wording promises, as any 2 in 2 s (never
            # more than a bucket of 1 a second with a burst of 2 admits); the workspace-wide
            # limit is not published. The window is 2.1 s, not 2: the budget counts a call
            # when it is decided and Slack when it arrives, and two calls a few ms apart in
            # latency made 3 new messages in 1.999 s (benchscale W6, 60 people in 5 channels).
            "chat.postMessage": Rate(2, POST_MESSAGE_WINDOW),
            # Special: docs.slack.dev/reference/methods/assistant.threads.setStatus says only
            # "Special rate limits apply" (no number); issue 13 records about 60 a minute per
            # DM. We budget Tier 3's 50 a minute per DM channel, below that.
            "assistant.threads.setStatus": TIER_3,
            # Tier 4: docs.slack.dev/reference/methods/assistant.threads.setTitle.
            "assistant.threads.setTitle": TIER_4,
            # Tier 4: docs.slack.dev/reference/methods/views.publish.
            "views.publish": TIER_4,
            # Special: docs.slack.dev/reference/methods/chat.getPermalink names no number; we
            # budget Tier 4 (100 a minute per workspace), the largest published tier.
            "chat.getPermalink": TIER_4,
            # Tier 4: docs.slack.dev/reference/methods/users.info.
            "users.info": TIER_4,
        }
    )


#: The rates for an app outside the Slack Marketplace (this one, as shipped).
SLACK_RATES: Final = slack_rates()


def slack_scope(workspace: str, method: str, channel: str = "") -> str:
    """Where Slack counts a call of ``method``: the workspace, or workspace/channel.

    ``workspace`` is a ``ThreadKey.workspace``; ``channel`` is needed for the methods in
    :data:`PER_CHANNEL` (a DM channel for ``assistant.threads.setStatus``).
    """
    if method in PER_CHANNEL:
        if not channel:
            raise ValueError(f"{method} is limited per channel: a channel is needed")
        return f"{workspace}/{channel}"
    return workspace
