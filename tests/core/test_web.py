"""The serving process's web side: starting an app, health, dialable URLs."""

from __future__ import annotations

import httpx
import pytest
from aiohttp import web

from core.web import dialable_url, start_web


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("0.0.0.0", "http://127.0.0.1:3000"),  # noqa: S104
        ("", "http://127.0.0.1:3000"),
        ("::", "http://[::1]:3000"),
        ("::1", "http://[::1]:3000"),
        ("10.0.0.5", "http://10.0.0.5:3000"),
    ],
)
def test_dialable_url(host: str, expected: str) -> None:
    assert dialable_url(host, 3000) == expected


async def test_start_web_picks_a_free_port_and_serves() -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/", hello)
    async with await start_web(app, "127.0.0.1", 0) as server:
        assert server.port > 0
        async with httpx.AsyncClient() as client:
            response = await client.get(server.url + "/")
    assert response.text == "hi"
