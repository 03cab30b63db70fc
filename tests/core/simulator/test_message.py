"""POST /ai/v1/message and GET /ai/v1/chat: shapes, validation, memory, sources, suggestions."""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.simulator import SimulatorConfig
from core.simulator.content import quote_question
from tests.core.simulator.conftest import HarnessFactory
from tests.core.simulator.support import NON_STREAM_KEYS, QUESTIONS, Harness

_ID_RE = {
    "chat_id": re.compile(
        r"^c[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    ),
    "query_id": re.compile(r"^q[0-9a-f-]{36}$"),
    "message_id": re.compile(r"^m[0-9a-f-]{36}$"),
}
_TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")


async def test_non_stream_answer_has_the_documented_shape(harness: Harness) -> None:
    response = await harness.ask("What is your name?")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == NON_STREAM_KEYS
    for key, pattern in _ID_RE.items():
        assert pattern.match(body[key]), (key, body[key])
    assert _TIMESTAMP_RE.match(body["timestamp"])
    assert body["success"] is True
    assert body["model"] == harness.simulator.config.model
    assert isinstance(body["message"], str)
    assert body["message"].startswith("**")
    assert 60 <= len(body["message"].split()) <= 200
    assert isinstance(body["sources"], list)
    assert body["sources_limit"] == 5
    assert body["intent"] in (0, 1)
    assert body["intent"] == (1 if body["sources"] else 0)


async def test_missing_or_invalid_query_is_a_fastapi_422(harness: Harness) -> None:
    missing = await harness.ask(None, chat_id=None)
    assert missing.status_code == 422
    detail = missing.json()["detail"]
    assert detail[0]["loc"] == ["body", "query"]
    assert detail[0]["type"] == "missing"
    assert detail[0]["msg"]

    empty = await harness.ask("   ")
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["type"] == "string_too_short"

    wrong_type = await harness.client.post(
        "/ai/v1/message", json={"query": 42}, headers=await harness.headers()
    )
    assert wrong_type.json()["detail"][0]["type"] == "string_type"

    several = await harness.ask(
        None, character_limit=-1, sources_limit="many", stream="maybe", publishers="x"
    )
    locs = [tuple(e["loc"]) for e in several.json()["detail"]]
    assert locs == [
        ("body", "query"),
        ("body", "character_limit"),
        ("body", "sources_limit"),
        ("body", "stream"),
        ("body", "publishers"),
    ]
    assert harness.simulator.chats == {}


async def test_invalid_json_and_query_params(harness: Harness) -> None:
    broken = await harness.client.post(
        "/ai/v1/message",
        content=b"{not json",
        headers={**await harness.headers(), "Content-Type": "application/json"},
    )
    assert broken.status_code == 422
    assert broken.json()["detail"][0]["type"] == "json_invalid"

    not_object = await harness.client.post(
        "/ai/v1/message", json=["query"], headers=await harness.headers()
    )
    assert not_object.status_code == 422
    assert not_object.json()["detail"][0]["loc"] == ["body"]

    bad_params = await harness.ask(
        "Hi?", params={"intent": "2", "enable_sources": "3", "enable_suggestions": "yes"}
    )
    assert bad_params.status_code == 422
    assert [e["loc"] for e in bad_params.json()["detail"]] == [
        ["query", "intent"],
        ["query", "enable_sources"],
        ["query", "enable_suggestions"],
    ]


async def test_unknown_chat_is_404(harness: Harness) -> None:
    response = await harness.ask("Hello?", chat_id="c00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.json() == {"detail": "Chat not found"}
    chat = await harness.get_chat("c00000000-0000-4000-8000-000000000000")
    assert chat.status_code == 404
    assert chat.json() == {"detail": "Chat not found"}
    no_id = await harness.client.get("/ai/v1/chat", headers=await harness.headers())
    assert no_id.status_code == 422
    assert no_id.json()["detail"][0]["loc"] == ["query", "chat_id"]


async def test_routing_errors(harness: Harness) -> None:
    health = await harness.client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"ok": True}
    assert (await harness.client.get("/nope")).status_code == 404
    wrong_method = await harness.client.get("/ai/v1/message", headers=await harness.headers())
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert (await harness.client.get("/oauth2/token")).status_code == 405
    wrong_version = await harness.client.post(
        "/ai/v9/message", json={"query": "Hi?"}, headers=await harness.headers()
    )
    assert wrong_version.status_code == 422
    assert wrong_version.json()["detail"][0]["loc"] == ["path", "v"]


async def test_memory_continues_the_chat_and_history_grows(harness: Harness) -> None:
    first = (await harness.ask(QUESTIONS[0])).json()
    chat_id = first["chat_id"]
    assert "Earlier you asked" not in first["message"]

    history = (await harness.get_chat(chat_id)).json()
    assert [m["role"] for m in history["messages"]] == ["user", "kallm"]

    second = (await harness.ask(QUESTIONS[1], chat_id=chat_id)).json()
    assert second["chat_id"] == chat_id
    assert second["message_id"] != first["message_id"]
    assert f"Earlier you asked about *{quote_question(QUESTIONS[0])}*" in second["message"]

    third = (await harness.ask(QUESTIONS[2], params={"chat_id": chat_id})).json()
    assert third["chat_id"] == chat_id
    assert f"*{quote_question(QUESTIONS[1])}*" in third["message"]
    assert "question 3" in third["message"]

    history = (await harness.get_chat(chat_id)).json()
    assert set(history) == {
        "user_id",
        "chat_id",
        "created_at",
        "updated_at",
        "messages",
        "pin",
        "summary",
        "title",
    }
    assert history["chat_id"] == chat_id
    assert history["user_id"].startswith("u")
    assert history["pin"] is False
    assert history["summary"] is None
    assert history["title"] == "User Asks About Build Prayer Habit"
    assert history["created_at"] <= history["updated_at"]
    messages = history["messages"]
    assert [m["role"] for m in messages] == ["user", "kallm"] * 3
    assert [m["message"] for m in messages[::2]] == list(QUESTIONS[:3])
    assert [m["message"] for m in messages[1::2]] == [
        first["message"],
        second["message"],
        third["message"],
    ]
    user, kallm = messages[0], messages[1]
    assert set(user) == {
        "query_id",
        "message_id",
        "timestamp",
        "role",
        "character_limit",
        "stream",
        "intent",
        "message",
        "model",
        "publishers",
    }
    assert set(kallm) == {
        "query_id",
        "message_id",
        "timestamp",
        "role",
        "intent",
        "sources_limit",
        "sources",
        "success",
        "suggestions",
        "message",
        "model",
    }
    assert user["query_id"] == kallm["query_id"] == first["query_id"]
    assert kallm["message_id"] == first["message_id"]
    assert kallm["sources"] == first["sources"]
    assert kallm["suggestions"] == first["suggestions"]
    assert harness.simulator.chats[chat_id] == messages
    assert harness.simulator.chat_document(chat_id) == history


async def test_new_chats_get_new_ids(harness: Harness) -> None:
    ids = {(await harness.ask(q)).json()["chat_id"] for q in QUESTIONS[:4]}
    assert len(ids) == 4
    assert set(harness.simulator.chats) == ids


async def test_answers_are_reproducible_for_the_same_seed(make_harness: HarnessFactory) -> None:
    runs: list[list[dict[str, Any]]] = []
    for _ in range(2):
        h = await make_harness(SimulatorConfig(seed=11, deterministic_ids=True))
        first = (await h.ask(QUESTIONS[4])).json()
        second = (await h.ask(QUESTIONS[5], chat_id=first["chat_id"])).json()
        runs.append([first, second])
    strip = ("timestamp",)
    assert [{k: v for k, v in a.items() if k not in strip} for a in runs[0]] == [
        {k: v for k, v in a.items() if k not in strip} for a in runs[1]
    ]
    other = await make_harness(SimulatorConfig(seed=12, deterministic_ids=True))
    assert (await other.ask(QUESTIONS[4])).json()["message"] != runs[0][0]["message"]


async def test_chat_ids_are_unique_across_simulators_by_default(
    make_harness: HarnessFactory,
) -> None:
    # A restarted (or different) Gloo must never reissue a chat id a client still holds.
    first = await make_harness(SimulatorConfig(seed=11))
    second = await make_harness(SimulatorConfig(seed=11))
    a = (await first.ask(QUESTIONS[0])).json()
    b = (await second.ask(QUESTIONS[0])).json()
    assert a["chat_id"] != b["chat_id"]
    assert a["message_id"] != b["message_id"]
    stale = await second.ask(QUESTIONS[1], chat_id=a["chat_id"])
    assert stale.status_code == 404


async def test_sources_are_bounded_and_realistic(harness: Harness) -> None:
    counts: list[int] = []
    publishers: set[str] = set()
    for question in QUESTIONS:
        body = (await harness.ask(question)).json()
        sources = body["sources"]
        counts.append(len(sources))
        assert 0 <= len(sources) <= 5
        for source in sources:
            assert set(source) == {"title", "url", "publisher", "author", "snippet"}
            assert source["url"].startswith("https://")
            assert source["title"]
            publishers.add(source["publisher"])
        assert len({s["publisher"] for s in sources}) == len(sources)
    assert max(counts) >= 3
    assert len(set(counts)) >= 3
    assert len(publishers) >= 4


async def test_sources_limit_enable_sources_and_intent(harness: Harness) -> None:
    for question in QUESTIONS[:6]:
        limited = (await harness.ask(question, sources_limit=2)).json()
        assert len(limited["sources"]) <= 2
        assert limited["sources_limit"] == 2
        none = (await harness.ask(question, params={"enable_sources": "0"})).json()
        assert none["sources"] == []
        zero = (await harness.ask(question, sources_limit=0)).json()
        assert zero["sources"] == []
        forced = (await harness.ask(question, params={"intent": "1"})).json()
        assert 3 <= len(forced["sources"]) <= 5
        assert forced["intent"] == 1
        always = (await harness.ask(question, params={"enable_sources": "2"})).json()
        assert len(always["sources"]) >= 3
        quiet = (await harness.ask(question, params={"intent": "0"})).json()
        assert quiet["intent"] == 0


async def test_publishers_filter(harness: Harness) -> None:
    wanted = ["Lantern House", "Acme Faith Daily"]
    seen: set[str] = set()
    for question in QUESTIONS[:6]:
        body = (
            await harness.ask(question, publishers=wanted, params={"enable_sources": "2"})
        ).json()
        assert body["sources"]
        for source in body["sources"]:
            assert source["publisher"] in wanted
            seen.add(source["publisher"])
    assert seen == set(wanted)
    chat_id = harness.simulator.message_records[0].response_chat_id
    assert chat_id is not None
    assert harness.simulator.chats[chat_id][0]["publishers"] == wanted


async def test_exactly_three_suggestions_unless_disabled(harness: Harness) -> None:
    body = (await harness.ask(QUESTIONS[3])).json()
    assert len(body["suggestions"]) == 3
    assert all(isinstance(s, str) and s.endswith("?") for s in body["suggestions"])
    disabled = (await harness.ask(QUESTIONS[3], params={"enable_suggestions": "0"})).json()
    assert disabled["suggestions"] == []


@pytest.mark.parametrize("limit", [40, 120])
async def test_character_limit_truncates(harness: Harness, limit: int) -> None:
    body = (await harness.ask(QUESTIONS[6], character_limit=limit)).json()
    assert len(body["message"]) <= limit
    assert body["message"].endswith("…")
    chat = harness.simulator.chats[body["chat_id"]]
    assert chat[0]["character_limit"] == limit
    assert chat[1]["message"] == body["message"]
    unlimited = (await harness.ask(QUESTIONS[6], character_limit=0)).json()
    assert len(unlimited["message"]) > limit


async def test_request_records_and_counters(harness: Harness) -> None:
    sim = harness.simulator
    first = (await harness.ask(QUESTIONS[0])).json()
    await harness.ask(QUESTIONS[1], chat_id=first["chat_id"], stream=False)
    await harness.ask_stream(QUESTIONS[2], chat_id=first["chat_id"])
    await harness.get_chat(first["chat_id"])
    await harness.ask(None)
    assert sim.token_requests == 1
    assert sim.message_requests == 4
    assert sim.chat_requests == 1
    records = sim.message_records
    assert [(r.chat_id, r.query, r.stream, r.status, r.fault) for r in records] == [
        (None, QUESTIONS[0], False, 200, None),
        (first["chat_id"], QUESTIONS[1], False, 200, None),
        (first["chat_id"], QUESTIONS[2], True, 200, None),
        (None, None, False, 422, None),
    ]
    assert [r.completed for r in records] == [True, True, True, False]
    assert all(r.response_chat_id == first["chat_id"] for r in records[:3])
    assert [r.path for r in sim.requests] == [
        "/oauth2/token",
        "/ai/v1/message",
        "/ai/v1/message",
        "/ai/v1/message",
        "/ai/v1/chat",
        "/ai/v1/message",
    ]

    sim.reset_stats()
    assert (sim.token_requests, sim.message_requests, sim.chat_requests) == (0, 0, 0)
    assert sim.requests == []
    assert len(sim.chats[first["chat_id"]]) == 6
