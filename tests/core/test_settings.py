from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

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


def test_encryption_keys_are_a_comma_separated_list_and_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("ENCRYPTION_KEYS", f" {first} , {second} ")
    monkeypatch.setenv("METRICS_TOKEN", "metrics-token-value")
    settings = Settings()
    assert settings.encryption_key_list == (first, second)
    assert {first, second, "metrics-token-value"} <= set(settings.secret_values())


def test_a_key_that_is_not_a_fernet_key_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = Fernet.generate_key().decode()
    monkeypatch.setenv("ENCRYPTION_KEYS", f"{good},short-secret-value")
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert "ENCRYPTION_KEYS: key 2 is not a Fernet key" in str(refused.value)
    assert "short-secret-value" not in str(refused.value)
    assert good not in str(refused.value)


def test_trusted_proxies_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).trusted_proxies == ()
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7,fd00::/8")
    assert [str(n) for n in Settings(_env_file=None).trusted_proxies] == [
        "10.0.0.0/8",
        "192.0.2.7/32",
        "fd00::/8",
    ]


def test_a_bad_trusted_proxy_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal")
    with pytest.raises(ValidationError, match=r"TRUSTED_PROXIES: 'proxy\.internal' is not"):
        Settings(_env_file=None)


def test_slack_request_limits_from_env_and_their_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BODY_TIMEOUT", "2.5")
    monkeypatch.setenv("SLACK_MAX_BODY_BYTES", "2097152")
    monkeypatch.setenv("SLACK_MAX_BODY_READS", "8")
    settings = Settings(_env_file=None)
    assert settings.slack_body_timeout == 2.5
    assert settings.slack_max_body_bytes == 2 * 1024 * 1024
    assert settings.slack_max_body_reads == 8
    # A limit that would refuse Slack's own requests, or bound nothing, is refused by name.
    for name, value in (
        ("SLACK_BODY_TIMEOUT", "0"),
        ("SLACK_BODY_TIMEOUT", "3600"),
        ("SLACK_MAX_BODY_BYTES", "1000"),
        ("SLACK_MAX_BODY_BYTES", str(1024**3)),
        ("SLACK_MAX_BODY_READS", "0"),
    ):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValidationError, match=name.lower()):
            Settings(_env_file=None)
        monkeypatch.delenv(name)
