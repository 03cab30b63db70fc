"""Settings, read once from the environment and ``.env`` by the composition root.

No other module reads ``os.environ``: everything that needs configuration gets a
:class:`Settings` (or a value from it) handed in.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.types import ChannelSettings

DEFAULT_GLOO_API_URL = "https://platform.ai.gloo.com"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/gloo-bots.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # "SLACK_APP_TOKEN=" in .env means unset, not an empty token.
        env_ignore_empty=True,
    )

    # --- Gloo ------------------------------------------------------------------------------
    gloo_client_id: str | None = None
    gloo_client_secret: SecretStr | None = None
    gloo_api_key: SecretStr | None = None
    gloo_api_url: str = DEFAULT_GLOO_API_URL
    gloo_token_url: str | None = None
    gloo_backend: Literal["message", "completions", "simulator"] = "message"
    gloo_stream: bool = True
    gloo_timeout: float = Field(default=60.0, gt=0, description="seconds per HTTP attempt")
    gloo_connect_timeout: float = Field(default=10.0, gt=0)
    gloo_retry_attempts: int = Field(default=4, ge=1)
    gloo_retry_deadline: float = Field(default=90.0, gt=0, description="seconds for all attempts")
    gloo_token_scope: str = "api/access"  # noqa: S105 - an OAuth scope, not a secret

    # GLOO_BACKEND=completions (Completions V2, stateless): the model to ask (None: Gloo's
    # automatic routing) and how many characters of earlier turns to send with each question.
    gloo_completions_model: str | None = None
    gloo_history_chars: int = Field(default=12_000, ge=0)

    # The built-in simulator (used when GLOO_BACKEND=simulator or no credentials are set).
    gloo_simulator_seed: int = 0
    gloo_simulator_first_chunk_latency: float = Field(default=0.15, ge=0)
    gloo_simulator_chunk_latency: float = Field(default=0.02, ge=0)

    # Defaults for per-channel settings.
    gloo_publishers: Annotated[tuple[str, ...], NoDecode] = ()
    gloo_character_limit: int | None = None
    gloo_sources_limit: int | None = 5
    gloo_intent: int | None = None
    gloo_enable_sources: bool = True
    gloo_enable_suggestions: bool = True

    # --- storage -------------------------------------------------------------------------
    database_url: str = DEFAULT_DATABASE_URL
    database_auto_migrate: bool = True

    # --- answering reliably (the inbox) ------------------------------------------------
    # Attempts per question across re-drives (each attempt has its own Gloo retries).
    inbox_max_attempts: int = Field(default=4, ge=1)
    inbox_retry_base: float = Field(default=5.0, ge=0, description="seconds, doubled per attempt")
    inbox_retry_max: float = Field(default=300.0, ge=0)
    # A process holds a question under a lease it renews; a dead process's lease runs out.
    inbox_lease: float = Field(default=30.0, gt=0, description="seconds")
    inbox_poll_interval: float = Field(default=2.0, gt=0, description="seconds between re-drives")
    inbox_concurrency: int = Field(default=200, ge=1, description="answers in flight per process")
    # While Gloo has not started answering, show again every this many seconds that the bot
    # is still working (Discord's typing indicator lasts 10 s; Slack gets a ⏳). 0: never.
    slow_notice_after: float = Field(default=8.0, ge=0)
    retention_days: float = Field(default=30.0, gt=0)

    # --- quotas (0: unlimited) -----------------------------------------------------------
    quota_user_per_minute: int = Field(default=6, ge=0)
    quota_user_per_day: int = Field(default=200, ge=0)
    quota_workspace_per_day: int = Field(default=5000, ge=0)

    # --- platforms -----------------------------------------------------------------------
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_api_url: str | None = None
    discord_bot_token: SecretStr | None = None
    discord_api_url: str | None = None
    discord_gateway_url: str | None = None
    # Sharding: none set → discord.py's AutoShardedClient decides; DISCORD_SHARD_COUNT with
    # DISCORD_SHARD_IDS (e.g. "0,1") runs just those shards, so processes can split a bot.
    discord_shard_count: int | None = Field(default=None, ge=1)
    discord_shard_ids: Annotated[tuple[int, ...], NoDecode] = ()

    # --- process -------------------------------------------------------------------------
    host: str = "0.0.0.0"  # noqa: S104 - the web process serves a load balancer
    port: int = 3000
    log_level: str | None = None  # INFO for services, WARNING for the console playground
    log_format: Literal["json", "console"] = "console"

    # --- intake ----------------------------------------------------------------------------
    # The longest question sent to Gloo, in characters; a longer one gets a reply saying so.
    question_max_chars: int = Field(default=4000, ge=1)

    @field_validator("gloo_publishers", mode="before")
    @classmethod
    def _split_publishers(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value

    @field_validator("discord_shard_ids", mode="before")
    @classmethod
    def _split_shard_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(int(p) for p in value.split(",") if p.strip())
        return value

    @model_validator(mode="after")
    def _check_shards(self) -> Settings:
        if self.discord_shard_ids:
            if self.discord_shard_count is None:
                raise ValueError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT")
            bad = [i for i in self.discord_shard_ids if not 0 <= i < self.discord_shard_count]
            if bad:
                raise ValueError(
                    f"DISCORD_SHARD_IDS {bad} are outside 0..{self.discord_shard_count - 1}"
                )
        return self

    @field_validator("gloo_api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        if not self.gloo_token_url:
            self.gloo_token_url = f"{self.gloo_api_url}/oauth2/token"
        if self.gloo_backend == "message" and not self.has_gloo_credentials:
            # No way to reach the real Gloo: use the built-in simulator (the CLI says so loudly).
            # GLOO_BACKEND=completions stays: the simulator speaks Completions V2 too.
            self.gloo_backend = "simulator"
        return self

    @property
    def has_gloo_credentials(self) -> bool:
        return bool(self.gloo_api_key) or bool(self.gloo_client_id and self.gloo_client_secret)

    @property
    def uses_simulator(self) -> bool:
        """The built-in simulator answers (asked for, or no Gloo credentials are set)."""
        return self.gloo_backend == "simulator" or not self.has_gloo_credentials

    @property
    def gloo_api(self) -> Literal["message", "completions"]:
        """Which Gloo API to speak: the Message API, or stateless Completions V2."""
        return "completions" if self.gloo_backend == "completions" else "message"

    @property
    def token_url(self) -> str:
        return self.gloo_token_url or f"{self.gloo_api_url}/oauth2/token"

    def channel_defaults(self) -> ChannelSettings:
        return ChannelSettings(
            publishers=self.gloo_publishers,
            character_limit=self.gloo_character_limit,
            sources_limit=self.gloo_sources_limit,
            intent=self.gloo_intent,
            enable_sources=self.gloo_enable_sources,
            enable_suggestions=self.gloo_enable_suggestions,
        )

    @property
    def has_slack(self) -> bool:
        return bool(self.slack_bot_token or (self.slack_client_id and self.slack_client_secret))

    @property
    def has_discord(self) -> bool:
        return bool(self.discord_bot_token)

    def secret_values(self) -> list[str]:
        """Every configured secret, for the log redactor."""
        secrets = [
            self.gloo_client_secret,
            self.gloo_api_key,
            self.slack_bot_token,
            self.slack_app_token,
            self.slack_signing_secret,
            self.slack_client_secret,
            self.discord_bot_token,
        ]
        return [s.get_secret_value() for s in secrets if s and len(s.get_secret_value()) >= 4]
