"""The allowed range of every numeric channel setting, checked in one place for every platform.

Slack's ``/gloo settings characters N``, Discord's ``/settings character_limit:N``, the
``GLOO_*`` defaults of :mod:`core.settings` and :meth:`ConversationService.update_settings`
all read :data:`SETTING_RANGES`: a number past its range gets one plain sentence naming the
range and is never stored. Before, Slack took any whole number (3,000,000,000 stopped at
PostgreSQL's ``integer`` column as ``DataError``, ``10**20`` at SQLite's as ``OverflowError``)
while Discord's slash command declared 1-100,000.

Only ASCII digits are numbers here (:func:`core.types.whole_number`): ``str.isdigit`` also
accepts ``²``, which ``int`` refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from core.types import whole_number

__all__ = [
    "MAX_CHARACTER_LIMIT",
    "MAX_SOURCES_LIMIT",
    "SETTING_RANGES",
    "SettingRange",
    "check_setting",
    "parse_setting",
]


@dataclass(frozen=True, slots=True)
class SettingRange:
    """``low`` to ``high`` (both allowed) for the setting people know as ``label``."""

    low: int
    high: int
    label: str
    unit: str = ""

    def sentence(self) -> str:
        """``"The answer length must be a whole number from 1 to 100,000 characters."``"""
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.label} must be a whole number from {self.low:,} to {self.high:,}{unit}."

    def contains(self, value: int) -> bool:
        return self.low <= value <= self.high


#: Longest answer a channel can ask for, in characters (Gloo is told "keep it under N").
MAX_CHARACTER_LIMIT: Final = 100_000
#: Most sources an answer can show.
MAX_SOURCES_LIMIT: Final = 25

#: Every numeric field of :class:`core.types.ChannelSettings`, by field name.
SETTING_RANGES: Final[Mapping[str, SettingRange]] = MappingProxyType(
    {
        "character_limit": SettingRange(1, MAX_CHARACTER_LIMIT, "The answer length", "characters"),
        "sources_limit": SettingRange(0, MAX_SOURCES_LIMIT, "The number of sources"),
        "intent": SettingRange(0, 1, "The intent"),
    }
)


def check_setting(name: str, value: object) -> None:
    """Raise ValueError with the range's sentence unless ``value`` is ``None`` or a whole
    number within the range of setting ``name`` (a key of :data:`SETTING_RANGES`)."""
    allowed = SETTING_RANGES[name]
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not allowed.contains(value):
        raise ValueError(allowed.sentence())


def parse_setting(name: str, text: str) -> int:
    """``text`` as a value of setting ``name``; ValueError with the range's sentence for
    anything else (``-4``, ``1e20``, ``3000000000``, ``²``, words)."""
    value = whole_number(text.strip())
    if value is None:
        raise ValueError(SETTING_RANGES[name].sentence())
    check_setting(name, value)
    return value
