"""The fake Slack lives in the development tools as :mod:`devtools.slack.fake` (``gloo-bots
bench`` drives it too)."""

from devtools.slack.fake import (
    APP_TOKEN,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    TEAM_ID,
    Call,
    FakeSlack,
    Message,
    Team,
    user_object,
    validate_blocks,
    validate_chunks,
)

__all__ = [
    "APP_TOKEN",
    "BOT_ID",
    "BOT_TOKEN",
    "BOT_USER_ID",
    "TEAM_ID",
    "Call",
    "FakeSlack",
    "Message",
    "Team",
    "user_object",
    "validate_blocks",
    "validate_chunks",
]
