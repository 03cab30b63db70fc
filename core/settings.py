"""Settings, read once from the environment and ``.env`` by the composition root.

No other module reads ``os.environ``: everything that needs configuration gets a
:class:`Settings` (or a value from it) handed in.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.bounds import check_setting
from core.crypto import check_key
from core.logs import url_passwords
from core.types import ChannelSettings, whole_number

#: Completions V2 routes: the API reference's, and the form newer cookbook recipes call.
DEFAULT_COMPLETIONS_PATH = "/ai/v2/chat/completions"
DEFAULT_GROUNDED_PATH = "/ai/v2/chat/completions/grounded"
Tradition = Literal["evangelical", "catholic", "mainline", "not_faith_specific"]
ModelFamily = Literal["openai", "anthropic", "google", "open source"]

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
        # A malformed secret must not be echoed in the error message.
        hide_input_in_errors=True,
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
    # What carries Gloo's HTTP under the one httpx client (core.bootstrap.network_transport).
    gloo_http_transport: Literal["aiohttp", "httpcore"] = "aiohttp"
    gloo_retry_attempts: int = Field(default=4, ge=1)
    gloo_retry_deadline: float = Field(default=90.0, gt=0, description="seconds for all attempts")
    gloo_token_scope: str = "api/access"  # noqa: S105 - an OAuth scope, not a secret

    # GLOO_BACKEND=completions (Completions V2, stateless): the model to ask (None: Gloo's
    # automatic routing) and how many characters of earlier turns to send with each question.
    gloo_completions_model: str | None = None
    gloo_history_chars: int = Field(default=12_000, ge=0)

    # The built-in simulator (GLOO_BACKEND=simulator; the console playground also uses it
    # when no credentials are set).
    gloo_simulator_seed: int = 0
    gloo_simulator_first_chunk_latency: float = Field(default=0.15, ge=0)
    gloo_simulator_chunk_latency: float = Field(default=0.02, ge=0)
    # Which Gloo API the simulator speaks: the Message API or Completions V2.
    gloo_simulator_api: Literal["message", "completions"] = "message"

    # Defaults for per-channel settings.
    gloo_publishers: Annotated[tuple[str, ...], NoDecode] = ()
    gloo_character_limit: int | None = None
    gloo_sources_limit: int | None = 5
    gloo_intent: int | None = None
    # The Message API's enable_sources query parameter: 0, 1 (default) or 2; true/false
    # are read as 1/0.
    gloo_enable_sources: Literal[0, 1, 2] = 1
    gloo_enable_suggestions: bool = True

    # --- storage -------------------------------------------------------------------------
    database_url: str = DEFAULT_DATABASE_URL
    database_auto_migrate: bool = True
    # PostgreSQL connections each process keeps open (as many again are opened for a burst).
    database_pool_size: int = Field(default=20, ge=1)

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
    # Bursts: one person's messages in one conversation within this many seconds of each other
    # are one question (core/bursts.py). In DMs people write as they think; in channels each
    # mention is explicit, so it is off there (0) unless set.
    burst_window_dm_seconds: float = Field(default=1.5, ge=0, le=60, description="seconds")
    burst_window_channel_seconds: float = Field(default=0.0, ge=0, le=60, description="seconds")
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
    # The event loop (core/eventloop.py): uvloop where installed (auto), or one named.
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    # How many processes serve the same workspaces: each spends 1/N of every platform rate
    # (core.budget: floor(calls / N), at least one call).
    serving_processes: int = Field(default=1, ge=1)
    # Seconds an idle HTTP connection is kept open: above the idle timeout of the proxy in
    # front (Heroku's router: 90 s; AWS load balancers: 60 s by default), so the proxy closes.
    web_keepalive_timeout: float = Field(default=95.0, gt=0, le=3600)
    # Slack HTTP mode (/slack/events), what a request costs before its signature is checked:
    # seconds the whole body may take to arrive (Slack sends it at once and wants an answer
    # within 3 s), the largest body, and how many full-size bodies may be read at once
    # (their product bounds the memory unsigned requests can hold).
    slack_body_timeout: float = Field(default=5.0, gt=0, le=60)
    slack_max_body_bytes: int = Field(default=1024 * 1024, ge=64 * 1024, le=16 * 1024 * 1024)
    slack_max_body_reads: int = Field(default=32, ge=1, le=1024)

    # --- Slack messaging experience ------------------------------------------------------
    # "agent": Slack's agent messaging (features.agent_view, what new apps get); "assistant":
    # the older assistant view (features.assistant_view), for apps created with it.
    slack_messaging: Literal["agent", "assistant"] = "agent"

    # --- protection of operational endpoints and stored secrets ----------------------------
    # Set: /readyz and /metrics answer only "Authorization: Bearer <METRICS_TOKEN>".
    metrics_token: SecretStr | None = None
    # Fernet keys, comma-separated: the first encrypts installation tokens, all decrypt.
    encryption_keys: SecretStr | None = None
    # Proxies (IP addresses or CIDR networks, comma-separated) whose X-Forwarded-For is
    # believed. Empty: the header is ignored and the TCP peer is the client.
    trusted_proxies: Annotated[
        tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], NoDecode
    ] = ()

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_trusted_proxies(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(
                    f"TRUSTED_PROXIES: {part!r} is not an IP address or a CIDR network "
                    "(e.g. 10.0.0.0/8, 192.0.2.7, fd00::/8)"
                ) from None
        return tuple(networks)

    @field_validator("encryption_keys")
    @classmethod
    def _check_encryption_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        keys = [k.strip() for k in value.get_secret_value().split(",") if k.strip()]
        for number, key in enumerate(keys, start=1):
            try:
                check_key(key)
            except ValueError as exc:
                raise ValueError(f"ENCRYPTION_KEYS: key {number} {exc}") from None
        return SecretStr(",".join(keys)) if keys else None

    @property
    def encryption_key_list(self) -> tuple[str, ...]:
        """The Fernet keys, the encrypting one first (empty: tokens are stored unencrypted)."""
        if self.encryption_keys is None:
            return ()
        return tuple(self.encryption_keys.get_secret_value().split(","))

    # --- access control --------------------------------------------------------------
    # Slack or Discord user ids who may change settings and access lists besides the
    # workspace's administrators (Slack admins/owners, Discord Manage Server).
    settings_admins: Annotated[tuple[str, ...], NoDecode] = ()

    @field_validator("settings_admins", mode="before")
    @classmethod
    def _split_settings_admins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value

    # --- Gloo as it is today (issue 11) --------------------------------------------------
    # Newer Gloo samples name the static key GLOO_AI_API_KEY: an alias of GLOO_API_KEY.
    gloo_ai_api_key: SecretStr | None = None
    # Completions V2 routes. On a 404 the other known form is tried once and kept.
    gloo_completions_path: str = DEFAULT_COMPLETIONS_PATH
    gloo_grounded_path: str = DEFAULT_GROUNDED_PATH
    # V2 channels without publishers are answered through the grounded route with Gloo's
    # default publisher (GlooGrounded), so V2 answers carry sources; false turns it off.
    gloo_grounded_by_default: bool = True
    # Per-channel defaults (V2): tradition and model_family; service-wide sampling.
    gloo_tradition: Tradition | None = None
    gloo_model_family: ModelFamily | None = None
    gloo_temperature: float | None = Field(default=None, ge=0, le=2)
    gloo_max_tokens: int | None = Field(default=None, ge=1)
    # Message API (core.gloo.learning): "auto" streams new chats unless a stream was seen
    # without a chat_id (recorded in the database for every process); "learn" asks a new
    # chat unstreamed until this process has seen a stream carry a chat_id; "always" streams
    # new chats regardless. Whichever, a new chat's stream that ends without a chat_id is
    # completed from a non-streamed answer.
    gloo_stream_new_chats: Literal["auto", "learn", "always"] = "auto"

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: object) -> object:
        """GLOO_AI_API_KEY fills GLOO_API_KEY when that is unset; GLOO_ENABLE_SOURCES
        reads true/false as 1/0."""
        if not isinstance(data, dict):
            return data
        values = {str(key).lower(): value for key, value in data.items()}
        changed = dict(data)
        if "gloo_api_key" not in values and values.get("gloo_ai_api_key"):
            changed["gloo_api_key"] = values["gloo_ai_api_key"]
        level = values.get("gloo_enable_sources")
        if isinstance(level, bool):
            changed["gloo_enable_sources"] = int(level)
        elif isinstance(level, str):
            word = level.strip().lower()
            mapped = {"true": 1, "yes": 1, "on": 1, "false": 0, "no": 0, "off": 0}.get(word)
            changed["gloo_enable_sources"] = mapped if mapped is not None else word
        return changed

    @field_validator("gloo_enable_sources", mode="before")
    @classmethod
    def _sources_level(cls, value: object) -> object:
        # ASCII digits only: "١".isdigit() is true and int("١") is 1 (core.types.whole_number).
        number = whole_number(value.strip()) if isinstance(value, str) else None
        return value if number is None else number

    @field_validator("gloo_character_limit", "gloo_sources_limit", "gloo_intent")
    @classmethod
    def _channel_number(cls, value: int | None, info: ValidationInfo) -> int | None:
        """The channel defaults keep to the ranges every channel's own settings keep to."""
        check_setting(str(info.field_name).removeprefix("gloo_"), value)
        return value

    @field_validator("gloo_completions_path", "gloo_grounded_path")
    @classmethod
    def _route_path(cls, value: str) -> str:
        path = value.strip()
        if not path.startswith("/"):
            raise ValueError(f"a Gloo route must start with '/', got {value!r}")
        return path.rstrip("/") or "/"

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
        # GLOO_BACKEND stays as given: without Gloo credentials the console playground uses
        # the simulator (uses_simulator), while serving a platform refuses to start unless
        # GLOO_BACKEND=simulator was asked for (core.bootstrap.check_gloo_for_serving).
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
        """Which Gloo API to speak: the Message API, or stateless Completions V2 (on the
        simulator: the one GLOO_SIMULATOR_API names)."""
        if self.gloo_backend == "simulator":
            return self.gloo_simulator_api
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
            enable_sources=self.gloo_enable_sources != 0,
            enable_suggestions=self.gloo_enable_suggestions,
            tradition=self.gloo_tradition,
            model_family=self.gloo_model_family,
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
            self.metrics_token,
        ]
        values = [s.get_secret_value() for s in secrets if s and len(s.get_secret_value()) >= 4]
        # The database password, whatever it holds (``/`` or ``@`` escape URL patterns).
        values += [p for p in url_passwords(self.database_url) if len(p) >= 4]
        return [*values, *self.encryption_key_list]

    @property
    def simulator_requested(self) -> bool:
        """GLOO_BACKEND=simulator was set: simulated answers are wanted, even when serving."""
        return self.gloo_backend == "simulator"
