"""The steps of an answer that surfaces may show: only what really happens.

A question whose request makes Gloo search its sources — a channel that names publishers
(any backend: the search is filtered to them), or Completions V2's grounded route
(:class:`~core.gloo.backend.SearchesSources`) — is answered with
:class:`~core.types.SearchingSources` when it goes to Gloo and
:class:`~core.types.SourcesFound` (the sources the answer shows) just before its reply. Any
other question has no steps: none is invented.
"""

from __future__ import annotations

from core.gloo.backend import GlooBackend, GlooRequest, SearchesSources

__all__ = ["searches_sources"]


def searches_sources(gloo: GlooBackend, request: GlooRequest) -> bool:
    """Whether answering ``request`` makes Gloo search its sources."""
    if any(name.strip() for name in request.publishers):
        return True
    return isinstance(gloo, SearchesSources) and gloo.searches_sources(request)
