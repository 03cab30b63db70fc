"""The Completions V2 backend: ``POST /ai/v2/chat/completions`` and its ``/grounded`` variant.

Gloo documents its Chat (Message) API as deprecated in favour of Completions V2: an
OpenAI-style chat-completions endpoint with Gloo's model routing. This module implements
the same :class:`~core.gloo.backend.GlooBackend` seam on it.

Wire (from Gloo's API reference and guides):

* Request: ``messages`` (``role``/``content``), exactly one routing mechanism, ``stream``.
  ``settings.gloo_completions_model`` set sends ``model``; unset sends ``auto_routing:
  true`` (Gloo's recommended "AI Core" routing), never both.
* A request with publishers goes to the grounded route with ``rag_publisher`` (one name:
  the first publisher of the channel; V2 takes no list), ``sources_limit`` clamped to
  Gloo's 1..10 and ``include_citations: true`` when sources are wanted. With
  ``grounded_by_default`` (``GLOO_GROUNDED_BY_DEFAULT``, on) a channel without publishers
  that wants sources goes there too, with Gloo's default publisher ``GlooGrounded``.
* Routes are settings (``GLOO_COMPLETIONS_PATH``, ``GLOO_GROUNDED_PATH``, defaulting to the
  API reference's). A 404 tries the other known form (:data:`ROUTE_FORMS`: the newer
  cookbook recipes call ``/ai/v2/guarded/chat/completions`` and
  ``/ai/v2/grounded/chat/completions``) once; the one that answers is kept for the life
  of the process and logged (``gloo.route.fallback``); both 404 is
  :class:`~core.gloo.errors.GlooRouteNotFound`.
* Citations are read as Gloo sends them, ``{item_title, item_url, author[], publisher,
  snippets[]}``, beside the older ``title``/``url``/``snippet`` names.
* Streams are SSE ``data:`` chunks with ``choices[0].delta.content``; they end with a
  chunk whose ``finish_reason`` is set, without ``data: [DONE]`` (accepted if present).
  Grounded streams send the citations as the first event, before any content; citations
  (or ``sources``) are read wherever an event or the JSON answer carries them, through
  :func:`core.gloo.sources.normalize_sources`.

Decisions where the documentation leaves room:

* ``finish_reason: "stop"`` ends a good answer. ``"length"`` keeps the (truncated) text as
  the answer and logs ``gloo.completion.truncated``: the user gets what was written.
* ``finish_reason: "error"`` (or an in-band ``error`` object / ``event: error``) raises
  :class:`GlooCompletionError` (its ``error`` object's ``code`` and ``name``, e.g. 2001
  ``PROVIDER_TIMEOUT``), always retryable: no undocumented ``error.retryable`` is read.
  Before any text it is retried like a 5xx; after text it becomes
  :class:`~core.gloo.errors.GlooStreamInterrupted` (the partial answer stays visible).
* ``finish_reason: "content_filter"`` raises :class:`GlooContentFiltered`: terminal, never
  retried, never turned into "interrupted" (even after text). It is a
  :class:`~core.gloo.errors.GlooDeclined`, so the user hears that Gloo declined to answer
  that question (:data:`core.messages.DECLINED`).
* A stream that ends without any ``finish_reason`` was cut short: a
  :class:`~core.gloo.errors.GlooProtocolError` (interrupted after text).
* V2 has no ``character_limit``, ``intent`` or ``suggestions``. A character limit becomes a
  short system instruction; ``intent`` is not sent; answers carry no suggestions.
  ``enable_sources=False`` or ``sources_limit=0`` asks for no citations and shows none.

State: V2 is stateless, and so is this backend: it reads no store. A request without a
``chat_id`` gets a locally minted one (uuid4). It wants up to :data:`HISTORY_TURNS` earlier
turns (:attr:`CompletionsBackend.history_turns`, 0 with a zero budget), which the
conversation service reads from its records and hands over in
:attr:`~core.gloo.backend.GlooRequest.history`. Of those, the newest go first into a budget
of ``history_chars`` characters that the current question also counts against; whole turns
are dropped, oldest first, and the current question is never cut. Gloo keeps no V2 chats
(``keeps_chats`` is false), so the service shows this backend's chats from its own records
(see :meth:`CompletionsBackend.history`).

Auth, HTTP errors, retries and stream relaying are shared with the Message backend
(:class:`core.gloo.http_backend.HttpBackendBase`, :func:`core.gloo.stream.relay_stream`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Awaitable, Mapping, Sequence
from contextlib import AsyncExitStack, aclosing
from functools import partial
from typing import Literal, NotRequired, TypedDict

import httpx
import structlog

from core.gloo.auth import Authenticator
from core.gloo.backend import GlooAnswer, GlooEvent, GlooRequest, Turn
from core.gloo.errors import (
    GlooCompletionError,
    GlooContentFiltered,
    GlooNotFound,
    GlooProtocolError,
    GlooRouteNotFound,
)
from core.gloo.http_backend import HttpBackendBase
from core.gloo.http_errors import transport_errors
from core.gloo.retry import RetryPolicy
from core.gloo.sources import normalize_sources
from core.gloo.stream import StreamPayload, relay_stream, single_answer
from core.gloo.wire import as_mapping, get_str, json_object
from core.types import ChatHistory

log = structlog.get_logger(__name__)

COMPLETIONS_PATH = "/ai/v2/chat/completions"
GROUNDED_PATH = "/ai/v2/chat/completions/grounded"
#: The forms newer GlooDeveloper/gloo-ai-docs-cookbook recipes (completions-grounded) call.
GUARDED_PATH = "/ai/v2/guarded/chat/completions"
GROUNDED_NEWER_PATH = "/ai/v2/grounded/chat/completions"
RouteKind = Literal["completions", "grounded"]
#: Every known form of each route, the API reference's first.
ROUTE_FORMS: dict[RouteKind, tuple[str, str]] = {
    "completions": (COMPLETIONS_PATH, GUARDED_PATH),
    "grounded": (GROUNDED_PATH, GROUNDED_NEWER_PATH),
}
#: Gloo's default publisher for grounded completions (the API reference: ``rag_publisher``
#: "Defaults to GlooGrounded when omitted"); sent explicitly for channels without one.
DEFAULT_RAG_PUBLISHER = "GlooGrounded"

#: Gloo's documented range for ``sources_limit`` on the grounded endpoint.
SOURCES_LIMIT_RANGE = (1, 10)
#: How many earlier turns are asked for the history budget (the budget decides the rest).
HISTORY_TURNS = 50

_JSON_ACCEPT = "application/json"
_STREAM_ACCEPT = "text/event-stream, application/json"
_CITATION_KEYS = ("citations", "sources")


# --- wire ----------------------------------------------------------------------------------


class ChatMessage(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


class CompletionRequestBody(TypedDict):
    """``POST /ai/v2/chat/completions[/grounded]`` JSON body (the fields we send)."""

    messages: list[ChatMessage]
    stream: bool
    auto_routing: NotRequired[bool]
    model: NotRequired[str]
    model_family: NotRequired[str]
    tradition: NotRequired[str]
    temperature: NotRequired[float]
    max_tokens: NotRequired[int]
    rag_publisher: NotRequired[str]
    sources_limit: NotRequired[int]
    include_citations: NotRequired[bool]


def clamp_sources_limit(limit: int) -> int:
    low, high = SOURCES_LIMIT_RANGE
    return max(low, min(high, limit))


def select_turns(turns: Sequence[Turn], question: str, budget: int) -> list[Turn]:
    """The most recent whole turns of ``turns`` (oldest first) that fit ``budget``
    characters together with ``question``. A turn is its question plus its answer."""
    remaining = budget - len(question)
    picked: list[Turn] = []
    for turn in reversed(turns):
        size = len(turn.question) + len(turn.answer)
        if size > remaining:
            break
        picked.append(turn)
        remaining -= size
    picked.reverse()
    return picked


def build_messages(request: GlooRequest, turns: Sequence[Turn]) -> list[ChatMessage]:
    """The ``messages`` list: an optional length instruction, earlier turns, the question."""
    messages: list[ChatMessage] = []
    if request.character_limit:
        messages.append(
            {
                "role": "system",
                "content": f"Keep the answer under {request.character_limit} characters.",
            }
        )
    for turn in turns:
        messages.append({"role": "user", "content": turn.question})
        messages.append({"role": "assistant", "content": turn.answer})
    messages.append({"role": "user", "content": request.query})
    return messages


def wants_sources(request: GlooRequest) -> bool:
    return request.enable_sources is not False and request.sources_limit != 0


def is_grounded(request: GlooRequest, *, by_default: bool = False) -> bool:
    """Grounded when the channel names publishers, or (``by_default``) whenever it wants
    sources: then Gloo's default publisher answers, as Message API answers carry sources."""
    if any(p.strip() for p in request.publishers):
        return True
    return by_default and wants_sources(request)


