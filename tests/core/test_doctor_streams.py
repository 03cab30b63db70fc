"""gloo-bots doctor shows what the deployment learned about new chats' streams, and
``--probe-stream`` asks one streamed new-chat question and records what it showed.

The Message API's stream format is unpublished (seeds: the API reference documents
``chat_id`` on the non-streamed answer only), so the simulated Gloo is run both ways.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from core.doctor import PROBE_STREAM_QUESTION, run_doctor
from core.gloo.learning import CARRIED, MISSING, stream_fact_name
from core.settings import Settings
from core.simulator import Simulator, SimulatorConfig, SimulatorTransport
from core.store.migrate import upgrade
from core.store.sql import SqlStore
from tests.harness import settings_for_tests, unwrapped

GLOO = "http://gloo.test"


def message_settings(database_url: str, **values: Any) -> Settings:
    return settings_for_tests(
        database_url=database_url,
        gloo_backend="message",
        gloo_api_url=GLOO,
        **{"gloo_api_key": "good-key", "gloo_stream_new_chats": "auto", **values},
    )


def gloo(*, stream_chat_id: bool = True) -> Simulator:
    return Simulator(
        SimulatorConfig(api_keys=frozenset({"good-key"}), stream_chat_id=stream_chat_id)
    )


async def doctor(settings: Settings, sim: Simulator, **flags: bool) -> tuple[int, str]:
    code, out = await printed(settings, sim, **flags)
    return code, unwrapped(out)


async def printed(settings: Settings, sim: Simulator, **flags: bool) -> tuple[int, str]:
    """The doctor's output as printed, wrapped to 100 columns."""
    out = io.StringIO()
    code = await run_doctor(settings, [], out=out, transport=SimulatorTransport(sim), **flags)
    return code, out.getvalue()


async def recorded(database_url: str) -> tuple[str, datetime] | None:
    store = await SqlStore.open(database_url, migrate=False)
    try:
        fact = await store.read_fact(stream_fact_name(GLOO))
    finally:
        await store.close()
    return None if fact is None else (fact.value, fact.seen_at)


async def record(database_url: str, value: str) -> None:
    store = await SqlStore.open(database_url, migrate=False)
    try:
        await store.record_fact(
            stream_fact_name(GLOO), value, datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
        )
    finally:
        await store.close()


async def test_a_fresh_deployment_says_new_chats_stream(database_url: str) -> None:
    await upgrade(database_url)
    code, out = await doctor(message_settings(database_url), gloo())
    assert code == 0, out
    assert "[  ok] Gloo streams: nothing recorded yet about streams naming their chat" in out
    assert "[  ok] Gloo streams: new chats stream (GLOO_STREAM_NEW_CHATS=auto)" in out


async def test_a_recorded_stream_without_chat_id_is_a_warning_with_the_way_back(
    database_url: str,
) -> None:
    await upgrade(database_url)
    await record(database_url, MISSING)
    code, out = await doctor(message_settings(database_url), gloo())
    assert code == 0, out
    assert (
        "[  ok] Gloo streams: recorded 2026-12-01 09:30 UTC: a stream ended without its chat_id"
    ) in out
    assert (
        "[WARN] Gloo streams: new chats are asked unstreamed (GLOO_STREAM_NEW_CHATS=auto)\n"
        "       -> Once Gloo's streams name their chat, 'gloo-bots doctor --probe-stream' "
        "records it."
    ) in out
    # The explicit settings say what they do with the same record.
    _, out = await doctor(message_settings(database_url, gloo_stream_new_chats="always"), gloo())
    assert "[  ok] Gloo streams: new chats always stream (GLOO_STREAM_NEW_CHATS=always)" in out
    _, out = await doctor(message_settings(database_url, gloo_stream_new_chats="learn"), gloo())
    assert "new chats stream once a process saw it work (GLOO_STREAM_NEW_CHATS=learn)" in out


async def test_every_doctor_line_fits_100_columns(database_url: str) -> None:
    await upgrade(database_url)
    await record(database_url, MISSING)
    _, out = await printed(message_settings(database_url), gloo(), probe_stream=True)
    streams = [line for line in out.splitlines() if "stream" in line.lower()]
    assert len(streams) >= 5, out
    assert all(len(line) <= 100 for line in streams), streams


async def test_probe_stream_records_a_stream_without_chat_id_for_every_process(
    database_url: str,
) -> None:
    await upgrade(database_url)
    sim = gloo(stream_chat_id=False)
    code, out = await doctor(message_settings(database_url), sim, probe_stream=True)
    assert code == 0, out
    assert f"Probe (streamed, new chat): {PROBE_STREAM_QUESTION}" in out
    assert "the stream ended without its chat_id: completed from a plain answer" in out
    assert "recorded: with GLOO_STREAM_NEW_CHATS=auto, new chats are asked unstreamed" in out
    fact = await recorded(database_url)
    assert fact is not None
    assert fact[0] == MISSING
    # One streamed question, then the plain answer that completed it: both the probe's.
    assert [r.stream for r in sim.message_records] == [True, False]
    assert all(r.query == PROBE_STREAM_QUESTION for r in sim.message_records)
    assert "[WARN] Gloo streams: new chats are asked unstreamed" in out


async def test_probe_stream_records_a_stream_that_names_its_chat(database_url: str) -> None:
    await upgrade(database_url)
    await record(database_url, MISSING)
    sim = gloo(stream_chat_id=True)
    code, out = await doctor(message_settings(database_url), sim, probe_stream=True)
    assert code == 0, out
    assert "the stream named its chat (" in out
    assert "recorded: with GLOO_STREAM_NEW_CHATS=auto, new chats stream" in out
    fact = await recorded(database_url)
    assert fact is not None
    assert fact[0] == CARRIED
    assert fact[1] > datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert [r.stream for r in sim.message_records] == [True]
    assert "Gloo streams: recorded " in out
    assert ": streams name their chat\n[  ok] Gloo streams: new chats stream (" in out


async def test_probe_stream_on_an_unmigrated_database_asks_but_records_nothing(
    sqlite_url: str,
) -> None:
    sim = gloo(stream_chat_id=True)
    code, out = await doctor(message_settings(sqlite_url), sim, probe_stream=True)
    assert code == 0, out
    assert "the stream named its chat" in out
    assert "not recorded: the database is not at the latest migration" in out
    assert "] Gloo streams:" not in out  # no record to show before the first migration


async def test_probe_stream_is_skipped_without_gloo_or_on_completions(sqlite_url: str) -> None:
    await upgrade(sqlite_url)
    bad = message_settings(sqlite_url, gloo_api_key="bad-key")
    code, out = await doctor(bad, gloo(), probe_stream=True)
    assert code == 1
    assert "Probe skipped: it needs working Gloo credentials." in out
    v2 = settings_for_tests(
        database_url=sqlite_url, gloo_backend="completions", gloo_api_url=GLOO, gloo_api_key="k"
    )
    sim = Simulator(SimulatorConfig(api_keys=frozenset({"k"})))
    _, out = await doctor(v2, sim, probe_stream=True)
    assert "Probe (streamed, new chat) skipped: Completions V2 keeps no chats" in out
    assert "Gloo streams" not in out
