"""Structured logging (structlog) with secret redaction.

Every record — ours and those of httpx, aiohttp, slack_sdk, discord.py through the stdlib
bridge — passes :class:`Redactor` before it is rendered, so no token, signing secret,
client secret or API key ever reaches the log output.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Final, TextIO
from urllib.parse import unquote

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[REDACTED]"

# Keys whose values are secrets whatever they look like.
_SECRET_KEY = re.compile(
    r"(?i)(^|_)(authorization|token|access_token|secret|client_secret|api_key|apikey|password|signing_secret|encryption_keys)$"
)

# Values that look like credentials wherever they appear in a string.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]{4,}"), rf"\1 {REDACTED}"),
    (re.compile(r"(?i)\bBot\s+[A-Za-z0-9._\-]{30,}"), rf"Bot {REDACTED}"),  # Discord auth header
    (re.compile(r"\bxox[a-z]-[A-Za-z0-9\-]+"), REDACTED),  # Slack bot/user/refresh tokens
    (re.compile(r"\bxapp-[A-Za-z0-9\-]+"), REDACTED),  # Slack app-level tokens
    # JSON Web Tokens (Gloo access tokens among them): header.payload.signature
    (re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"), REDACTED),
    # Discord interaction and webhook tokens travel in URL paths, which discord.py logs at
    # DEBUG: /webhooks/{application_id}/{token}/..., /interactions/{id}/{token}/callback.
    # Whoever holds one may post as the bot in that interaction for 15 minutes.
    (re.compile(r"(/(?:webhooks|interactions)/\d+/)[A-Za-z0-9._\-]+"), rf"\1{REDACTED}"),
    # Slack response_url and incoming-webhook URLs (hooks.slack.com/actions|commands|app|
    # services/...) let whoever holds them post to the channel: keep only the kind.
    (re.compile(r"(hooks\.slack\.com\\?/[a-z]+\\?/)[^\s\"'<>,)]+"), rf"\1{REDACTED}"),
    # Passwords inside URLs (scheme://user:password@host), ``/`` and ``@`` in them too: all
    # up to the last ``@`` goes (a database URL as typed; SQLAlchemy would split at the
    # first ``@`` and name the rest of the password as the host).
    # Not ``host:port/path/@me``, a URL without user info whose path holds an ``@``:
    # digits then ``/``, ``?`` or ``#`` after the colon are a port. The database URL's own
    # password is also a known secret (Settings.secret_values), whatever it starts with.
    (
        re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^:/@\s\"'<>]*:)(?!\d+[/?#])[^\s\"'<>]+@"),
        rf"\1{REDACTED}@",
    ),
    # Slack socket mode: apps.connections.open answers a wss:// URL whose ``ticket`` lets
    # whoever holds it open the app's connection (docs.slack.dev/reference/methods/
    # apps.connections.open); slack_sdk logs that body at DEBUG. The whole query of any
    # wss:// URL goes, and a ``ticket`` parameter of any URL.
    (re.compile(r"(\bwss://[^\s?\"'<>]*\?)[^\s\"'<>]+"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)([?&](?:amp;)?ticket=)[^&\s\"'<>]+"), rf"\1{REDACTED}"),
    (  # Discord bot tokens: base64 user id . timestamp . hmac
        re.compile(r"\b[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,40}\b"),
        REDACTED,
    ),
    (
        re.compile(
            r"(?i)([\"']?(?:[a-z_]*token|[a-z_]*secret|api_?key|password|passwd)"
            r"[\"']?\s*[:=]\s*[\"']?)[^\"'&\s,}]+"
        ),
        rf"\1{REDACTED}",
    ),
)


def url_passwords(url: str) -> list[str]:
    """The password of ``scheme://user:password@host/…`` as written and percent-decoded
    (``[]`` when there is none): everything between the user's ``:`` and the last ``@``,
    so a password holding ``/`` or ``@`` is known whole to :class:`Redactor`."""
    _, sep, rest = url.partition("://")
    userinfo, at, _ = rest.rpartition("@")
    _user, colon, password = userinfo.partition(":")
    if not (sep and at and colon and password):
        return []
    return list(dict.fromkeys((password, unquote(password))))


class Redactor:
    """A structlog processor that scrubs secrets from every value of an event dict."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def _value(self, value: Any, depth: int = 0) -> Any:
        if depth > 6:
            return value
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, Mapping):
            return {
                k: (
                    REDACTED
                    if isinstance(k, str) and _SECRET_KEY.search(k) and v
                    else self._value(v, depth + 1)
                )
                for k, v in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return type(value)(self._value(v, depth + 1) for v in value)
        if isinstance(value, BaseException):
            return self.scrub(f"{type(value).__name__}: {value}")
        if isinstance(value, int | float | bool) or value is None:
            return value
        return self.scrub(str(value))

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        for key in list(event_dict):
            value = event_dict[key]
            if key in ("exc_info", "_record", "_from_structlog"):
                continue
            if _SECRET_KEY.search(key) and value:
                event_dict[key] = REDACTED
            else:
                event_dict[key] = self._value(value)
        return event_dict


class _ScrubRendered:
    """Last line of defence: scrub the rendered line too (tracebacks, foreign messages)."""

    def __init__(self, redactor: Redactor, renderer: Processor) -> None:
        self._redactor = redactor
        self._renderer = renderer

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> str:
        rendered = self._renderer(logger, method_name, event_dict)
        text = rendered if isinstance(rendered, str) else str(rendered)
        return self._redactor.scrub(text)


#: Library messages that say nothing to an operator of this service, moved to DEBUG:
#: discord.py warns at every client it builds that voice needs PyNaCl and davey
#: (discord/client.py, Client.__init__; this bot has no voice), and bolt warns that
#: ``token`` is unused when the process has SLACK_BOT_TOKEN in its environment and passes a
#: client (slack_bolt/app/async_app.py reads the variable itself;
#: slack_bolt/logger/messages.py, warning_token_skipped) — our client carries that token.
LIBRARY_NOTICES: Final[dict[str, tuple[str, ...]]] = {
    "discord.client": ("voice will NOT be supported",),
    "bots.slack.bolt": ("`token` will be unused",),
}


class _OursBelowWarning(logging.Filter):
    """On the handler: at INFO a person reads only our events.

    Our events are structlog's (its records carry the event dict as their ``msg``,
    ``ProcessorFormatter.wrap_for_formatter``); the libraries log through the stdlib
    (httpx, aiohttp, slack_sdk, bolt, discord.py, APScheduler), and their records below
    WARNING show only at ``LOG_LEVEL=DEBUG``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or isinstance(record.msg, dict):
            return True
        return logging.getLogger().isEnabledFor(logging.DEBUG)


class _Demote(logging.Filter):
    """On a library's logger: its records containing one of ``texts`` become DEBUG ones."""

    def __init__(self, texts: tuple[str, ...]) -> None:
        super().__init__()
        self.texts = texts

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not any(text in message for text in self.texts):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def _demote_library_notices() -> None:
    for name, texts in LIBRARY_NOTICES.items():
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, _Demote)]:
            logger.removeFilter(old)
        logger.addFilter(_Demote(texts))


