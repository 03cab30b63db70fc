"""The fake Discord lives in the development tools as :mod:`devtools.discord.fake`
(``gloo-bots bench`` drives it too); the tests add the recorded gateway payloads of
``payloads/`` to it here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from devtools.discord.fake import Call, InvalidForm, Session, validate_message
from devtools.discord.fake import FakeDiscord as ShippedFakeDiscord

__all__ = [
    "PAYLOADS",
    "Call",
    "FakeDiscord",
    "InvalidForm",
    "Session",
    "payload",
    "validate_message",
]

PAYLOADS = Path(__file__).parent / "payloads"


def payload(name: str, **values: Any) -> dict[str, Any]:
    """A recorded gateway payload from ``payloads/NAME.json`` with ``{{key}}`` filled in."""
    text = (PAYLOADS / f"{name}.json").read_text()
    for key, value in values.items():
        text = text.replace(
            "{{" + key + "}}", json.dumps(value)[1:-1] if isinstance(value, str) else str(value)
        )
    leftover = re.search(r"\{\{(\w+)\}\}", text)
    if leftover:
        raise KeyError(f"payload {name} needs a value for {leftover.group(1)}")
    data: dict[str, Any] = json.loads(text)
    return data


class FakeDiscord(ShippedFakeDiscord):
    """The development tools' fake, plus button clicks built from the recorded payloads."""

    def click_payload(
        self,
        message_id: int,
        custom_id: str,
        user: dict[str, Any],
        *,
        interaction_id: int | None = None,
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE for a click on a button of a message this fake holds."""
        message = self.messages[message_id]
        channel = self.channels.get(
            int(message["channel_id"]), {"id": message["channel_id"], "type": 1}
        )
        iid = interaction_id or self.snowflake()
        guild_id = message.get("guild_id")
        values = {
            "interaction_id": str(iid),
            "application_id": str(self.application_id),
            "token": f"itoken-{iid}",
            "channel_id": message["channel_id"],
            "channel_type": channel["type"],
            "custom_id": custom_id,
            "user_id": user["id"],
            "user_name": user["username"],
        }
        if guild_id:
            data = payload("interaction_button_guild", guild_id=guild_id, **values)
        else:
            data = payload("interaction_button_dm", **values)
        data["message"] = message
        return data
