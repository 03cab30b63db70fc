"""Every failure of a command, as one sentence: ``gloo-bots: <what is wrong> — <what to do>``.

The CLI's top level hands whatever ended a command to :func:`report`: it prints one line on
stderr and returns the exit code; the traceback is printed too only at ``LOG_LEVEL=DEBUG``.
:func:`explain` is the one mapping from exception to sentence. It knows the errors the core
meets (the network, files, the database, migrations) and :class:`StartupError`, which any
part raises with its own sentence; an adapter translates its platform's errors by raising
:class:`StartupError` or by :func:`register`-ing a translation (the core imports no
platform library).

This module imports only the standard library at import time, so the CLI can use it before
anything heavy is loaded.
"""

from __future__ import annotations

import logging
import socket
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, TextIO

__all__ = ["StartupError", "explain", "register", "report"]

PREFIX: Final = "gloo-bots: "
#: What to say about an error nothing here knows.
UNEXPECTED: Final = (
    "an unexpected error stopped the command ({error}) — run it again with LOG_LEVEL=DEBUG "
    "to see the traceback, and report it"
)
NETWORK_FIX: Final = (
    "check the URL settings (GLOO_API_URL, SLACK_API_URL, DISCORD_API_URL) and the network"
)

Translation = Callable[[BaseException], "str | None"]


class StartupError(Exception):
    """The service cannot start or the command cannot run; the message says what to change."""


_registry: list[tuple[type[BaseException], Translation]] = []


def register(kind: type[BaseException], translate: Translation) -> None:
    """Say ``translate(exc)`` (a sentence, or None to pass) for an exception of ``kind``.

    Registered translations are tried before the built-in ones, newest first.
    """
    _registry.insert(0, (kind, translate))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what caused it, then what caused that (each once)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return lines[0].strip() if lines else ""


def explain(exc: BaseException, *, database_url: str | None = None) -> str:
    """The one sentence (without the ``gloo-bots:`` prefix) that says what ``exc`` means.

    The exception and its causes are tried in turn; the first that a translation knows
    gives the sentence. ``database_url`` (the configured ``DATABASE_URL``) names the
    database in database errors.
    """
    for link in _chain(exc):
        sentence = _translate(link, database_url)
        if sentence:
            return " ".join(sentence.split())  # one line, whatever the message held
    error = _first_line(exc) or type(exc).__name__
    return UNEXPECTED.format(error=f"{type(exc).__name__}: {error}"[:300])


def _translate(exc: BaseException, database_url: str | None) -> str | None:
    if isinstance(exc, StartupError):
        return str(exc)
    for kind, translate in _registry:
        if isinstance(exc, kind) and (sentence := translate(exc)):
            return sentence
    for builtin in (_settings, _sqlite_folder, _alembic, _sqlalchemy, _aiohttp, _httpx):
        if (sentence := builtin(exc, database_url)) is not None:
            return sentence
    if isinstance(exc, OSError):
        return _os_error(exc)
    return None