def build_completion_body(
    request: GlooRequest,
    turns: Sequence[Turn],
    *,
    model: str | None,
    stream: bool,
    grounded_by_default: bool = False,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> CompletionRequestBody:
    """The JSON body for ``request`` with ``turns`` of history (see the module notes).

    Routing (exactly one, as the V2 reference requires): the channel's ``model_family``,
    else ``model``, else ``auto_routing``. ``tradition`` is sent as set, except
    ``not_faith_specific`` without a named model: public clients report Gloo refusing that
    pair with a 422 ("Model is required when tradition is set to not_faith_specific"), and
    measured the same injected prompt for it as for no tradition, so it is left out.
    """
    body: CompletionRequestBody = {
        "messages": build_messages(request, turns),
        "stream": stream,
    }
    if request.model_family:
        body["model_family"] = request.model_family
    elif model:
        body["model"] = model
    else:
        body["auto_routing"] = True
    if request.tradition:
        if request.tradition == "not_faith_specific" and "model" not in body:
            log.debug("gloo.completion.tradition_omitted", tradition=request.tradition)
        else:
            body["tradition"] = request.tradition
    if temperature is not None:
        body["temperature"] = temperature
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    publishers = [p.strip() for p in request.publishers if p.strip()]
    if publishers or is_grounded(request, by_default=grounded_by_default):
        if len(publishers) > 1:
            log.debug("gloo.completion.publishers_trimmed", used=publishers[0], given=publishers)
        body["rag_publisher"] = publishers[0] if publishers else DEFAULT_RAG_PUBLISHER
        if wants_sources(request):
            body["include_citations"] = True
            if request.sources_limit is not None:
                body["sources_limit"] = clamp_sources_limit(request.sources_limit)
    return body


def alternate_route(kind: RouteKind, path: str) -> str:
    """The other known form of ``kind``'s route (a custom path falls back to the
    documented one)."""
    documented, newer = ROUTE_FORMS[kind]
    if path == documented:
        return newer
    return documented


class CompletionAccumulator:
    """Builds one answer from V2 payloads (stream chunks or the whole JSON answer)."""

    def __init__(
        self, chat_id: str, *, sources_limit: int | None = None, keep_sources: bool = True
    ) -> None:
        self._chat_id = chat_id
        self._sources_limit = sources_limit
        self._keep_sources = keep_sources
        self._text = ""
        self._citations: object = None
        self._model: str | None = None
        self._completion_id: str | None = None
        self.finish_reason: str | None = None
        self.chunks = 0

    @property
    def text(self) -> str:
        return self._text

    def add(self, payload: StreamPayload) -> str:
        """Take one payload; return the text it adds. Raises for error/filter outcomes."""
        self.chunks += 1
        if isinstance(payload, str):
            self._text += payload  # tolerated: plain text in an SSE data line
            return payload
        self._remember(payload)
        choice = _first_choice(payload)
        error = _error_object(payload, choice)
        reason = get_str(choice, "finish_reason") if choice is not None else None
        if error is not None and reason in (None, "error"):
            reason = "error"
        added = ""
        if choice is not None:
            content = _choice_text(choice)
            if content:
                self._text += content
                added = content
        if reason is not None:
            self.finish_reason = reason
            if reason == "error":
                raise _completion_error(error, payload)
            if reason == "content_filter":
                log.warning("gloo.completion.content_filter", chars=len(self._text))
                raise GlooContentFiltered(
                    "Gloo's content filter stopped the answer",
                    partial_text=self._text,
                    detail=dict(payload),
                )
        return added

    def finish(self) -> GlooAnswer:
        if self.finish_reason is None:
            raise GlooProtocolError(
                "Gloo's completion ended without a finish_reason", detail={"chunks": self.chunks}
            )
        if self.finish_reason == "length":
            log.warning("gloo.completion.truncated", chars=len(self._text))
        elif self.finish_reason != "stop":
            log.info("gloo.completion.finish_reason", finish_reason=self.finish_reason)
        sources = (
            normalize_sources(self._citations, self._sources_limit) if self._keep_sources else ()
        )
        if not self._text.strip():
            raise GlooProtocolError("Gloo returned an empty answer", detail={"chunks": self.chunks})
        return GlooAnswer(
            chat_id=self._chat_id,
            text=self._text,
            sources=sources,
            message_id=self._completion_id,
            model=self._model,
        )

    def _remember(self, payload: Mapping[str, object]) -> None:
        model = get_str(payload, "model")
        if model:
            self._model = model.strip()
        completion_id = get_str(payload, "id")
        if completion_id:
            self._completion_id = completion_id.strip()
        for key in _CITATION_KEYS:
            value = payload.get(key)
            if isinstance(value, list) and value:
                self._citations = value
                return


def _first_choice(payload: Mapping[str, object]) -> Mapping[str, object] | None:
    choices = payload.get("choices")
    if isinstance(choices, list) and choices:
        return as_mapping(choices[0])
    return None


def _choice_text(choice: Mapping[str, object]) -> str:
    """``delta.content`` (a stream chunk) or ``message.content`` (a whole answer)."""
    for key in ("delta", "message"):
        part = as_mapping(choice.get(key))
        if part is not None:
            content = part.get("content")
            if isinstance(content, str):
                return content
    return ""


def _error_object(
    payload: Mapping[str, object], choice: Mapping[str, object] | None
) -> Mapping[str, object] | None:
    """The structured error of a failed completion, if this payload carries one."""
    for holder in (payload, choice):
        if holder is None:
            continue
        error = holder.get("error")
        nested = as_mapping(error)
        if nested is not None:
            return nested
        if isinstance(error, str) and error.strip():
            return {"message": error}
    if payload.get("success") is False:  # an SSE ``event: error`` (see StreamParser)
        return {"message": get_str(payload, "message") or "Gloo sent an error event"}
    return None


def _completion_error(
    error: Mapping[str, object] | None, payload: Mapping[str, object]
) -> GlooCompletionError:
    error = error or {}
    name = get_str(error, "name", "type")
    code_value = error.get("code")
    code = (
        str(code_value)
        if isinstance(code_value, str | int) and not isinstance(code_value, bool)
        else None
    )
    summary = get_str(error, "message", "detail") or "no detail"
    label = f" ({name or code})" if name or code else ""
    message = f"Gloo failed the completion{label}: {summary}"
    # Retried (before any text) whatever the object says: Gloo's streaming-failures guide
    # makes finish_reason "error" the retryable signal, and documents only ``code`` and
    # ``name`` on the error object; a ``retryable`` field is not part of that contract.
    log.warning("gloo.completion.error", name=name, code=code, message=summary[:200])
    return GlooCompletionError(message, name=name, code=code, detail=dict(payload))


# --- the backend ---------------------------------------------------------------------------


class CompletionsBackend(HttpBackendBase):
    """:class:`~core.gloo.backend.GlooBackend` for Gloo's Completions V2 API."""

    offers_suggestions = False
    keeps_chats = False

    def __init__(
        self,
        http: httpx.AsyncClient,
        auth: Authenticator,
        api_url: str,
        *,
        retry: RetryPolicy | None = None,
        model: str | None = None,
        history_chars: int = 12_000,
        stream_enabled: bool = True,
        completions_path: str = COMPLETIONS_PATH,
        grounded_path: str = GROUNDED_PATH,
        grounded_by_default: bool = False,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> None:
        super().__init__(http, auth, api_url, retry=retry, stream_enabled=stream_enabled)
        if history_chars < 0:
            raise ValueError("history_chars must not be negative")
        #: The route in use per kind; a 404 swaps in the other known form for good.
        self.routes: dict[RouteKind, str] = {
            "completions": completions_path,
            "grounded": grounded_path,
        }
        self._grounded_by_default = grounded_by_default
        self._temperature = temperature
        self._max_tokens = max_tokens
        self._model = model.strip() if model and model.strip() else None
        self._history_chars = history_chars

    @property
    def model(self) -> str | None:
        return self._model

    @property
    def history_turns(self) -> int:
        """How many earlier turns a request should carry (none with a zero budget)."""
        return HISTORY_TURNS if self._history_chars > 0 else 0

    # --- GlooBackend -------------------------------------------------------------------

    async def send(self, request: GlooRequest) -> GlooAnswer:
        """Ask and wait for the whole answer; retried under the policy (deadline included)."""
        chat_id, body = self._prepare(request, stream=False)
        return await self._retry.run(
            lambda: self._send_once(request, chat_id, body), operation="completion"
        )

    async def stream(self, request: GlooRequest) -> AsyncGenerator[GlooEvent, None]:
        """Yield :class:`~core.gloo.backend.GlooDelta` pieces, then one answer.

        Retries happen only before the first text (see :func:`relay_stream`); a content
        filter is raised as :class:`GlooContentFiltered` even after text.
        """
        if not self._stream_enabled:
            async with aclosing(single_answer(lambda: self.send(request))) as answered:
                async for event in answered:
                    yield event
            return
        chat_id, body = self._prepare(request, stream=True)
        open_attempt = partial(
            self._post, kind=self._route_for(request), body=body, accept=_STREAM_ACCEPT
        )
        new_accumulator = partial(self._accumulator, request, chat_id)
        relay = relay_stream(
            self._retry, open_attempt, new_accumulator, final_errors=(GlooContentFiltered,)
        )
        async with aclosing(relay) as events:
            async for event in events:
                yield event

    async def history(self, chat_id: str) -> ChatHistory:
        """What Gloo keeps of the chat: nothing, V2 keeps no chats (no request is made).

        The conversation service shows the chats of a backend that does not ``keeps_chats``
        from its own records instead.
        """
        if not chat_id:
            raise ValueError("history() needs a chat_id")
        return ChatHistory(chat_id=chat_id)

    def searches_sources(self, request: GlooRequest) -> bool:
        """Whether ``request`` goes to the grounded route (Gloo searches its sources)."""
        return is_grounded(request, by_default=self._grounded_by_default)

    # --- internals -----------------------------------------------------------------------

    def _prepare(self, request: GlooRequest, *, stream: bool) -> tuple[str, CompletionRequestBody]:
        """The chat id (minted for a new chat) and the body with the given history that fits."""
        chat_id = request.chat_id or str(uuid.uuid4())
        turns: list[Turn] = []
        if self._history_chars > 0 and request.history:
            turns = select_turns(request.history, request.query, self._history_chars)
            if len(turns) < len(request.history):
                log.debug(
                    "gloo.completion.history_trimmed",
                    chat_id=chat_id,
                    kept=len(turns),
                    given=len(request.history),
                )
        body = build_completion_body(
            request,
            turns,
            model=self._model,
            stream=stream,
            grounded_by_default=self._grounded_by_default,
            temperature=self._temperature,
            max_tokens=self._max_tokens,
        )
        return chat_id, body

    def _route_for(self, request: GlooRequest) -> RouteKind:
        grounded = is_grounded(request, by_default=self._grounded_by_default)
        return "grounded" if grounded else "completions"

    def _accumulator(self, request: GlooRequest, chat_id: str) -> CompletionAccumulator:
        limit = request.sources_limit
        return CompletionAccumulator(
            chat_id,
            sources_limit=clamp_sources_limit(limit) if limit else None,
            keep_sources=wants_sources(request),
        )

    async def _send_once(
        self, request: GlooRequest, chat_id: str, body: CompletionRequestBody
    ) -> GlooAnswer:
        async with AsyncExitStack() as stack:
            response = await self._post(
                stack, kind=self._route_for(request), body=body, accept=_JSON_ACCEPT
            )
            with transport_errors("completion"):
                content = await response.aread()
        accumulator = self._accumulator(request, chat_id)
        accumulator.add(json_object(content, "completion"))
        return accumulator.finish()

    async def _post(
        self, stack: AsyncExitStack, *, kind: RouteKind, body: CompletionRequestBody, accept: str
    ) -> httpx.Response:
        """Send to ``kind``'s route; on a 404 try the other known form once, and keep the
        one that answers for the life of the process (logged ``gloo.route.fallback``)."""
        path = self.routes[kind]
        try:
            return await self._send_to(stack, path, body, accept)
        except GlooNotFound as first:
            other = alternate_route(kind, path)
            try:
                response = await self._send_to(stack, other, body, accept)
            except GlooNotFound as second:
                log.error("gloo.route.not_found", kind=kind, tried=[path, other])
                raise GlooRouteNotFound(
                    f"Gloo answered 404 on {path} and on {other}",
                    status_code=404,
                    detail={"tried": [path, other], "last": second.detail},
                ) from first
            if self.routes[kind] == path:
                self.routes[kind] = other
                log.warning("gloo.route.fallback", kind=kind, configured=path, using=other)
            return response

    def _send_to(
        self, stack: AsyncExitStack, path: str, body: CompletionRequestBody, accept: str
    ) -> Awaitable[httpx.Response]:
        return self._open(
            stack,
            method="POST",
            url=f"{self._base_url}{path}",
            params={},
            json=dict(body),
            accept=accept,
            action="completion",
        )


def build_completions_backend(
    http: httpx.AsyncClient,
    auth: Authenticator,
    api_url: str,
    *,
    retry: RetryPolicy,
    model: str | None,
    history_chars: int,
    stream_enabled: bool,
    completions_path: str = COMPLETIONS_PATH,
    grounded_path: str = GROUNDED_PATH,
    grounded_by_default: bool = False,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> CompletionsBackend:
    """The composition root's one way to build the V2 backend."""
    return CompletionsBackend(
        http,
        auth,
        api_url,
        retry=retry,
        model=model,
        history_chars=history_chars,
        stream_enabled=stream_enabled,
        completions_path=completions_path,
        grounded_path=grounded_path,
        grounded_by_default=grounded_by_default,
        temperature=temperature,
        max_tokens=max_tokens,
    )
