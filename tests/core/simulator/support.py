"""Helpers shared by the simulator tests: a client harness, stream parsing, a fake clock."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from core.simulator import Simulator

QUESTIONS = (
    "How do I build a daily prayer habit when life is busy?",
    "What does the Bible say about forgiveness?",
    "How can our small group welcome newcomers?",
    "Why is gratitude good for mental health?",
    "What are practical ways to serve my neighbours?",
    "How should I read Psalms for encouragement?",
    "What is a healthy rhythm of rest each week?",
    "How do I talk with my teenager about faith?",
    "What can churches learn from Barna research on Gen Z?",
    "How do I start journaling?",
    "Explain the history of the Lord's Prayer",
    "How can volunteers avoid burnout?",
)

BOT_CLIENT_ID = "bot-client"
BOT_SECRET = "bot-secret"

NON_STREAM_KEYS = {
    "chat_id",
    "query_id",
    "message_id",
    "timestamp",
    "success",
    "message",
    "model",
    "sources",
    "sources_limit",
    "suggestions",
    "intent",
}


@dataclass
class StreamResult:
    status: int
    headers: httpx.Headers
    events: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    headers_after: float = 0.0
    first_event_after: float | None = None
    event_times: list[float] = field(default_factory=list)

    def text(self, text_mode: str = "delta") -> str:
        messages = [str(e.get("message", "")) for e in self.events]
        if text_mode == "cumulative":
            return messages[-1] if messages else ""
        return "".join(messages)


def parse_event_line(line: str) -> tuple[str, dict[str, Any] | None]:
    """("event", payload) for a data line, ("done", None) for [DONE], ("skip", None) else."""
    stripped = line.strip()
    if not stripped:
        return "skip", None
    if stripped.startswith("data:"):
        data = stripped[len("data:") :].strip()
        if data == "[DONE]":
            return "done", None
        return "event", json.loads(data)
    return "event", json.loads(stripped)


@dataclass
class Harness:
    """An httpx client talking to a simulator, in process or over a real socket."""

    mode: str
    simulator: Simulator
    client: httpx.AsyncClient
    _token: str | None = None

    async def token(self, client_id: str = BOT_CLIENT_ID, secret: str = BOT_SECRET) -> str:
        response = await self.client.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials", "scope": "api/access"},
            auth=(client_id, secret),
        )
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        assert isinstance(token, str)
        return token

    async def headers(self) -> dict[str, str]:
        if self._token is None:
            self._token = await self.token()
        return {"Authorization": f"Bearer {self._token}"}

    async def ask(
        self,
        query: str | None,
        *,
        params: dict[str, str] | None = None,
        http_timeout: httpx.Timeout | None = None,
        **body: Any,
    ) -> httpx.Response:
        payload: dict[str, Any] = dict(body)
        if query is not None:
            payload["query"] = query
        extra: dict[str, Any] = {}
        if http_timeout is not None:
            extra["timeout"] = http_timeout
        return await self.client.post(
            "/ai/v1/message",
            json=payload,
            params=params,
            headers=await self.headers(),
            **extra,
        )

    async def ask_stream(
        self,
        query: str,
        *,
        params: dict[str, str] | None = None,
        http_timeout: httpx.Timeout | None = None,
        received: list[dict[str, Any]] | None = None,
        **body: Any,
    ) -> StreamResult:
        """Stream an answer; events also go to ``received`` as they arrive (for drop tests)."""
        payload: dict[str, Any] = {"query": query, "stream": True, **body}
        headers = await self.headers()
        extra: dict[str, Any] = {}
        if http_timeout is not None:
            extra["timeout"] = http_timeout
        started = time.perf_counter()
        async with self.client.stream(
            "POST", "/ai/v1/message", json=payload, params=params, headers=headers, **extra
        ) as response:
            result = StreamResult(
                status=response.status_code,
                headers=response.headers,
                headers_after=time.perf_counter() - started,
            )
            if response.status_code != 200:
                await response.aread()
                return result
            async for line in response.aiter_lines():
                kind, event = parse_event_line(line)
                if kind == "done":
                    result.done = True
                elif event is not None:
                    elapsed = time.perf_counter() - started
                    if result.first_event_after is None:
                        result.first_event_after = elapsed
                    result.event_times.append(elapsed)
                    result.events.append(event)
                    if received is not None:
                        received.append(event)
        return result

    async def get_chat(self, chat_id: str) -> httpx.Response:
        return await self.client.get(
            "/ai/v1/chat", params={"chat_id": chat_id}, headers=await self.headers()
        )
