"""One exception tree for everything that can go wrong talking to Gloo.

Modelled on httpx's tree: catch :class:`GlooError` for all of them, or a branch
(:class:`GlooHTTPError`, :class:`GlooTransportError`) for a family.
"""

from __future__ import annotations

from typing import Any


class GlooError(Exception):
    """Base of every Gloo failure. ``retryable`` tells the retry policy whether to try again."""

    retryable: bool = False

    def __init__(self, message: str, *, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class GlooConfigError(GlooError):
    """Credentials or settings are missing or inconsistent; nothing was sent."""


# --- transport level: no HTTP response at all ---------------------------------------------


class GlooTransportError(GlooError):
    """The request did not produce a response."""

    retryable = True


class GlooTimeout(GlooTransportError):
    """Connect, read or pool timeout, or the total deadline ran out."""


class GlooConnectionError(GlooTransportError):
    """Could not connect, or the connection broke before a response."""


class GlooStreamInterrupted(GlooTransportError):
    """A stream broke after it started. ``partial_text`` is what had arrived.

    Once text has reached the user this is never retried (the answer would be doubled).
    """

    def __init__(self, message: str, *, partial_text: str = "", detail: Any = None) -> None:
        super().__init__(message, detail=detail)
        self.partial_text = partial_text


class GlooProtocolError(GlooError):
    """Gloo answered 2xx with a body we cannot understand."""

    retryable = True


# --- HTTP level: a response with an error status ------------------------------------------


class GlooHTTPError(GlooError):
    """Gloo answered with an error status. ``detail`` holds the parsed body."""

    status_code: int = 0

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        detail: Any = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, detail=detail)
        self.status_code = status_code
        self.code = code
        self.retry_after = retry_after


class GlooBadRequest(GlooHTTPError):
    """400."""


class GlooAuthError(GlooHTTPError):
    """401: the token was refused after one re-authentication, or the token endpoint said no."""


class GlooPermissionDenied(GlooHTTPError):
    """403."""


class GlooNotFound(GlooHTTPError):
    """404, e.g. an unknown chat_id."""


class GlooRequestTimeout(GlooHTTPError):
    """408."""

    retryable = True


class GlooValidationError(GlooHTTPError):
    """422: FastAPI validation; ``detail`` is its list of problems."""


class GlooRateLimited(GlooHTTPError):
    """429. ``retry_after`` is seconds from ``Retry-After`` or ``X-RateLimit-Reset`` if given."""

    retryable = True


class GlooServerError(GlooHTTPError):
    """5xx."""

    retryable = True


class GlooUsageLimited(GlooRateLimited):
    """429 for the organisation's Gloo usage (spending) limit, not its request rate.

    Gloo answers 429 both for "request rate or spending limit for your plan" (API
    reference, Errors: HTTP status codes). Its spending-limit body is not published, so
    this is raised for a 429 whose body speaks of a budget, quota, spending or usage
    limit, and for a 429 that outlasted the retry budget (refused again after its retry,
    or with a ``Retry-After`` past the policy's longest wait). Never retried: waiting
    seconds does not lift a spending limit.
    """

    retryable = False


class GlooDeclined(GlooError):
    """Gloo declined to answer this question (guardrails, content policy, a content
    filter). Never retried: the same question is declined the same way."""


class GlooRequestBlocked(GlooHTTPError, GlooDeclined):
    """403 whose body says the request was blocked (guardrails, content policy); not a
    permission or sign-in problem."""

    retryable = False


class GlooRouteNotFound(GlooHTTPError):
    """404 from every known form of a route: the account (or the API URL) offers none."""

    retryable = False


class GlooMissingChatId(GlooProtocolError):
    """A new chat's stream ended without a ``chat_id``: complete it unstreamed."""

    def __init__(self, message: str, *, partial_text: str, detail: object = None) -> None:
        super().__init__(message, detail=detail)
        self.partial_text = partial_text


class GlooCompletionError(GlooError):
    """Gloo ended a completion with ``finish_reason: "error"`` (or an in-band error object).

    ``name`` and ``code`` are Gloo's symbolic and numeric error codes when given.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        name: str | None = None,
        code: str | None = None,
        detail: Any = None,
    ) -> None:
        super().__init__(message, detail=detail)
        self.name = name
        self.code = code


class GlooContentFiltered(GlooBadRequest, GlooDeclined):
    """Gloo's content filter stopped the answer (``finish_reason: "content_filter"``).

    Terminal: never retried. The HTTP status was a success (the refusal came inside the
    answer), so ``status_code`` is the 200 that carried it.
    """

    def __init__(self, message: str, *, partial_text: str = "", detail: Any = None) -> None:
        super().__init__(message, status_code=200, detail=detail, code="content_filter")
        self.partial_text = partial_text


def error_for_status(status_code: int) -> type[GlooHTTPError]:
    """The exception class for an HTTP error status."""
    if status_code >= 500:
        return GlooServerError
    return _BY_STATUS.get(status_code, GlooHTTPError)


_BY_STATUS: dict[int, type[GlooHTTPError]] = {
    400: GlooBadRequest,
    401: GlooAuthError,
    403: GlooPermissionDenied,
    404: GlooNotFound,
    408: GlooRequestTimeout,
    422: GlooValidationError,
    429: GlooRateLimited,
}
