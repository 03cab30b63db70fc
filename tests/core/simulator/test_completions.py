"""Completions V2 in the simulator, over both front ends: validation, answers that follow the
messages sent, grounded citations, the V2 stream shape, faults, and request records."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from core.simulator import SimulatorConfig
from tests.core.simulator.conftest import HarnessFactory
from tests.core.simulator.support import QUESTIONS, Harness, parse_event_line

V2 = "/ai/v2/chat/completions"
GROUNDED = "/ai/v2/chat/completions/grounded"


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


async def complete(
    h: Harness, messages: list[dict[str, str]], *, path: str = V2, **body: Any
) -> httpx.Response:
    payload: dict[str, Any] = {"messages": messages, **body}
    if not {"auto_routing", "model", "model_family"} & payload.keys():
        payload["auto_routing"] = True
    return await h.client.post(path, json=payload, headers=await h.headers())


async def complete_stream(
    h: Harness, messages: list[dict[str, str]], *, path: str = V2, **body: Any
) -> tuple[list[dict[str, Any]], bool]:
    """The stream's events, and whether a [DONE] marker came."""
    payload: dict[str, Any] = {"messages": messages, "auto_routing": True, "stream": True, **body}
    events: list[dict[str, Any]] = []
    done = False
    async with h.client.stream("POST", path, json=payload, headers=await h.headers()) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            kind, event = parse_event_line(line)
            done = done or kind == "done"
            if event is not None:
                events.append(event)
    return events, done


def streamed_text(events: list[dict[str, Any]]) -> str:
    return "".join(
        str(choice["delta"].get("content", ""))
        for event in events
        for choice in event.get("choices", [])
    )


def finish_reasons(events: list[dict[str, Any]]) -> list[str]:
    return [
        choice["finish_reason"]
        for event in events
        for choice in event.get("choices", [])
        if choice["finish_reason"] is not None
    ]


async def test_requests_need_a_bearer_token(harness: Harness) -> None:
    response = await harness.client.post(V2, json={"messages": [user("Hi")], "auto_routing": True})
    assert response.status_code == 401
    assert harness.simulator.completion_records[-1].status == 401


async def test_a_json_answer_in_the_v2_shape(harness: Harness) -> None:
    response = await complete(harness, [user(QUESTIONS[0])])
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["routing_mechanism"] == "auto_routing"
    assert body["model"] == harness.simulator.config.model
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert len(choice["message"]["content"].split()) >= 60
    assert body["usage"]["total_tokens"] > 0
    assert "citations" not in body
    assert harness.simulator.completion_requests == 1
    assert harness.simulator.message_records == []


async def test_the_answer_is_a_function_of_the_messages(make_harness: HarnessFactory) -> None:
    a = await make_harness(SimulatorConfig(seed=3))
    b = await make_harness(SimulatorConfig(seed=3))
    messages = [user(QUESTIONS[1])]
    first = (await complete(a, messages)).json()["choices"][0]["message"]["content"]
    again = (await complete(b, messages)).json()["choices"][0]["message"]["content"]
    events, _ = await complete_stream(a, messages)
    assert first == again == streamed_text(events)


async def test_history_in_the_messages_shows_in_the_answer(harness: Harness) -> None:
    first = (await complete(harness, [user(QUESTIONS[0])])).json()
    text = first["choices"][0]["message"]["content"]
    follow_up = [user(QUESTIONS[0]), assistant(text), user(QUESTIONS[2])]
    answer = (await complete(harness, follow_up)).json()["choices"][0]["message"]["content"]
    assert "Earlier you asked about" in answer
    assert "daily prayer habit" in answer
    record = harness.simulator.completion_records[-1]
    assert record.messages == follow_up
    assert record.query == QUESTIONS[2]
    assert record.stream is False
    assert record.body is not None
    assert record.body["auto_routing"] is True


async def test_a_stream_in_the_v2_shape_without_done(harness: Harness) -> None:
    events, done = await complete_stream(harness, [user(QUESTIONS[3])])
    assert not done
    assert len(events) > 3
    assert all(e["object"] == "chat.completion.chunk" for e in events)
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert finish_reasons(events) == ["stop"]
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    assert events[-1]["choices"][0]["delta"] == {}
    assert streamed_text(events).strip()
    record = harness.simulator.completion_records[-1]
    assert (record.status, record.stream, record.completed) == (200, True, True)


