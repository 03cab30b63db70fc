"""Settings for Gloo as it is today (issue 11).

Sources: newer GlooDeveloper/gloo-ai-docs-cookbook and glooai samples name the static key
GLOO_AI_API_KEY; the Message API reference (seed docs) lists enable_sources 0, 1, 2; the
Completions V2 reference lists the tradition and model_family values and temperature 0-2,
max_tokens >= 1."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GLOO_API_KEY", "GLOO_AI_API_KEY", "GLOO_ENABLE_SOURCES", "GLOO_TRADITION"):
        monkeypatch.delenv(name, raising=False)


def test_gloo_ai_api_key_is_an_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLOO_AI_API_KEY", "newer-key")
    settings = Settings(_env_file=None)
    assert settings.gloo_api_key is not None
    assert settings.gloo_api_key.get_secret_value() == "newer-key"
    assert settings.has_gloo_credentials
    assert settings.gloo_backend == "message"  # real Gloo, not the simulator
    assert "newer-key" in settings.secret_values()


def test_gloo_api_key_wins_over_the_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLOO_AI_API_KEY", "newer-key")
    monkeypatch.setenv("GLOO_API_KEY", "classic-key")
    key = Settings(_env_file=None).gloo_api_key
    assert key is not None
    assert key.get_secret_value() == "classic-key"


@pytest.mark.parametrize(
    ("raw", "level", "shown"),
    [("0", 0, False), ("1", 1, True), ("2", 2, True), ("true", 1, True), ("false", 0, False)],
)
def test_enable_sources_takes_the_documented_values(
    monkeypatch: pytest.MonkeyPatch, raw: str, level: int, shown: bool
) -> None:
    monkeypatch.setenv("GLOO_ENABLE_SOURCES", raw)
    settings = Settings(_env_file=None)
    assert settings.gloo_enable_sources == level
    assert settings.channel_defaults().enable_sources is shown


@pytest.mark.parametrize("raw", ["\u0661", "\u00b2", "\uff11", "1.0"])
def test_enable_sources_reads_ascii_digits_only(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    # Issue 24 finding 8: "١".isdigit() is true and int("١") is 1, so GLOO_ENABLE_SOURCES=١
    # was read as 1; "²" made int() raise inside the validator. Now both are refused with
    # the allowed values, as any other word is.
    monkeypatch.setenv("GLOO_ENABLE_SOURCES", raw)
    with pytest.raises(ValidationError, match="0, 1 or 2"):
        Settings(_env_file=None)


def test_bad_values_say_which_are_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLOO_ENABLE_SOURCES", "3")
    with pytest.raises(ValidationError, match="0, 1 or 2"):
        Settings(_env_file=None)
    monkeypatch.setenv("GLOO_ENABLE_SOURCES", "1")
    monkeypatch.setenv("GLOO_TRADITION", "orthodox")
    with pytest.raises(ValidationError, match="'evangelical', 'catholic', 'mainline'"):
        Settings(_env_file=None)
    with pytest.raises(ValidationError, match="less than or equal to 2"):
        Settings(_env_file=None, gloo_tradition=None, gloo_temperature=2.5)
    with pytest.raises(ValidationError, match="must start with '/'"):
        Settings(_env_file=None, gloo_tradition=None, gloo_grounded_path="ai/v2/grounded")


def test_defaults_are_the_documented_routes_and_grounded_v2() -> None:
    settings = Settings(_env_file=None)
    assert settings.gloo_completions_path == "/ai/v2/chat/completions"
    assert settings.gloo_grounded_path == "/ai/v2/chat/completions/grounded"
    assert settings.gloo_grounded_by_default is True
    assert settings.gloo_stream_new_chats == "auto"
