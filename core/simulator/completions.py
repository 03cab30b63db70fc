"""Completions V2 in the simulator: request validation, answers and the V2 wire shapes.

The engine (:mod:`core.simulator.engine`) routes ``POST /ai/v2/chat/completions`` and
``POST /ai/v2/chat/completions/grounded`` here after authentication and fault injection;
this module is pure: a parsed JSON body in, a :class:`CompletionParams` (or an
:class:`Invalid` response) out, then the JSON answer or the list of SSE events.

What it simulates (Gloo's V2 reference and guides):

* ``messages`` is required and must not be empty (400); each has a ``role`` (``system``,
  ``user``, ``assistant``) and string ``content``; the question is the last ``user``
  message. Exactly one routing mechanism (``auto_routing: true``, ``model`` or
  ``model_family``) or a 400.
* V2 is stateless: the answer is a pure function of the seed and the messages. Earlier
  ``user`` messages play the part of the chat memory, so a follow-up sent with its history
  opens with "Earlier you asked about ..." exactly as a V1 follow-up does.
* A system message asking to keep the answer "under N characters" is obeyed.
* Grounded: ``rag_publisher`` (default ``GlooGrounded``: the simulator's whole catalogue),
  ``sources_limit`` 1..10 (422 outside), ``include_citations``. Grounded answers cite 1-5
  sources from :mod:`core.simulator.content`; with ``include_citations`` a stream sends them
  as its first event and a JSON answer under ``citations``.
* Streams are SSE ``data:`` chunks in the OpenAI chunk shape, ending with a chunk whose
  ``finish_reason`` is set and no ``[DONE]`` (whatever ``stream_format`` says: that knob
  is for the V1 Message API).
* Request records: V2 sends no chat id, so :func:`conversation_ids` names a conversation
  after its first user message; a record's ``chat_id`` is that id when the request sent
  earlier turns (it continued the conversation) and ``None`` otherwise, and its
  ``response_chat_id`` is the conversation including this turn. Tests compare them the
  way they compare Message API chat ids: continuity means the earlier turns were sent.
* Outcomes other than ``stop`` come from the V2-only fault kinds: ``stream_error`` fails
  half-way with ``finish_reason: "error"`` and a structured ``error`` object;
  ``content_filter`` stops before any text with ``finish_reason: "content_filter"``.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from core.simulator import content

COMPLETIONS_PATH: Final = "/ai/v2/chat/completions"
GROUNDED_PATH: Final = "/ai/v2/chat/completions/grounded"
# The forms newer GlooDeveloper/gloo-ai-docs-cookbook recipes call (completions-grounded).
GUARDED_PATH: Final = "/ai/v2/guarded/chat/completions"
GROUNDED_NEWER_PATH: Final = "/ai/v2/grounded/chat/completions"
DOCUMENTED_PATHS: Final = frozenset({COMPLETIONS_PATH, GROUNDED_PATH})
NEWER_PATHS: Final = frozenset({GUARDED_PATH, GROUNDED_NEWER_PATH})
COMPLETION_PATHS: Final = DOCUMENTED_PATHS | NEWER_PATHS
GROUNDED_PATHS: Final = frozenset({GROUNDED_PATH, GROUNDED_NEWER_PATH})
MODELS_PATH: Final = "/platform/v2/models"

DEFAULT_RAG_PUBLISHER: Final = "GlooGrounded"
MODEL_FAMILIES: Final = ("openai", "anthropic", "google", "open source")
ROLES: Final = ("system", "user", "assistant")
SOURCES_LIMIT_MIN: Final = 1
SOURCES_LIMIT_MAX: Final = 10
DEFAULT_SOURCES_LIMIT: Final = 5

Outcome = Literal["stop", "error", "content_filter"]

_LENGTH_RE = re.compile(r"under\s+(\d+)\s+characters", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Invalid:
    """A request the simulated API refuses: the status and JSON body to answer with."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CompletionParams:
    messages: tuple[tuple[str, str], ...]  # (role, content)
    stream: bool
    model: str | None
    model_family: str | None
    grounded: bool
    rag_publisher: str
    sources_limit: int
    include_citations: bool

    @property
    def question(self) -> str:
        return next(text for role, text in reversed(self.messages) if role == "user")

    @property
    def previous_questions(self) -> list[str]:
        users = [text for role, text in self.messages if role == "user"]
        return users[:-1]

    @property
    def character_limit(self) -> int | None:
        for role, text in self.messages:
            match = _LENGTH_RE.search(text) if role == "system" else None
            if match:
                return int(match.group(1))
        return None


