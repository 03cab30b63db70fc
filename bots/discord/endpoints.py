"""Pointing discord.py at another Discord (the test suite's fake, or a proxy).

discord.py keeps its REST base (``discord.http.Route.BASE``) and its default gateway
(``DiscordWebSocket.DEFAULT_GATEWAY``) in class attributes. :func:`discord_endpoints` sets
them for the duration of a ``with`` block and puts the previous values back afterwards, so
one process (the test suite) can run several clients against several fakes in turn without
the override leaking.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import discord.gateway
import discord.http
import yarl

__all__ = ["api_base", "discord_endpoints"]

_VERSIONED = re.compile(r"/api/v\d+$")


def api_base(url: str) -> str:
    """``DISCORD_API_URL`` as discord.py wants it: ending in ``/api/v10`` (added when absent)."""
    url = url.rstrip("/")
    return url if _VERSIONED.search(url) else f"{url}/api/v10"


@contextmanager
def discord_endpoints(api_url: str | None, gateway_url: str | None) -> Iterator[None]:
    """Use ``api_url`` / ``gateway_url`` (when set) inside the block; restore on exit."""
    route = discord.http.Route
    socket = discord.gateway.DiscordWebSocket
    saved_base, saved_gateway = route.BASE, socket.DEFAULT_GATEWAY
    try:
        if api_url:
            route.BASE = api_base(api_url)
        if gateway_url:
            socket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
        yield
    finally:
        route.BASE = saved_base
        socket.DEFAULT_GATEWAY = saved_gateway