def configure_logging(
    *,
    level: str = "INFO",
    fmt: str = "console",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> Redactor:
    """Route structlog and stdlib logging through one redacting pipeline on ``stream``."""
    redactor = Redactor(secrets)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Processor
    if fmt == "json":
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        # Plain tracebacks: rich's would print every frame's local variables, secrets included.
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, redactor],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _ScrubRendered(redactor, renderer),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(_OursBelowWarning())
    _demote_library_notices()
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Chatty libraries stay at WARNING unless we debug.
    quiet = "DEBUG" if level.upper() == "DEBUG" else "WARNING"
    # APScheduler's job bookkeeping ("Adding job tentatively…", "Added job …") included.
    for name in (
        "httpx",
        "httpcore",
        "aiohttp.access",
        "sqlalchemy.engine",
        "alembic",
        "apscheduler.scheduler",
    ):
        logging.getLogger(name).setLevel(quiet)
    # markdown-it traces every parsing rule it tries at DEBUG, and every answer is parsed
    # (core/text.py), in the console ten times a second (core/console.py): it would bury
    # everything else.
    logging.getLogger("markdown_it").setLevel(logging.WARNING)
    # aiosqlite logs every statement's round trip to its thread ("operation … completed"),
    # from that thread: thousands a minute, none of them about us.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            redactor,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    return redactor


#: What a library's worker thread meets when it answers a loop that has already closed:
#: aiosqlite's, for one, when a connection that failed to open is stopped without waiting
#: (its ``Connection._connect``), racing the process's exit.
LOOP_CLOSED: Final = "Event loop is closed"


def log_thread_failures() -> None:
    """An exception that ends a thread is a log line, its traceback at DEBUG only, instead of
    Python's "Exception in thread …" traceback on stderr (every failure is one sentence)."""
    thread_log = logging.getLogger("gloo_bots.threads")

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        detail = args.exc_value  # logging takes the traceback from it
        if isinstance(args.exc_value, RuntimeError) and str(args.exc_value) == LOOP_CLOSED:
            thread_log.debug("thread.after_loop_closed thread=%s", name, exc_info=detail)
            return
        debugging = thread_log.isEnabledFor(logging.DEBUG)
        thread_log.error(
            "thread.failed thread=%s error=%r",
            name,
            args.exc_value,
            exc_info=detail if debugging else None,
        )

    threading.excepthook = hook


def bind_context(**values: Any) -> None:
    """Bind values (e.g. a trace id) to every log line of the current task."""
    structlog.contextvars.bind_contextvars(**values)


def clear_context(*keys: str) -> None:
    structlog.contextvars.unbind_contextvars(*keys)


__all__ = [
    "REDACTED",
    "Redactor",
    "bind_context",
    "clear_context",
    "configure_logging",
    "url_passwords",
]
