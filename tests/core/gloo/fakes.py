"""A scriptable fake of Gloo's HTTP API (token endpoint, Message API, Chat API).

Each route answers with a list of steps, one per request (the last one repeats); every
request is recorded so tests can count and inspect them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import httpx

API_URL = "https://gloo.test"
TOKEN_URL = "https://auth.gloo.test/oauth2/token"
MESSAGE_URL = f"{API_URL}/ai/v1/message"
CHAT_URL = f"{API_URL}/ai/v1/chat"

Step = Callable[[httpx.Request], Awaitable[httpx.Response]]

# The Message API answer from the seed documentation.
SEED_ANSWER: dict[str, Any] = {
    "chat_id": "cb26ddd31-8cd8-4fb0-a258-6691aa43771c",
    "query_id": "q167f294a-703f-4043-9d55-e929e35b2cf3",
    "message_id": "m126384c0-def0-43ac-9d4e-c099ebf4c309",
    "timestamp": "2025-07-14T18:29:42.060759",
    "success": True,
    "message": "My name is Gloo AI Chat.",
    "model": "us.meta.llama3-3-70b-instruct-v1:0",
    "sources": [],
    "sources_limit": 0,
    "suggestions": [
        "How can I use AI?",
        "What can KALLM help me with?",
        "Can I ask you for advice?",
    ],
    "intent": 0,
}

# The Chat API answer from the seed documentation.
SEED_HISTORY: dict[str, Any] = {
    "user_id": "u8721bb6d-b1c3-4130-b413-e7a56b3403d9",
    "chat_id": "c518c540a-28f1-4055-a8ed-44a5929c63f8",
    "created_at": "2025-07-14T19:04:56.974882",
    "updated_at": "2025-07-14T19:05:03.205307",
    "messages": [
        {
            "query_id": "q912f58e9-135b-4f95-8853-d98f7b5294f6",
            "message_id": "mfdca4b99-c672-4f76-8b48-dcf550be9500",
            "timestamp": "2025-07-14T19:04:58.449394",
            "role": "user",
            "character_limit": 0,
            "stream": False,
            "intent": 0,
            "message": "What is your name?",
            "model": "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
            "publishers": [],
        },
        {
            "query_id": "q912f58e9-135b-4f95-8853-d98f7b5294f6",
            "message_id": "mfc7bc417-c089-4806-8b61-51ba24b09898",
            "timestamp": "2025-07-14T19:04:59.679262",
            "role": "kallm",
            "intent": 0,
            "sources_limit": 0,
            "sources": [],
            "success": True,
            "suggestions": [
                "How can I use AI?",
                "What can KALLM help me with?",
                "Can I ask you for advice?",
            ],
            "message": "My name is Gloo AI Chat. How can I assist you today?",
            "model": "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
        },
    ],
    "pin": False,
    "summary": None,
    "title": "User Asks About AI's Name",
}


class Route:
    def __init__(self, *steps: Step) -> None:
        self.calls: list[httpx.Request] = []
        self._steps: list[Step] = list(steps)

    def script(self, *steps: Step) -> None:
        """Answer the next requests with ``steps`` in order; the last one repeats."""
        self._steps = list(steps)
        self.calls.clear()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        step = self._steps[min(len(self.calls), len(self._steps)) - 1]
        return await step(request)

    @property
    def count(self) -> int:
        return len(self.calls)

    def json_bodies(self) -> list[Any]:
        return [json.loads(call.content) for call in self.calls]


class FakeGloo:
    def __init__(self) -> None:
        self.issued: list[str] = []
        self.expires_in: object = 3600
        self.token = Route(self.issue_token)
        self.message = Route(json_reply(SEED_ANSWER))
        self.chat = Route(json_reply(SEED_HISTORY))

    async def issue_token(self, request: httpx.Request) -> httpx.Response:
        # Yield a few times so concurrent callers really overlap with this request.
        for _ in range(5):
            await asyncio.sleep(0)
        token = f"tok-{len(self.issued) + 1}"
        self.issued.append(token)
        return httpx.Response(
            200, json={"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
        )

    async def handle(self, request: httpx.Request) -> httpx.Response:
        url = request.url.copy_with(query=None)
        if str(url) == TOKEN_URL:
            return await self.token(request)
        if str(url) == MESSAGE_URL:
            return await self.message(request)
        if str(url) == CHAT_URL:
            return await self.chat(request)
        return httpx.Response(404, json={"detail": "Not Found"})


def json_reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Step:
    async def step(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=payload, headers=headers)

    return step


def text_reply(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Step:
    async def step(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text=body, headers=headers)

    return step


def raise_error(exc_type: type[httpx.RequestError], message: str = "boom") -> Step:
    async def step(request: httpx.Request) -> httpx.Response:
        raise exc_type(message, request=request)

    return step


class _ChunkedBody(httpx.AsyncByteStream):
    """A response body arriving in chunks, optionally breaking; records when it is closed."""

    def __init__(
        self,
        request: httpx.Request,
        chunks: Sequence[str],
        then_raise: type[httpx.RequestError] | None,
        closed: list[bool] | None,
    ) -> None:
        self._request = request
        self._chunks = chunks
        self._then_raise = then_raise
        self._closed = closed

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            await asyncio.sleep(0)
            yield chunk.encode()
        if self._then_raise is not None:
            raise self._then_raise("connection lost", request=self._request)

    async def aclose(self) -> None:
        if self._closed is not None:
            self._closed.append(True)


def stream_reply(
    chunks: Sequence[str],
    *,
    then_raise: type[httpx.RequestError] | None = None,
    content_type: str = "text/event-stream",
    closed: list[bool] | None = None,
) -> Step:
    """A 200 whose body arrives in ``chunks``, optionally breaking with ``then_raise``."""

    async def step(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            stream=_ChunkedBody(request, chunks, then_raise, closed),
            headers={"content-type": content_type},
        )

    return step


def sse(*events: Any, done: bool = True) -> list[str]:
    """SSE chunks: dicts are sent as JSON ``data:`` events, strings verbatim as data."""
    chunks = [
        f"data: {json.dumps(event) if not isinstance(event, str) else event}\n\n"
        for event in events
    ]
    if done:
        chunks.append("data: [DONE]\n\n")
    return chunks


def bearer(request: httpx.Request) -> str:
    return request.headers["Authorization"].removeprefix("Bearer ")
