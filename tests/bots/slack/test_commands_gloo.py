"""``/gloo settings tradition …`` and ``/gloo settings family …`` (issue 11). The values are
checked by the core, which names the allowed ones."""

from __future__ import annotations

import pytest

from bots.slack.commands import parse_settings_change


@pytest.mark.parametrize(
    ("text", "change"),
    [
        ("tradition catholic", {"tradition": "catholic"}),
        ("tradition Not faith specific", {"tradition": "not_faith_specific"}),
        ("tradition none", {"tradition": None}),
        ("family open source", {"model_family": "open source"}),
        ("family Anthropic", {"model_family": "anthropic"}),
        ("family auto", {"model_family": None}),
    ],
)
def test_v2_settings_parse(text: str, change: dict[str, object]) -> None:
    assert parse_settings_change(text) == change


def test_the_list_of_settings_names_the_new_ones() -> None:
    with pytest.raises(ValueError, match="`tradition`, `family` and `shortcut`"):
        parse_settings_change("colour blue")