async def test_a_length_instruction_is_obeyed(harness: Harness) -> None:
    messages = [
        {"role": "system", "content": "Keep the answer under 120 characters."},
        user(QUESTIONS[4]),
    ]
    text = (await complete(harness, messages)).json()["choices"][0]["message"]["content"]
    assert len(text) <= 120


async def test_a_chosen_model_is_used(harness: Harness) -> None:
    body = (await complete(harness, [user("Hi")], model="gloo-openai-gpt-5-mini")).json()
    assert body["model"] == "gloo-openai-gpt-5-mini"
    assert body["routing_mechanism"] == "direct_model_selection"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"messages": []}, 400),
        ({"messages": [user("Hi")], "auto_routing": True, "model": "m"}, 400),
        ({"messages": [user("Hi")]}, 400),
        ({"messages": [{"role": "assistant", "content": "only me"}], "auto_routing": True}, 400),
        ({"auto_routing": True}, 422),
        ({"messages": [{"role": "robot", "content": "x"}], "auto_routing": True}, 422),
        ({"messages": [user("Hi")], "auto_routing": True, "stream": "yes"}, 422),
        ({"messages": [user("Hi")], "model_family": "acme"}, 422),
    ],
)
async def test_invalid_requests_are_refused(
    harness: Harness, body: dict[str, Any], status: int
) -> None:
    response = await harness.client.post(V2, json=body, headers=await harness.headers())
    assert response.status_code == status
    assert response.json()["detail"]


@pytest.mark.parametrize("limit", [0, 11, "3"])
async def test_grounded_sources_limit_is_1_to_10(harness: Harness, limit: object) -> None:
    response = await complete(harness, [user("Hi")], path=GROUNDED, sources_limit=limit)
    assert response.status_code == 422


async def test_grounded_streams_send_citations_first(harness: Harness) -> None:
    events, done = await complete_stream(
        harness,
        [user(QUESTIONS[5])],
        path=GROUNDED,
        rag_publisher="Kindred Books",
        sources_limit=2,
        include_citations=True,
    )
    assert not done
    citations = events[0]["citations"]
    assert 1 <= len(citations) <= 2
    assert {c["publisher"] for c in citations} == {"Kindred Books"}
    # The citation shape public V2 clients read: item_title, item_url, author[],
    # publisher, snippets[] (a public Gloo client's GlooCitation, found by the search
    # tool's find_string "item_url"; the Grounded Completions reference on docs.gloo.com).
    assert all(c["item_url"].startswith("https://") for c in citations)
    assert all(c["item_title"] and c["snippets"] and c["author"] for c in citations)
    assert events[0]["choices"] == []
    assert all("citations" not in e for e in events[1:])
    assert finish_reasons(events) == ["stop"]
    assert harness.simulator.completion_records[-1].path == GROUNDED


async def test_grounded_json_answers_cite_only_when_asked(harness: Harness) -> None:
    plain = (await complete(harness, [user(QUESTIONS[6])], path=GROUNDED)).json()
    assert plain["sources_returned"] is True
    assert "citations" not in plain
    cited = (
        await complete(harness, [user(QUESTIONS[6])], path=GROUNDED, include_citations=True)
    ).json()
    assert 1 <= len(cited["citations"]) <= 5


@pytest.mark.parametrize("kind", ["429", "500", "502", "408"])
async def test_http_faults(harness: Harness, kind: str) -> None:
    harness.simulator.inject(kind)
    response = await complete(harness, [user("Hi")], stream=True)
    assert response.status_code == int(kind)
    record = harness.simulator.completion_records[-1]
    assert (record.fault, record.completed) == (kind, False)
    assert (await complete(harness, [user("Hi")])).status_code == 200


async def test_a_stream_error_fails_half_way_with_an_error_object(harness: Harness) -> None:
    harness.simulator.inject("stream_error")
    events, _ = await complete_stream(harness, [user(QUESTIONS[7])])
    assert finish_reasons(events) == ["error"]
    assert events[-1]["error"]["name"] == "PROVIDER_TIMEOUT"
    assert streamed_text(events).strip()
    full, _ = await complete_stream(harness, [user(QUESTIONS[7])])
    assert len(streamed_text(events)) < len(streamed_text(full))