@dataclass(slots=True)
class Completion:
    """A composed V2 answer."""

    completion_id: str
    created: int
    model: str
    routing: str
    text: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    grounded: bool = False
    include_citations: bool = False


def request_summary(payload: Mapping[str, Any]) -> tuple[list[dict[str, Any]] | None, str | None]:
    """For the request record: the ``messages`` as sent and the last user message."""
    raw = payload.get("messages")
    if not isinstance(raw, list):
        return None, None
    messages = [dict(m) for m in raw if isinstance(m, Mapping)]
    question = next(
        (
            m["content"]
            for m in reversed(messages)
            if m.get("role") == "user" and isinstance(m.get("content"), str)
        ),
        None,
    )
    return messages, question


def conversation_id(first_question: str) -> str:
    """A stable id for the V2 conversation that opened with ``first_question``.

    V2 requests carry no chat id; the simulator names a conversation after its first user
    message so that request records can say which conversation a request continued (two
    conversations that open with the same question share the id, as they share answers).
    """
    return "v2-" + hashlib.sha256(first_question.encode("utf-8")).hexdigest()[:16]


def conversation_ids(
    messages: Sequence[Mapping[str, Any]] | None,
) -> tuple[str | None, str | None]:
    """For a V2 request's ``messages``: (the conversation it continued, or ``None`` for a
    request without earlier turns; the conversation including this turn)."""
    users = [
        m["content"]
        for m in messages or ()
        if m.get("role") == "user" and isinstance(m.get("content"), str)
    ]
    if not users:
        return None, None
    conversation = conversation_id(users[0])
    earlier = len(users) > 1 or any(m.get("role") == "assistant" for m in messages or ())
    return (conversation if earlier else None), conversation


def validate(payload: Any, *, grounded: bool) -> CompletionParams | Invalid:
    """Check a V2 body like Gloo does: 422 for type errors, 400 for the documented rules."""
    if not isinstance(payload, dict):
        return _unprocessable(["body"], "Input should be a valid dictionary", payload)
    raw_messages = payload.get("messages")
    if raw_messages is None:
        return _unprocessable(["body", "messages"], "Field required", None)
    if not isinstance(raw_messages, list):
        return _unprocessable(["body", "messages"], "Input should be a valid list", raw_messages)
    if not raw_messages:
        return _bad_request("messages must not be empty")
    messages: list[tuple[str, str]] = []
    for index, item in enumerate(raw_messages):
        role = item.get("role") if isinstance(item, dict) else None
        text = item.get("content") if isinstance(item, dict) else None
        if role not in ROLES or not isinstance(text, str):
            return _unprocessable(
                ["body", "messages", index],
                f"Each message needs a role ({', '.join(ROLES)}) and string content",
                item,
            )
        messages.append((role, text))
    if not any(role == "user" and text.strip() for role, text in messages):
        return _bad_request("messages must contain a non-empty user message")

    auto_routing = payload.get("auto_routing")
    model = payload.get("model")
    family = payload.get("model_family")
    if auto_routing is not None and not isinstance(auto_routing, bool):
        return _unprocessable(["body", "auto_routing"], "Input should be a boolean", auto_routing)
    if model is not None and (not isinstance(model, str) or not model.strip()):
        return _unprocessable(["body", "model"], "Input should be a non-empty string", model)
    if family is not None and family not in MODEL_FAMILIES:
        return _unprocessable(
            ["body", "model_family"], f"Input should be one of {', '.join(MODEL_FAMILIES)}", family
        )
    mechanisms = sum((auto_routing is True, model is not None, family is not None))
    if mechanisms != 1:
        return _bad_request(
            "Exactly one routing mechanism (auto_routing, model, or model_family) must be "
            f"specified; got {mechanisms}"
        )
    stream = payload.get("stream", False)
    if not isinstance(stream, bool):
        return _unprocessable(["body", "stream"], "Input should be a valid boolean", stream)

    publisher = payload.get("rag_publisher", DEFAULT_RAG_PUBLISHER) if grounded else ""
    if not isinstance(publisher, str) or (grounded and not publisher.strip()):
        return _unprocessable(["body", "rag_publisher"], "Input should be a string", publisher)
    limit = payload.get("sources_limit", DEFAULT_SOURCES_LIMIT) if grounded else 0
    if grounded and (
        isinstance(limit, bool)
        or not isinstance(limit, int)
        or not SOURCES_LIMIT_MIN <= limit <= SOURCES_LIMIT_MAX
    ):
        return _unprocessable(
            ["body", "sources_limit"],
            f"Input should be an integer from {SOURCES_LIMIT_MIN} to {SOURCES_LIMIT_MAX}",
            limit,
        )
    citations = payload.get("include_citations", False)
    if not isinstance(citations, bool):
        return _unprocessable(["body", "include_citations"], "Input should be a boolean", citations)
    return CompletionParams(
        messages=tuple(messages),
        stream=stream,
        model=model.strip() if isinstance(model, str) else None,
        model_family=family if isinstance(family, str) else None,
        grounded=grounded,
        rag_publisher=publisher.strip(),
        sources_limit=limit,
        include_citations=grounded and citations,
    )


