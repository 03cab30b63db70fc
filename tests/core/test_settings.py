from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import DEFAULT_GLOO_API_URL, Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "GLOO_CLIENT_ID",
        "GLOO_CLIENT_SECRET",
        "GLOO_API_KEY",
        "GLOO_API_URL",
        "GLOO_TOKEN_URL",
        "GLOO_BACKEND",
        "GLOO_PUBLISHERS",
        "DATABASE_URL",
        "SLACK_BOT_TOKEN",
        "DISCORD_BOT_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_no_credentials_means_simulator() -> None:
    settings = Settings()
    assert settings.uses_simulator
    assert not settings.has_gloo_credentials
    assert settings.gloo_api_url == DEFAULT_GLOO_API_URL
    assert settings.token_url == f"{DEFAULT_GLOO_API_URL}/oauth2/token"


def test_client_credentials_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLOO_CLIENT_ID", "id")
    monkeypatch.setenv("GLOO_CLIENT_SECRET", "secret-value")
    monkeypatch.setenv("GLOO_API_URL", "http://127.0.0.1:8765/")
    settings = Settings()
    assert settings.gloo_backend == "message"
    assert settings.gloo_api_url == "http://127.0.0.1:8765"
    assert settings.token_url == "http://127.0.0.1:8765/oauth2/token"
    assert "secret-value" in settings.secret_values()
    assert "secret-value" not in repr(settings)


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GLOO_API_KEY=abcd1234\nGLOO_PUBLISHERS=Bible Project, Gloo\n")
    settings = Settings()
    assert settings.has_gloo_credentials
    assert settings.gloo_publishers == ("Bible Project", "Gloo")
    assert settings.channel_defaults().publishers == ("Bible Project", "Gloo")


def test_explicit_token_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLOO_TOKEN_URL", "https://auth.example/token")
    assert Settings().token_url == "https://auth.example/token"


def test_platform_presence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not Settings().has_slack
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "abc")
    settings = Settings()
    assert settings.has_slack
    assert settings.has_discord