async def test_a_content_filter_stops_before_any_text(harness: Harness) -> None:
    harness.simulator.inject("content_filter", "content_filter")
    events, _ = await complete_stream(harness, [user(QUESTIONS[8])], path=GROUNDED)
    assert finish_reasons(events) == ["content_filter"]
    assert streamed_text(events) == ""
    assert all("citations" not in e for e in events)
    body = (await complete(harness, [user(QUESTIONS[8])])).json()
    assert body["choices"][0]["finish_reason"] == "content_filter"
    assert body["choices"][0]["message"]["content"] == ""


async def test_a_drop_breaks_the_stream_part_way(harness: Harness) -> None:
    harness.simulator.inject("drop")
    with pytest.raises(httpx.RemoteProtocolError):
        await complete_stream(harness, [user(QUESTIONS[9])])
    record = harness.simulator.completion_records[-1]
    assert (record.fault, record.completed) == ("drop", False)


async def test_v2_only_faults_are_a_500_on_the_message_api(harness: Harness) -> None:
    harness.simulator.inject("content_filter")
    response = await harness.ask(QUESTIONS[0])
    assert response.status_code == 500
    assert harness.simulator.message_records[-1].fault == "500"


async def test_a_static_api_key_works(make_harness: HarnessFactory) -> None:
    h = await make_harness(SimulatorConfig(api_keys=frozenset({"key-123"})))
    response = await h.client.post(
        V2,
        json={"messages": [user("Hi")], "auto_routing": True},
        headers={"Authorization": "Bearer key-123"},
    )
    assert response.status_code == 200


async def test_only_post_is_allowed(harness: Harness) -> None:
    response = await harness.client.get(V2, headers=await harness.headers())
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_asked_lists_both_apis_and_names_v2_conversations(harness: Harness) -> None:
    """``Simulator.asked``: every question on either API, oldest first; a V2 record says
    which conversation it continued (derived from the history sent, as V2 has no chat id)."""
    sim = harness.simulator
    first = (await complete(harness, [user(QUESTIONS[0])])).json()
    text = first["choices"][0]["message"]["content"]
    v1 = (await harness.ask(QUESTIONS[1])).json()
    await harness.ask(QUESTIONS[2], chat_id=v1["chat_id"])
    await complete(harness, [user(QUESTIONS[0]), assistant(text), user(QUESTIONS[3])])
    await complete(harness, [user(QUESTIONS[4])], path=GROUNDED)
    await complete(harness, [user(QUESTIONS[0])])  # a new conversation, the same opening

    asked = sim.asked
    assert [r.query for r in asked] == [QUESTIONS[n] for n in (0, 1, 2, 3, 4, 0)]
    assert [r.path for r in asked] == [V2, "/ai/v1/message", "/ai/v1/message", V2, GROUNDED, V2]
    assert asked == sorted(sim.message_records + sim.completion_records, key=sim.requests.index)
    opened, v1_first, v1_next, follow_up, other, again = asked
    # The Message API: the chat ids Gloo hands out and the client sends back.
    assert v1_first.chat_id is None
    assert v1_next.chat_id == v1_first.response_chat_id == v1["chat_id"]
    # V2: no earlier turns → continued nothing; earlier turns sent → the same conversation.
    assert opened.chat_id is None
    assert opened.response_chat_id is not None
    assert follow_up.chat_id == follow_up.response_chat_id == opened.response_chat_id
    assert other.chat_id is None
    assert other.response_chat_id not in (None, opened.response_chat_id)
    # Stateless: a conversation is known by its first question only.
    assert again.chat_id is None
    assert again.response_chat_id == opened.response_chat_id


async def test_a_refused_v2_request_names_no_answering_conversation(harness: Harness) -> None:
    harness.simulator.inject("500")
    response = await complete(harness, [user("Hi"), assistant("Hello."), user("And you?")])
    assert response.status_code == 500
    (record,) = harness.simulator.asked
    assert record.chat_id is not None  # it did continue a conversation
    assert record.response_chat_id is None  # but nothing answered in it
