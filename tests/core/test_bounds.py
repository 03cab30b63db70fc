"""Numeric channel settings keep to one table of ranges (core/bounds.py), on every platform.

Issue 24, finding 7: Slack's ``/gloo settings characters 3000000000`` reached PostgreSQL
(``DataError``: integer out of range) and ``characters 100000000000000000000`` SQLite
(``OverflowError``), each unanswered, while Discord's slash command declared 1-100,000.
The store tests run on SQLite and on PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import ValidationError

from core.bounds import SETTING_RANGES, check_setting, parse_setting
from core.store.sql import SqlStore
from core.types import ChannelSettings
from tests.harness import core_on_simulator, settings_for_tests

CHARACTERS = "The answer length must be a whole number from 1 to 100,000 characters."
SOURCES = "The number of sources must be a whole number from 0 to 25."


def test_every_numeric_channel_setting_has_a_range() -> None:
    numeric = {
        f.name
        for f in dataclasses.fields(ChannelSettings)
        if "int" in str(f.type) and "bool" not in str(f.type)
    }
    assert numeric == set(SETTING_RANGES) == {"character_limit", "sources_limit", "intent"}
    for allowed in SETTING_RANGES.values():
        assert allowed.high < 2**31  # within PostgreSQL's and SQLite's integer columns


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("character_limit", 3_000_000_000),
        ("character_limit", 10**20),
        ("character_limit", 0),
        ("character_limit", -5),
        ("character_limit", 1e20),
        ("character_limit", True),
        ("character_limit", "500"),
        ("sources_limit", 26),
        ("sources_limit", -1),
        ("intent", 2),
    ],
)
def test_values_past_the_range_get_the_range_in_a_sentence(name: str, value: object) -> None:
    with pytest.raises(ValueError, match="must be a whole number from") as info:
        check_setting(name, value)
    allowed = SETTING_RANGES[name]
    assert str(info.value) == allowed.sentence()
    assert f"from {allowed.low:,} to {allowed.high:,}" in str(info.value)


def test_values_in_the_range_and_unset_pass() -> None:
    for name, allowed in SETTING_RANGES.items():
        for value in (None, allowed.low, allowed.high):
            check_setting(name, value)


@pytest.mark.parametrize(
    "text",
    [
        *("3000000000", "1e20", "100000000000000000000", "-4", "+4", "4.0"),
        *("\u00b2", "\u0661", "9" * 5000),
    ],
)
def test_parsed_text_is_ascii_digits_in_the_range(text: str) -> None:
    with pytest.raises(ValueError, match="must be a whole number from") as info:
        parse_setting("character_limit", text)
    assert str(info.value) == CHARACTERS


def test_parsed_text_in_the_range() -> None:
    assert parse_setting("character_limit", " 500 ") == 500
    assert parse_setting("sources_limit", "0") == 0
    assert parse_setting("character_limit", "100000") == 100_000


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("gloo_character_limit", "3000000000"),
        ("gloo_character_limit", "0"),
        ("gloo_sources_limit", "26"),
        ("gloo_intent", "2"),
    ],
)
def test_channel_defaults_from_the_environment_keep_to_the_ranges(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match="must be a whole number from"):
        settings_for_tests(**{field: value})


@pytest.mark.parametrize("value", [3_000_000_000, 10**20, -1, 0])
async def test_update_settings_refuses_out_of_range_and_stores_nothing(
    store: SqlStore, value: int
) -> None:
    async with core_on_simulator(store) as (c, _):
        await c.service.update_settings("slack", "T1", "C1", character_limit=500)
        with pytest.raises(ValueError, match="must be a whole number from") as info:
            await c.service.update_settings("slack", "T1", "C1", character_limit=value)
        assert str(info.value) == CHARACTERS
        with pytest.raises(ValueError, match="from 0 to 25"):
            await c.service.update_settings("discord", "G1", "C1", sources_limit=value or 26)
        stored = await c.service.settings_for("slack", "T1", "C1")
    assert stored.character_limit == 500