def _os_error(exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    reason = exc.strerror or _first_line(exc) or type(exc).__name__
    if isinstance(exc, PermissionError):
        return f"permission denied{where} — run as a user that may use it, or change the path"
    if isinstance(exc, socket.gaierror):
        return f"a host name could not be resolved ({reason}) — {NETWORK_FIX}"
    if isinstance(exc, ConnectionError | TimeoutError):
        return f"a connection failed ({reason}) — {NETWORK_FIX}"
    if isinstance(exc, FileNotFoundError | NotADirectoryError | IsADirectoryError):
        return f"{reason}{where} — check the path in the settings"
    return f"the system refused an operation: {reason}{where} — check the paths and the network"


def _settings(exc: BaseException, database_url: str | None) -> str | None:
    try:
        from pydantic import ValidationError
    except ImportError:  # pragma: no cover - pydantic is a dependency
        return None
    if not isinstance(exc, ValidationError):
        return None
    problems = [
        f"{'.'.join(str(part) for part in error['loc']).upper() or 'a setting'}: {error['msg']}"
        for error in exc.errors()
    ]
    return (
        f"the configuration is not valid ({'; '.join(problems)}) — fix "
        f"{'it' if len(problems) == 1 else 'them'} in the environment or .env"
    )


def _alembic(exc: BaseException, database_url: str | None) -> str | None:
    try:
        from alembic.util import CommandError
    except ImportError:  # pragma: no cover - alembic is a dependency
        return None
    if not isinstance(exc, CommandError):
        return None
    return (
        f"the database migrations could not run ({_first_line(exc)}) — check DATABASE_URL, "
        "then run 'gloo-bots db current' to see where the database is"
    )


def _sqlite_folder(exc: BaseException, database_url: str | None) -> str | None:
    from core.store.engine import SqliteFolderIsAFile

    if not isinstance(exc, SqliteFolderIsAFile):
        return None
    where = safe_database_url(database_url) if database_url else "in DATABASE_URL"
    return not_a_folder(where, exc.folder)


def _sqlalchemy(exc: BaseException, database_url: str | None) -> str | None:
    try:
        from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
    except ImportError:  # pragma: no cover - SQLAlchemy is a dependency
        return None
    if not isinstance(exc, SQLAlchemyError):
        return None
    where = safe_database_url(database_url) if database_url else "in DATABASE_URL"
    if isinstance(exc, ArgumentError):
        return (
            f"DATABASE_URL is not a database URL ({_first_line(exc)}) — use "
            "sqlite+aiosqlite:///path/to/file.db or postgresql+psycopg://user@host/name"
        )
    reason = _first_line(exc.orig if isinstance(exc, DBAPIError) else exc)
    folder = _missing_sqlite_folder(database_url)
    if folder is not None:
        return not_a_folder(where, folder)
    if database_url and "sqlite" in database_url.split(":", 1)[0]:
        fix = "check DATABASE_URL: the file's folder must exist and be writable"
    else:
        fix = "check DATABASE_URL and that the database server is running and reachable"
    return f"the database {where} could not be opened ({reason}) — {fix}"


def not_a_folder(where: str, folder: Path) -> str:
    """The sentence for a SQLite file whose folder is a file (``where``: the safe URL)."""
    return (
        f"the database {where} could not be opened: {folder} is not a folder — point "
        "DATABASE_URL at a file in an existing folder"
    )


def _missing_sqlite_folder(database_url: str | None) -> Path | None:
    """The folder of a SQLite file that is not a folder (e.g. a regular file), if any."""
    if not database_url:
        return None
    try:
        from core.store.engine import sqlite_file_path

        path = sqlite_file_path(database_url)
    except Exception:
        return None
    if path is None:
        return None
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def _aiohttp(exc: BaseException, database_url: str | None) -> str | None:
    try:
        import aiohttp
    except ImportError:  # pragma: no cover - aiohttp is a dependency
        return None
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"the host {exc.host} could not be resolved — {NETWORK_FIX}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or _first_line(exc.os_error)
        return f"could not connect to {exc.host}:{exc.port} ({reason}) — {NETWORK_FIX}"
    return None


def _httpx(exc: BaseException, database_url: str | None) -> str | None:
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is a dependency
        return None
    if isinstance(exc, httpx.TransportError):
        try:
            url = str(exc.request.url)
        except RuntimeError:  # an error raised without its request
            url = "a server"
        return f"could not reach {url} ({_first_line(exc) or type(exc).__name__}) — {NETWORK_FIX}"
    return None


def safe_database_url(url: str) -> str:
    """A database URL without its password, for logs and messages."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    from core.store.engine import normalize_database_url

    try:
        return make_url(normalize_database_url(url)).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable URL)"


def report(
    exc: BaseException, *, database_url: str | None = None, stream: TextIO | None = None
) -> int:
    """Print what ended the command as one line on ``stream`` (stderr); return the exit code.

    At ``LOG_LEVEL=DEBUG`` (the root logger at DEBUG) the traceback comes first.
    """
    out = stream or sys.stderr
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        traceback.print_exception(exc, file=out)
    print(PREFIX + explain(exc, database_url=database_url), file=out, flush=True)
    return 1