def citation(source: Mapping[str, Any], style: str = "item") -> dict[str, Any]:
    """One citation in the shape public V2 clients read -- ``item_title``, ``item_url``,
    ``author`` (a list), ``publisher``, ``snippets`` (a list) -- or, for ``"legacy"``, the
    older ``title``/``url``/``snippet`` variant."""
    if style == "legacy":
        return dict(source)
    return {
        "item_title": source["title"],
        "item_url": source["url"],
        "author": [source["author"]],
        "publisher": source["publisher"],
        "snippets": [source["snippet"]],
    }


def compose(
    params: CompletionParams,
    *,
    seed: int,
    default_model: str,
    new_id: Callable[[str], str],
    now: float,
    citation_style: str = "item",
) -> Completion:
    """The answer to ``params``: a pure function of the seed and the messages."""
    digest = hashlib.sha256(
        json.dumps(params.messages, ensure_ascii=False).encode("utf-8")
    ).hexdigest()
    rng = random.Random(f"{seed}:v2:{digest}")
    text = content.compose_answer(rng, params.question, params.previous_questions)
    if params.character_limit:
        text = content.truncate(text, params.character_limit)
    citations: list[dict[str, Any]] = []
    if params.grounded:
        count = min(rng.randint(1, content.MAX_SOURCES), params.sources_limit)
        publishers = (
            () if params.rag_publisher == DEFAULT_RAG_PUBLISHER else (params.rag_publisher,)
        )
        citations = [
            citation(source, citation_style)
            for source in content.compose_sources(
                rng, params.question, count=count, publishers=publishers
            )
        ]
    if params.model:
        model, routing = params.model, "direct_model_selection"
    elif params.model_family:
        model, routing = f"gloo-{params.model_family.replace(' ', '-')}-default", "model_family"
    else:
        model, routing = default_model, "auto_routing"
    return Completion(
        completion_id=new_id("gen-"),
        created=int(now),
        model=model,
        routing=routing,
        text=text,
        citations=citations,
        grounded=params.grounded,
        include_citations=params.include_citations,
    )


def response_body(completion: Completion, outcome: Outcome = "stop") -> dict[str, Any]:
    """The non-streamed ``chat.completion`` answer."""
    text = "" if outcome == "content_filter" else completion.text
    choice: dict[str, Any] = {
        "finish_reason": outcome,
        "index": 0,
        "message": {"role": "assistant", "content": text},
    }
    body = _envelope(completion, "chat.completion")
    body["choices"] = [choice]
    body["usage"] = _usage(completion, text)
    if outcome == "error":
        body["error"] = STREAM_ERROR
    if completion.grounded:
        body["sources_returned"] = bool(completion.citations)
        if completion.include_citations:
            body["citations"] = completion.citations
    return body


