"""Configuration of the Gloo simulator.

Every knob has an offline-friendly default: no latency, no faults, any credentials
accepted. The CLI passes realistic latencies (see :meth:`SimulatorConfig.realistic`);
tests pass millisecond latencies and deterministic fault queues.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

StreamFormat = Literal["sse", "sse-nodone", "ndjson"]
TextMode = Literal["delta", "cumulative"]
#: Which Completions V2 route forms answer (the others 404): the API reference's
#: (``/ai/v2/chat/completions[/grounded]``), the newer cookbook recipes'
#: (``/ai/v2/guarded/chat/completions``, ``/ai/v2/grounded/chat/completions``), or both.
V2Routes = Literal["both", "documented", "newer"]
#: How V2 citations are shaped: Gloo's ``{item_title, item_url, snippets[]}`` or the older
#: ``{title, url, snippet}`` variant.
CitationStyle = Literal["item", "legacy"]

STREAM_FORMATS: tuple[str, ...] = get_args(StreamFormat)
TEXT_MODES: tuple[str, ...] = get_args(TextMode)
V2_ROUTES: tuple[str, ...] = get_args(V2Routes)
CITATION_STYLES: tuple[str, ...] = get_args(CitationStyle)

DEFAULT_MODEL = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"

#: Latencies that feel like the real service (used by :meth:`SimulatorConfig.realistic`).
REALISTIC_FIRST_CHUNK_LATENCY = 0.8
REALISTIC_CHUNK_LATENCY = 0.06

#: The fault-rate fields, in the order the fault RNG checks them.
FAULT_RATE_FIELDS: tuple[str, ...] = (
    "error_500",
    "error_502",
    "error_408",
    "error_429",
    "drop_stream",
    "hang",
)

_FLOAT_FIELDS = frozenset(
    {
        "token_ttl",
        "first_chunk_latency",
        "chunk_latency",
        "rate_limit_reset",
        "hang_seconds",
        *FAULT_RATE_FIELDS,
    }
)


@dataclass(slots=True)
class SimulatorConfig:
    """How the simulator behaves. Mutable on purpose: a running simulator reads it live.

    Fault rates are probabilities per ``POST /ai/v1/message`` request (after
    authentication); their sum must not exceed 1. ``drop_stream`` drops streamed answers
    half-way and non-streamed requests before any response.

    Answers are a pure function of ``seed``, the chat id, the turn and the question. Chat,
    query and message ids are fresh uuid4s by default, so two simulators (or one restarted)
    never hand out the same chat id; with ``deterministic_ids`` they come from the seed
    instead, and two simulators with the same seed replay identical ids and answers.
    """

    seed: int = 0
    token_ttl: float = 3600.0
    first_chunk_latency: float = 0.0
    chunk_latency: float = 0.0
    words_per_chunk: int = 3
    error_500: float = 0.0
    error_502: float = 0.0
    error_408: float = 0.0
    error_429: float = 0.0
    drop_stream: float = 0.0
    hang: float = 0.0
    rate_limit_reset: float = 2.0
    hang_seconds: float = 600.0
    stream_format: StreamFormat = "sse"
    text_mode: TextMode = "delta"
    api_keys: frozenset[str] = field(default_factory=frozenset)
    clients: dict[str, str] | None = None
    clock: Callable[[], float] = field(default=time.time)
    model: str = DEFAULT_MODEL
    deterministic_ids: bool = False
    #: False: Message API streams carry no ``chat_id`` in any event (what ``stream: true``
    #: sends is undocumented; the non-streamed answer always names the chat).
    stream_chat_id: bool = True
    v2_routes: V2Routes = "both"
    citation_style: CitationStyle = "item"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ValueError` if any value is out of range."""
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        _check_number("token_ttl", self.token_ttl, minimum=0.0, exclusive=True)
        _check_number("first_chunk_latency", self.first_chunk_latency, minimum=0.0)
        _check_number("chunk_latency", self.chunk_latency, minimum=0.0)
        _check_number("rate_limit_reset", self.rate_limit_reset, minimum=0.0)
        _check_number("hang_seconds", self.hang_seconds, minimum=0.0)
        if (
            isinstance(self.words_per_chunk, bool)
            or not isinstance(self.words_per_chunk, int)
            or self.words_per_chunk < 1
        ):
            raise ValueError(f"words_per_chunk must be an int >= 1, got {self.words_per_chunk!r}")
        total = 0.0
        for name in FAULT_RATE_FIELDS:
            rate = getattr(self, name)
            _check_number(name, rate, minimum=0.0, maximum=1.0)
            total += float(rate)
        if total > 1.0 + 1e-9:
            raise ValueError(f"the fault rates add up to {total:g}, more than 1")
        if self.stream_format not in STREAM_FORMATS:
            raise ValueError(
                f"stream_format must be one of {', '.join(STREAM_FORMATS)}, "
                f"got {self.stream_format!r}"
            )
        if self.text_mode not in TEXT_MODES:
            raise ValueError(
                f"text_mode must be one of {', '.join(TEXT_MODES)}, got {self.text_mode!r}"
            )
        if not isinstance(self.api_keys, frozenset) or not all(
            isinstance(k, str) and k for k in self.api_keys
        ):
            raise ValueError("api_keys must be a frozenset of non-empty strings")
        if self.clients is not None and not all(
            isinstance(k, str) and k and isinstance(v, str) and v for k, v in self.clients.items()
        ):
            raise ValueError("clients must map non-empty client ids to non-empty secrets")
        if not callable(self.clock):
            raise ValueError("clock must be callable")
        if not isinstance(self.model, str) or not self.model:
            raise ValueError("model must be a non-empty string")
        if not isinstance(self.deterministic_ids, bool):
            raise ValueError(f"deterministic_ids must be a bool, got {self.deterministic_ids!r}")
        if not isinstance(self.stream_chat_id, bool):
            raise ValueError(f"stream_chat_id must be a bool, got {self.stream_chat_id!r}")
        if self.v2_routes not in V2_ROUTES:
            raise ValueError(
                f"v2_routes must be one of {', '.join(V2_ROUTES)}, got {self.v2_routes!r}"
            )
        if self.citation_style not in CITATION_STYLES:
            raise ValueError(
                f"citation_style must be one of {', '.join(CITATION_STYLES)}, "
                f"got {self.citation_style!r}"
            )

    @property
    def total_fault_rate(self) -> float:
        return float(sum(getattr(self, name) for name in FAULT_RATE_FIELDS))

    def replace(self, **changes: Any) -> SimulatorConfig:
        """A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def realistic(cls, **overrides: Any) -> SimulatorConfig:
        """A configuration whose timing feels like the real service (for the CLI and demos)."""
        values: dict[str, Any] = {
            "first_chunk_latency": REALISTIC_FIRST_CHUNK_LATENCY,
            "chunk_latency": REALISTIC_CHUNK_LATENCY,
        }
        values.update(overrides)
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SimulatorConfig:
        """Build a config from loosely typed values (CLI options, env, JSON, YAML).

        Numbers may be strings; ``api_keys`` may be a comma-separated string or any
        iterable; ``clients`` may be a mapping or a ``"id:secret,id2:secret2"`` string.
        ``None`` values are skipped (the default applies). Unknown keys raise
        :class:`ValueError`.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown simulator option(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for key, raw in data.items():
            if raw is None:
                continue
            if key in _FLOAT_FIELDS:
                values[key] = _to_float(key, raw)
            elif key in ("seed", "words_per_chunk"):
                values[key] = _to_int(key, raw)
            elif key == "api_keys":
                values[key] = _to_key_set(raw)
            elif key == "clients":
                values[key] = _to_clients(raw)
            elif key in ("deterministic_ids", "stream_chat_id"):
                values[key] = _to_bool(key, raw)
            elif key in ("stream_format", "text_mode", "model", "v2_routes", "citation_style"):
                values[key] = str(raw).strip()
            else:
                values[key] = raw
        return cls(**values)


def _check_number(
    name: str,
    value: object,
    *,
    minimum: float,
    maximum: float | None = None,
    exclusive: bool = False,
) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if number < minimum or (exclusive and number == minimum):
        bound = ">" if exclusive else ">="
        raise ValueError(f"{name} must be {bound} {minimum:g}, got {value!r}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be <= {maximum:g}, got {value!r}")


def _to_float(name: str, raw: object) -> float:
    if isinstance(raw, bool):
        raise ValueError(f"{name} must be a number, got {raw!r}")
    try:
        return float(cast(Any, raw))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def _to_int(name: str, raw: object) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"{name} must be an integer, got {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            pass
    raise ValueError(f"{name} must be an integer, got {raw!r}")


def parse_flag(raw: object) -> bool | None:
    """``True``/``False`` for the usual spellings of a boolean (1/0, true/false, yes/no,
    on/off), ``None`` for anything else."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
    return None


def _to_bool(name: str, raw: object) -> bool:
    flag = parse_flag(raw)
    if flag is None:
        raise ValueError(f"{name} must be a boolean, got {raw!r}")
    return flag


def _to_key_set(raw: object) -> frozenset[str]:
    if isinstance(raw, str):
        return frozenset(part.strip() for part in raw.split(",") if part.strip())
    if isinstance(raw, Iterable):
        keys: set[str] = set()
        for item in raw:
            if not isinstance(item, str):
                raise ValueError(f"api_keys must hold strings, got {item!r}")
            if item.strip():
                keys.add(item.strip())
        return frozenset(keys)
    raise ValueError(f"api_keys must be a string or an iterable of strings, got {raw!r}")


def _to_clients(raw: object) -> dict[str, str]:
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, str):
        clients: dict[str, str] = {}
        for pair in raw.split(","):
            if not pair.strip():
                continue
            client_id, sep, secret = pair.strip().partition(":")
            if not sep or not client_id or not secret:
                raise ValueError("clients must look like 'id:secret,id2:secret2'")
            clients[client_id] = secret
        return clients
    raise ValueError("clients must be a mapping or an 'id:secret,...' string")
