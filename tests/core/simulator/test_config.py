from __future__ import annotations

from typing import Any

import pytest

from core.simulator import SimulatorConfig
from core.simulator.config import REALISTIC_CHUNK_LATENCY, REALISTIC_FIRST_CHUNK_LATENCY


def test_defaults_are_offline_friendly() -> None:
    config = SimulatorConfig()
    assert config.seed == 0
    assert config.token_ttl == 3600
    assert config.first_chunk_latency == 0.0
    assert config.chunk_latency == 0.0
    assert config.words_per_chunk == 3
    assert config.total_fault_rate == 0.0
    assert config.rate_limit_reset == 2
    assert config.hang_seconds == 600
    assert config.stream_format == "sse"
    assert config.text_mode == "delta"
    assert config.api_keys == frozenset()
    assert config.clients is None
    assert config.deterministic_ids is False
    assert isinstance(config.clock(), float)


@pytest.mark.parametrize(
    "overrides",
    [
        {"token_ttl": 0},
        {"first_chunk_latency": -0.1},
        {"chunk_latency": float("nan")},
        {"words_per_chunk": 0},
        {"words_per_chunk": True},
        {"error_500": 1.5},
        {"error_429": -0.1},
        {"error_500": 0.6, "error_502": 0.6},
        {"stream_format": "websocket"},
        {"text_mode": "diff"},
        {"api_keys": frozenset({""})},
        {"clients": {"id": ""}},
        {"seed": "1"},
        {"hang_seconds": -1},
        {"deterministic_ids": "yes"},
    ],
)
def test_invalid_values_are_rejected(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - every message differs; the type is the contract
        SimulatorConfig(**overrides)


def test_from_mapping_converts_loose_values() -> None:
    config = SimulatorConfig.from_mapping(
        {
            "seed": "42",
            "token_ttl": "120",
            "first_chunk_latency": "0.25",
            "words_per_chunk": 5.0,
            "error_429": "0.1",
            "api_keys": "key-one, key-two,,",
            "clients": "bot:secret,other:pw",
            "stream_format": " ndjson ",
            "text_mode": "cumulative",
            "hang": None,
            "deterministic_ids": "true",
        }
    )
    assert config.seed == 42
    assert config.token_ttl == 120.0
    assert config.first_chunk_latency == 0.25
    assert config.words_per_chunk == 5
    assert config.error_429 == 0.1
    assert config.api_keys == frozenset({"key-one", "key-two"})
    assert config.clients == {"bot": "secret", "other": "pw"}
    assert config.stream_format == "ndjson"
    assert config.text_mode == "cumulative"
    assert config.hang == 0.0
    assert config.deterministic_ids is True


def test_from_mapping_accepts_iterables_and_mappings() -> None:
    config = SimulatorConfig.from_mapping({"api_keys": ["a", "b"], "clients": {"x": "y"}})
    assert config.api_keys == frozenset({"a", "b"})
    assert config.clients == {"x": "y"}


def test_from_mapping_rejects_unknown_and_malformed_options() -> None:
    with pytest.raises(ValueError, match="unknown simulator option"):
        SimulatorConfig.from_mapping({"sed": 1})
    with pytest.raises(ValueError, match="must be a number"):
        SimulatorConfig.from_mapping({"error_500": "often"})
    with pytest.raises(ValueError, match="must be an integer"):
        SimulatorConfig.from_mapping({"seed": "1.5"})
    with pytest.raises(ValueError, match="deterministic_ids must be a boolean"):
        SimulatorConfig.from_mapping({"deterministic_ids": "sometimes"})
    with pytest.raises(ValueError, match="clients must look like"):
        SimulatorConfig.from_mapping({"clients": "no-secret"})


def test_realistic_and_replace() -> None:
    config = SimulatorConfig.realistic(seed=9)
    assert config.first_chunk_latency == REALISTIC_FIRST_CHUNK_LATENCY
    assert config.chunk_latency == REALISTIC_CHUNK_LATENCY
    assert config.seed == 9
    faster = config.replace(chunk_latency=0.0)
    assert faster.chunk_latency == 0.0
    assert config.chunk_latency == REALISTIC_CHUNK_LATENCY
    with pytest.raises(ValueError, match="words_per_chunk"):
        config.replace(words_per_chunk=-1)