#: The structured error object of a failed completion: Gloo's AI error object, whose
#: documented fields are ``code`` (numeric, e.g. 2001) and ``name`` (e.g. PROVIDER_TIMEOUT).
STREAM_ERROR: Final[dict[str, Any]] = {
    "code": 2001,
    "name": "PROVIDER_TIMEOUT",
    "message": "The model provider did not respond in time.",
}


def models_body(default_model: str) -> dict[str, Any]:
    """``GET /platform/v2/models``: ``{"data": [{id, family, name, output_modalities}]}``
    (the registry's shape as glooai/typescript-example's canary reads it)."""
    entries = [
        (default_model, "Anthropic", "Default model"),
        ("gloo-openai-gpt-5-mini", "OpenAI", "GPT-5 Mini"),
        ("gloo-anthropic-claude-haiku-4.5", "Anthropic", "Claude Haiku 4.5"),
        ("gloo-google-gemini-2.5-pro", "Google", "Gemini 2.5 Pro"),
        ("gloo-deepseek-v3.2", "Open Source", "DeepSeek V3.2"),
    ]
    return {
        "data": [
            {"id": model, "family": family, "name": name, "output_modalities": ["text"]}
            for model, family, name in entries
        ]
    }


def stream_frames(
    completion: Completion, words_per_chunk: int, outcome: Outcome = "stop"
) -> list[list[dict[str, Any]]]:
    """The SSE events of a streamed answer, grouped per write (one group per text piece).

    The citations event (grounded, ``include_citations``) leads the first group; the last
    group ends with the ``finish_reason`` chunk.
    """
    lead: list[dict[str, Any]] = []
    if completion.grounded and completion.include_citations and outcome != "content_filter":
        event = _envelope(completion, "chat.completion.citations")
        event["citations"] = completion.citations
        event["choices"] = []
        lead.append(event)
    if outcome == "content_filter":
        return [[_chunk(completion, {}, "content_filter")]]
    pieces = content.split_chunks(completion.text, words_per_chunk) or [""]
    if outcome == "error":
        pieces = pieces[: max(1, len(pieces) // 2)]
    frames = [[_chunk(completion, {"content": piece}, None)] for piece in pieces]
    frames[0][0]["choices"][0]["delta"]["role"] = "assistant"
    frames[0] = lead + frames[0]
    final = _chunk(completion, {}, outcome)
    if outcome == "error":
        final["error"] = STREAM_ERROR
    frames[-1].append(final)
    return frames


def encode_frame(events: list[dict[str, Any]]) -> bytes:
    return b"".join(
        b"data: "
        + json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        + b"\n\n"
        for event in events
    )


def _envelope(completion: Completion, kind: str) -> dict[str, Any]:
    return {
        "id": completion.completion_id,
        "object": kind,
        "created": completion.created,
        "model": completion.model,
        "provider": "Gloo AI",
        "routing_mechanism": completion.routing,
    }


def _chunk(completion: Completion, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    chunk = _envelope(completion, "chat.completion.chunk")
    chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    return chunk


def _usage(completion: Completion, text: str) -> dict[str, int]:
    completion_tokens = content.word_count(text)
    prompt_tokens = 20 + 10 * len(completion.citations)
    return {
        "completion_tokens": completion_tokens,
        "prompt_tokens": prompt_tokens,
        "total_tokens": completion_tokens + prompt_tokens,
    }


def _unprocessable(loc: list[str | int], msg: str, value: Any) -> Invalid:
    return Invalid(
        422, {"detail": [{"type": "value_error", "loc": loc, "msg": msg, "input": value}]}
    )


def _bad_request(message: str) -> Invalid:
    return Invalid(400, {"detail": message, "code": "invalid_request"})
