"""``gloo-bots doctor``: check every configured credential and the database, with advice.

Each check is a :class:`Finding` — what was checked, whether it is fine, and when it is not,
one plain sentence saying what to change. Adapters add their own findings (Slack's
``auth.test`` and scopes, Discord's token and intents) through the optional
:class:`Diagnosable` part of an adapter. The
doctor changes nothing: it never migrates the database or creates a chat. On Completions V2
it reports which route forms answer (with a request Gloo refuses unanswered) and checks
``GLOO_COMPLETIONS_MODEL`` against Gloo's model registry. Only ``--probe`` asks Gloo a real
question (plain and streamed; on the Message API that creates a chat) to show the operator
the wire format. ``ENCRYPTION_KEYS`` is checked too: every key must be a Fernet key, and
when the database answers, every stored installation must open with the configured keys
(those still in plain text or under an older key are counted for ``gloo-bots db
reencrypt``). A SQLite database's folder must be a writable directory, or creatable.

Gloo, the database and each configured platform are checked at once; the findings print in
a fixed order, wrapped to 100 columns, and every failure and warning carries its advice.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol, TextIO, runtime_checkable

import httpx
from sqlalchemy import select
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlmodel import col

from core.bootstrap import NO_GLOO_FOR_SERVING, USER_AGENT, describe_gloo, http_timeout
from core.crypto import SecretBox, Unreadable, check_key
from core.gloo.auth import Authenticator, StaticKeyAuth, build_authenticator
from core.gloo.backend import GlooAnswer, GlooDelta, GlooRequest
from core.gloo.client import MessageBackend
from core.gloo.completions import ROUTE_FORMS, RouteKind, alternate_route
from core.gloo.errors import (
    GlooAuthError,
    GlooConfigError,
    GlooConnectionError,
    GlooError,
    GlooPermissionDenied,
    GlooTimeout,
)
from core.gloo.learning import CARRIED, MISSING, NewChatStreaming, stream_fact_name
from core.gloo.stream import StreamParser
from core.gloo.wire import as_mapping
from core.settings import Settings
from core.store.engine import (
    SQLITE_BEGIN_OPTION,
    create_engine,
    normalize_database_url,
    sqlite_file_path,
)
from core.store.migrate import engine_revision, head_revision
from core.store.sql import SqlStore
from core.store.tables import InstallationRow

__all__ = [
    "Diagnosable",
    "DoctorSubject",
    "Finding",
    "check_completions_model",
    "check_completions_routes",
    "check_database",
    "check_database_folder",
    "check_encryption",
    "check_gloo",
    "check_stream_fact",
    "check_which_gloo",
    "describe_wire",
    "probe_new_chat_stream",
    "run_doctor",
]

#: The width every finding is wrapped to (a terminal's, with room to spare).
WIDTH: Final = 100
#: Where a finding's continuation lines and its advice start.
_INDENT: Final = " " * 7
_ADVICE: Final = f"{_INDENT}-> "

#: A chat id that cannot exist: asking for it proves a key is accepted without side effects.
PROBE_CHAT_ID: Final = "gloo-bots-doctor-probe"


@dataclass(frozen=True, slots=True)
class Finding:
    area: str
    ok: bool
    summary: str
    advice: str = ""
    #: Fine to run with, but worth knowing (the simulator instead of Gloo, for instance).
    warning: bool = False

    def __post_init__(self) -> None:
        if (self.warning or not self.ok) and not self.advice.strip():
            raise ValueError(f"a failed or warning finding needs advice: {self.summary!r}")

    def lines(self) -> list[str]:
        """The finding as printed: ``[mark] area: summary``, then ``-> advice`` under a
        failure or a warning, each wrapped to :data:`WIDTH` columns (a word longer than
        that, a long path or URL, stays whole on a line of its own, to be copied)."""
        mark = "WARN" if self.warning else ("ok" if self.ok else "FAIL")
        printed = _wrap(f"[{mark:>4}] {self.area}: {self.summary}", _INDENT)
        if self.warning or not self.ok:
            printed += _wrap(f"{_ADVICE}{self.advice}", " " * len(_ADVICE))
        return printed


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(
        text, WIDTH, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
    )


class DoctorSubject(Protocol):
    """An adapter as the doctor sees it (see :class:`core.adapters.Adapter`)."""

    name: str

    def configured(self, settings: Settings) -> bool:
        """True when the settings hold what this adapter needs to serve."""


@runtime_checkable
class Diagnosable(Protocol):
    """Optional part of an adapter: its own ``gloo-bots doctor`` checks."""

    async def diagnose(self, settings: Settings) -> list[Finding]:
        """Check the platform credentials (and scopes, intents)."""


async def check_gloo(settings: Settings, http: httpx.AsyncClient) -> Finding:
    """Are the Gloo credentials accepted by ``GLOO_API_URL``?"""
    if settings.uses_simulator:
        return Finding(
            "Gloo",
            True,
            "no Gloo credentials: answers come from the built-in simulator",
            "Set GLOO_CLIENT_ID and GLOO_CLIENT_SECRET (or GLOO_API_KEY) to use Gloo AI.",
            warning=True,
        )
    where = settings.gloo_api_url
    try:
        auth = build_authenticator(http, settings)
        token = await auth.token()
        if isinstance(auth, StaticKeyAuth):
            # A key is only proven by using it: ask for a chat that does not exist.
            response = await http.get(
                f"{where}/ai/v1/chat",
                params={"chat_id": PROBE_CHAT_ID},
                headers={"Authorization": f"Bearer {token}"},
            )
            if response.status_code in (401, 403):
                return _refused("GLOO_API_KEY", where, response.status_code)
            if response.status_code >= 500:
                return Finding(
                    "Gloo",
                    False,
                    f"{where} answered {response.status_code} to a test request",
                    "Gloo may be having trouble; try again in a few minutes.",
                )
    except GlooConfigError as exc:
        return Finding("Gloo", False, exc.message, "Set the Gloo credentials in .env.")
    except (GlooAuthError, GlooPermissionDenied) as exc:
        return _refused("GLOO_CLIENT_ID / GLOO_CLIENT_SECRET", settings.token_url, exc.status_code)
    except (GlooConnectionError, GlooTimeout, httpx.TransportError) as exc:
        return Finding(
            "Gloo",
            False,
            f"cannot reach {where}: {exc}",
            "Check GLOO_API_URL and that this machine can reach it (proxy, firewall).",
        )
    except GlooError as exc:
        return Finding(
            "Gloo",
            False,
            f"the token request failed: {exc.message}",
            "Check GLOO_TOKEN_URL and the Gloo credentials; if they are right, Gloo may be "
            "having trouble: try again in a few minutes.",
        )
    kind = "API key" if settings.gloo_api_key else "client credentials"
    return Finding("Gloo", True, f"{kind} accepted by {where}")


def check_which_gloo(settings: Settings, *, serving: bool) -> Finding:
    """Which Gloo the service would answer from (``serving``: Slack or Discord is set up)."""
    which = describe_gloo(settings)
    if settings.simulator_requested:
        return Finding(
            "Gloo",
            True,
            f"the service would use {which}; every answer says it is simulated",
            "Set the Gloo credentials and GLOO_BACKEND=message (or completions) to use Gloo AI.",
            warning=True,
        )
    if not settings.has_gloo_credentials:
        # Without a platform only the console playground runs, and it may use the simulator.
        return Finding(
            "Gloo",
            not serving,
            f"the service would use {which}",
            NO_GLOO_FOR_SERVING,
            warning=not serving,
        )
    return Finding("Gloo", True, f"the service would use {which}")


#: Gloo's V2 reference: "An explicit empty messages array is invalid and returns 400" --
#: a request every existing route refuses without generating (or billing) anything.
ROUTE_PROBE_BODY: Final = {"messages": [], "auto_routing": True}
MODELS_PATH: Final = "/platform/v2/models"
PROBE_QUESTION: Final = "In one sentence, what is grace?"


async def check_completions_routes(
    settings: Settings, http: httpx.AsyncClient, auth: Authenticator
) -> list[Finding]:
    """Which Completions V2 route forms the account answers: a 404 means absent; any
    other answer to an empty ``messages`` list (400/422) means the route is there."""
    found: list[Finding] = []
    configured: dict[RouteKind, str] = {
        "completions": settings.gloo_completions_path,
        "grounded": settings.gloo_grounded_path,
    }
    token = await auth.token()

    async def answer(form: str) -> int | str:
        try:
            response = await http.post(
                f"{settings.gloo_api_url}{form}",
                json=ROUTE_PROBE_BODY,
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.TransportError as exc:
            return type(exc).__name__
        return response.status_code

    forms = {kind: [path, alternate_route(kind, path)] for kind, path in configured.items()}
    every = [form for kind in ROUTE_FORMS for form in forms[kind]]
    statuses = dict(zip(every, await asyncio.gather(*map(answer, every)), strict=True))
    for kind in ROUTE_FORMS:
        path = configured[kind]
        answers = {form: statuses[form] for form in forms[kind]}
        seen = ", ".join(f"{form} {_route_word(status)}" for form, status in answers.items())
        usable = [form for form, status in answers.items() if _route_answers(status)]
        if not usable:
            found.append(
                Finding(
                    "Gloo routes",
                    False,
                    f"no {kind} route answers: {seen}",
                    "Check GLOO_API_URL, and that the account has Completions V2; set "
                    f"GLOO_{kind.upper()}_PATH if Gloo moved it.",
                )
            )
        elif usable[0] != path:
            found.append(
                Finding(
                    "Gloo routes",
                    True,
                    f"{kind}: {seen}; the bot falls back to {usable[0]}",
                    f"Set GLOO_{kind.upper()}_PATH={usable[0]} to skip the first 404.",
                    warning=True,
                )
            )
        else:
            found.append(Finding("Gloo routes", True, f"{kind}: {seen}"))
    return found


def _route_answers(status: int | str) -> bool:
    return isinstance(status, int) and status not in (401, 403, 404) and status < 500


def _route_word(status: int | str) -> str:
    if status == 404:
        return "does not answer (404)"
    if isinstance(status, int) and status in (401, 403):
        return f"refused the credentials ({status})"
    if isinstance(status, int) and status >= 500:
        return f"failed ({status})"
    return f"answers ({status})"


async def check_completions_model(settings: Settings, http: httpx.AsyncClient) -> Finding:
    """Is ``GLOO_COMPLETIONS_MODEL`` in Gloo's model registry (no auth needed)?"""
    model = (settings.gloo_completions_model or "").strip()
    where = f"{settings.gloo_api_url}{MODELS_PATH}"
    try:
        response = await http.get(where, headers={"Accept": "application/json"})
        body = response.json() if response.status_code == 200 else None
    except (httpx.TransportError, ValueError) as exc:
        return Finding(
            "Gloo model", True, f"could not read {where}: {exc}", "Try again later.", warning=True
        )
    registry = as_mapping(body)
    data = registry.get("data") if registry is not None else None
    if not isinstance(data, list):
        status = response.status_code
        return Finding(
            "Gloo model",
            True,
            f"{where} answered {status} without a model list",
            "GLOO_COMPLETIONS_MODEL is not checked; if answers fail, check GLOO_API_URL.",
            warning=True,
        )
    ids = [entry["id"] for entry in data if isinstance(entry, dict) and "id" in entry]
    if model in ids:
        return Finding("Gloo model", True, f"GLOO_COMPLETIONS_MODEL {model} is in Gloo's registry")
    sample = ", ".join(str(i) for i in ids[:6])
    return Finding(
        "Gloo model",
        False,
        f"GLOO_COMPLETIONS_MODEL {model} is not in Gloo's model registry ({len(ids)} models)",
        f"Pick one of {sample}, ... or unset it for Gloo's automatic routing.",
    )


def describe_wire(content_type: str, lines: Sequence[str]) -> list[str]:
    """What a Gloo answer looked like on the wire, for an operator to report: the format
    (SSE, NDJSON or one JSON document), how text arrives (delta or cumulative), and which
    events carried ``chat_id``, sources/citations and suggestions."""
    parser = StreamParser()
    payloads: list[object] = []
    for line in lines:
        payloads.extend(parser.feed_line(line))
        if parser.done:
            break
    payloads.extend(parser.finish())
    done = parser.done or any(line.strip() == "data: [DONE]" for line in lines)
    objects = [p for p in (as_mapping(item) for item in payloads) if p is not None]
    fmt = {"sse": "SSE", "json": "NDJSON" if len(objects) > 1 else "one JSON document"}.get(
        parser.mode, "empty"
    )
    report = [
        f"content-type: {content_type or '(none)'}",
        f"format: {fmt}, {len(payloads)} event(s){', ends with [DONE]' if done else ''}",
        f"text: {_text_mode(objects)}",
    ]
    for label, keys in (
        ("chat_id", ("chat_id",)),
        ("sources", ("sources", "citations")),
        ("suggestions", ("suggestions",)),
    ):
        where = [str(i + 1) for i, obj in enumerate(objects) if any(obj.get(k) for k in keys)]
        report.append(f"{label}: in event(s) {', '.join(where)}" if where else f"{label}: absent")
    return report


def _text_mode(objects: Sequence[object]) -> str:
    texts: list[str] = []
    for obj in objects:
        entry = as_mapping(obj)
        if entry is None:
            continue
        choices = entry.get("choices")
        if isinstance(choices, list) and choices:
            choice = as_mapping(choices[0]) or {}
            part = as_mapping(choice.get("delta")) or as_mapping(choice.get("message")) or {}
            content = part.get("content")
            if isinstance(content, str) and content:
                texts.append(content)
            continue
        for key in ("message", "text", "delta", "content"):
            value = entry.get(key)
            if isinstance(value, str) and value:
                texts.append(value)
                break
    if len(texts) < 2:
        return f"{len(texts)} text piece(s)"
    growing = all(b.startswith(a) and len(b) > len(a) for a, b in itertools.pairwise(texts))
    return f"{'cumulative' if growing else 'delta'} ({len(texts)} pieces)"


async def probe_wire(
    settings: Settings, http: httpx.AsyncClient, auth: Authenticator, out: TextIO
) -> bool:
    """Ask one real question plain and streamed; print what each looked like. This asks
    Gloo for real (it creates a chat on the Message API)."""
    if settings.gloo_api == "completions":
        url = f"{settings.gloo_api_url}{settings.gloo_completions_path}"
        body: dict[str, object] = {
            "messages": [{"role": "user", "content": PROBE_QUESTION}],
            "auto_routing": True,
        }
    else:
        url = f"{settings.gloo_api_url}/ai/v1/message"
        body = {"query": PROBE_QUESTION}
    ok = True
    for stream in (False, True):
        token = await auth.token()
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "text/event-stream, application/x-ndjson, application/json",
        }
        print(f"\nProbe: {url} stream={str(stream).lower()}", file=out)
        try:
            async with http.stream(
                "POST", url, json={**body, "stream": stream}, headers=headers
            ) as response:
                lines = [line async for line in response.aiter_lines()]
                status = response.status_code
                content_type = response.headers.get("content-type", "")
        except httpx.TransportError as exc:
            print(f"  failed: {type(exc).__name__}: {exc}", file=out)
            ok = False
            continue
        print(f"  status: {status}", file=out)
        if status >= 400:
            ok = False
            print(f"  body: {' '.join(lines)[:300]}", file=out)
            continue
        for line in describe_wire(content_type, lines):
            print(f"  {line}", file=out)
    return ok


#: The ``--probe-stream`` question, named as the doctor's so it is recognised in Gloo's chats.
PROBE_STREAM_QUESTION: Final = "(gloo-bots doctor --probe-stream) In one sentence, what is hope?"


def _seen(at: object) -> str:
    when = getattr(at, "strftime", None)
    return when("%Y-%m-%d %H:%M UTC") if when is not None else str(at)


async def check_stream_fact(settings: Settings, store: SqlStore) -> list[Finding]:
    """What the deployment recorded about new chats' streams, and what processes do with it
    (Message API; see :mod:`core.gloo.learning`)."""
    area = "Gloo streams"
    mode = settings.gloo_stream_new_chats
    if not settings.gloo_stream:
        return [Finding(area, True, "answers are not streamed (GLOO_STREAM=false)")]
    try:
        fact = await store.read_fact(stream_fact_name(settings.gloo_api_url))
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:60]
        return [
            Finding(
                area,
                True,
                f"the record could not be read: {reason}",
                "Processes go on as if nothing were recorded; see the Database lines for why "
                "the database cannot be read.",
                warning=True,
            )
        ]
    if fact is None:
        seen = "nothing recorded yet about streams naming their chat"
    else:
        what = {MISSING: "a stream ended without its chat_id", CARRIED: "streams name their chat"}
        seen = f"recorded {_seen(fact.seen_at)}: {what.get(fact.value, repr(fact.value)[:40])}"
    found = [Finding(area, True, seen)]
    setting = f"GLOO_STREAM_NEW_CHATS={mode}"
    if mode == "always":
        found.append(Finding(area, True, f"new chats always stream ({setting})"))
    elif mode == "learn":
        found.append(
            Finding(area, True, f"new chats stream once a process saw it work ({setting})")
        )
    elif fact is not None and fact.value == MISSING:
        advice = (
            "Once Gloo's streams name their chat, 'gloo-bots doctor --probe-stream' records it."
        )
        found.append(
            Finding(area, True, f"new chats are asked unstreamed ({setting})", advice, warning=True)
        )
    else:
        found.append(Finding(area, True, f"new chats stream ({setting})"))
    return found


async def probe_new_chat_stream(
    settings: Settings,
    http: httpx.AsyncClient,
    auth: Authenticator,
    out: TextIO,
    store: SqlStore | None,
) -> bool:
    """Ask Gloo one streamed question in a new chat, as the service would, and record for
    every process whether the stream named its chat. This asks Gloo for real."""
    name = stream_fact_name(settings.gloo_api_url)
    new_chats = NewChatStreaming("always", facts=store, fact_name=name)
    backend = MessageBackend(http, auth, settings.gloo_api_url, new_chats=new_chats)
    print(f"\nProbe (streamed, new chat): {PROBE_STREAM_QUESTION}", file=out)
    started = time.monotonic()
    first: float | None = None
    pieces = 0
    answer: GlooAnswer | None = None
    try:
        async for event in backend.stream(GlooRequest(query=PROBE_STREAM_QUESTION)):
            if isinstance(event, GlooDelta):
                pieces += 1
                first = first if first is not None else time.monotonic() - started
            elif isinstance(event, GlooAnswer):
                answer = event
    except GlooError as exc:
        print(f"  failed: {type(exc).__name__}: {str(exc)[:200]}", file=out)
        await new_chats.aclose()
        return False
    took = time.monotonic() - started
    shown = f"{first:.2f} s" if first is not None else "never"
    print(
        f"  {pieces} text piece(s); first text after {shown}; complete after {took:.2f} s", file=out
    )
    carried = new_chats.last_observed
    if carried:
        print(f"  the stream named its chat ({answer.chat_id if answer else '?'})", file=out)
    else:
        print("  the stream ended without its chat_id: completed from a plain answer", file=out)
    await new_chats.aclose()
    if store is None:
        print("  not recorded: the database is not at the latest migration", file=out)
        return True
    expected = CARRIED if carried else MISSING
    try:
        fact = await store.read_fact(name)
    except (SQLAlchemyError, OSError):
        fact = None
    if fact is not None and fact.value == expected:
        follow = "stream" if carried else "are asked unstreamed"
        print(f"  recorded: with GLOO_STREAM_NEW_CHATS=auto, new chats {follow}", file=out)
        return True
    print("  not recorded: the database refused the write (see the log)", file=out)
    return False


def _refused(variables: str, url: str, status: int | None) -> Finding:
    return Finding(
        "Gloo",
        False,
        f"{url} refused the credentials ({status})",
        f"Check {variables}: copy them again from Gloo Studio (API Credentials).",
    )


async def check_database(settings: Settings) -> list[Finding]:
    """Can the database be reached, and is it at the latest migration?"""
    url = normalize_database_url(settings.database_url)
    try:
        path = sqlite_file_path(url)
    except (ValueError, ArgumentError) as exc:
        return [Finding("Database", False, f"DATABASE_URL is not usable: {exc}", _URL_ADVICE)]
    if path is not None and not path.exists():
        # Checking must not create it: report what the first start will do.
        return [_not_migrated(settings, f"{path} does not exist yet", "creates and migrates")]
    try:
        engine = create_engine(url)
    except (ValueError, ArgumentError) as exc:
        return [Finding("Database", False, f"DATABASE_URL is not usable: {exc}", _URL_ADVICE)]
    shown = engine.url.render_as_string(hide_password=True)
    try:
        revision = await engine_revision(engine)
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return [
            Finding(
                "Database",
                False,
                f"cannot connect to {shown}: {reason}",
                "Check DATABASE_URL, and that the database server is running and reachable.",
            )
        ]
    finally:
        await engine.dispose()
    found = [Finding("Database", True, f"connected to {shown}")]
    head = head_revision()
    if revision == head:
        found.append(Finding("Database", True, f"{_AT_HEAD} ({head})"))
    else:
        summary = f"schema at migration {revision or 'none'}, the latest is {head}"
        found.append(_not_migrated(settings, summary, "migrates"))
    return found


def _can_write(folder: Path) -> bool:
    """Can this process create a file in ``folder``? Tried, not guessed from the mode bits
    (a read-only file system, or root's view of them); the file is gone at once."""
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".gloo-bots-doctor-"):
            return True
    except OSError:
        return False


_FOLDER_ADVICE: Final = "point DATABASE_URL at a folder this user can write"


def check_database_folder(
    settings: Settings, *, writable: Callable[[Path], bool] = _can_write
) -> list[Finding]:
    """SQLite keeps its journal beside the file: is its folder a writable directory, or can
    the first start create it? (Nothing is created; ``writable`` tries a folder.)"""
    try:
        path = sqlite_file_path(normalize_database_url(settings.database_url))
    except (ValueError, ArgumentError):
        return []  # the database finding says why the URL is not usable
    if path is None:
        return []
    try:
        return _folder_findings(path.parent, writable)
    except OSError as exc:  # a folder on the way that this user may not even look into
        return [
            Finding(
                "Database folder",
                False,
                f"{path.parent} cannot be checked: {exc.strerror or exc}",
                f"Give this user access to {path.parent}, or {_FOLDER_ADVICE}.",
            )
        ]


def _folder_findings(folder: Path, writable: Callable[[Path], bool]) -> list[Finding]:
    area = "Database folder"
    if folder.exists() and not folder.is_dir():
        return [
            Finding(
                area,
                False,
                f"{folder} is a file, not a folder: the SQLite database cannot be created in it",
                f"Move or remove that file, or {_FOLDER_ADVICE}.",
            )
        ]
    if folder.is_dir():
        if writable(folder):
            return [Finding(area, True, f"{folder} is a writable folder")]
        return [
            Finding(
                area,
                False,
                f"{folder} is not writable: SQLite cannot write the database or its journal",
                f"Give this user write access to {folder} (chown, chmod), or {_FOLDER_ADVICE}.",
            )
        ]
    existing = next(parent for parent in folder.parents if parent.exists())
    if not existing.is_dir():
        return [
            Finding(
                area,
                False,
                f"{folder} cannot be created: {existing} is a file",
                f"Move or remove {existing}, or {_FOLDER_ADVICE}.",
            )
        ]
    if not writable(existing):
        return [
            Finding(
                area,
                False,
                f"{folder} cannot be created: {existing} is not writable",
                f"Create {folder} for this user, or {_FOLDER_ADVICE}.",
            )
        ]
    return [Finding(area, True, f"{folder} does not exist yet: the first start creates it")]


def _not_migrated(settings: Settings, summary: str, what_start_does: str) -> Finding:
    """Fine when services migrate at start (the default); a failure when they do not."""
    if settings.database_auto_migrate:
        return Finding(
            "Database",
            True,
            f"{summary}: the first service start {what_start_does} it",
            "Or run 'gloo-bots db upgrade' now.",
            warning=True,
        )
    return Finding(
        "Database",
        False,
        summary,
        "Run 'gloo-bots db upgrade' (DATABASE_AUTO_MIGRATE=false: services do not migrate).",
    )


_NEW_KEY_ADVICE: Final = (
    "Make a key with 'gloo-bots db new-key', set ENCRYPTION_KEYS to it, then run "
    "'gloo-bots db reencrypt'."
)


async def check_encryption(settings: Settings, *, read_database: bool = True) -> list[Finding]:
    """Is every ``ENCRYPTION_KEYS`` key a Fernet key, and (``read_database``: the database
    answered) does every stored installation open with them?"""
    keys = settings.encryption_key_list
    for number, key in enumerate(keys, start=1):
        try:
            check_key(key)
        except ValueError as exc:
            return [
                Finding(
                    "Encryption",
                    False,
                    f"ENCRYPTION_KEYS: key {number} {exc}",
                    "Fix or remove that key, keeping every key stored installations were "
                    "encrypted with.",
                )
            ]
    found: list[Finding] = []
    if keys:
        found.append(
            Finding("Encryption", True, f"ENCRYPTION_KEYS holds {len(keys)} Fernet key(s)")
        )
    elif settings.slack_client_id:
        found.append(
            Finding(
                "Encryption",
                True,
                "ENCRYPTION_KEYS is not set: OAuth installs keep bot tokens in plain text",
                _NEW_KEY_ADVICE,
                warning=True,
            )
        )
    documents = await _stored_installations(settings) if read_database else None
    if documents is not None:
        found.extend(_installations_finding(SecretBox(keys), documents))
    return found


async def _stored_installations(settings: Settings) -> list[object] | None:
    """The stored installation documents; ``None`` when they cannot be read (no database
    file yet, no installations table, no connection: the database findings say why)."""
    url = normalize_database_url(settings.database_url)
    try:
        path = sqlite_file_path(url)
        if path is not None and not path.exists():
            return None  # checking must not create it
        engine = create_engine(url)
    except (ValueError, ArgumentError):
        return None
    try:
        async with engine.connect() as connection:
            readonly = await connection.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
            result = await readonly.execute(select(col(InstallationRow.data)))
            return list(result.scalars().all())
    except (SQLAlchemyError, OSError):
        return None
    finally:
        await engine.dispose()


def _installations_finding(box: SecretBox, documents: Sequence[object]) -> list[Finding]:
    """One finding on how the stored installations open with ``box``'s keys."""
    current = older = plain = unreadable = 0
    for document in documents:
        if not isinstance(document, dict):
            unreadable += 1
        elif not SecretBox.is_sealed(document):
            plain += 1
        else:
            try:
                opened = box.open(document)
            except Unreadable:
                unreadable += 1
                continue
            if opened.stale:
                older += 1
            else:
                current += 1
    total = len(documents)
    if unreadable:
        why = "with ENCRYPTION_KEYS" if box.enabled else "without ENCRYPTION_KEYS (not set)"
        return [
            Finding(
                "Encryption",
                False,
                f"{unreadable} of {total} stored installation(s) cannot be decrypted {why}",
                "Put the key they were encrypted with back in ENCRYPTION_KEYS (any position), "
                "or have those workspaces install the app again.",
            )
        ]
    if not total:
        return []
    if not box.enabled:
        return [
            Finding(
                "Encryption",
                True,
                f"{plain} stored installation(s) keep their bot tokens in plain text",
                _NEW_KEY_ADVICE,
                warning=True,
            )
        ]
    if plain or older:
        parts = [f"{plain} still in plain text"] if plain else []
        parts += [f"{older} under an older key"] if older else []
        return [
            Finding(
                "Encryption",
                True,
                f"{total} stored installation(s) decrypt, {' and '.join(parts)}",
                "Run 'gloo-bots db reencrypt' to encrypt them with the first key.",
                warning=True,
            )
        ]
    return [
        Finding("Encryption", True, f"all {total} stored installation(s) open with the first key")
    ]


_AT_HEAD: Final = "schema at the latest migration"

_NO_STREAM_PROBE_ON_COMPLETIONS: Final = (
    "Probe (streamed, new chat) skipped: Completions V2 keeps no chats, so its streams need "
    "no chat_id."
)


def _at_head(database: Sequence[Finding]) -> bool:
    return all(f.ok for f in database) and any(f.summary.startswith(_AT_HEAD) for f in database)


async def _open_migrated(settings: Settings) -> SqlStore | None:
    try:
        return await SqlStore.open(settings.database_url, migrate=False, pool_size=1)
    except (SQLAlchemyError, OSError, ValueError, ArgumentError):
        return None


_URL_ADVICE: Final = (
    "Use sqlite+aiosqlite:///path/to/file.db or postgresql+psycopg://user:pass@host/db."
)


async def _gloo_findings(
    settings: Settings, http: httpx.AsyncClient, *, serving: bool
) -> tuple[list[Finding], Authenticator | None]:
    """Which Gloo; then, when it is Gloo AI, the credentials, and on Completions V2 the
    routes and the model. The authenticator is returned when the credentials work."""
    found = [check_which_gloo(settings, serving=serving)]
    if settings.uses_simulator:
        return found, None
    gloo = await check_gloo(settings, http)
    found.append(gloo)
    if not gloo.ok:
        return found, None
    auth = build_authenticator(http, settings)
    if settings.gloo_api == "completions":
        checks: list[Awaitable[list[Finding]]] = [check_completions_routes(settings, http, auth)]
        if settings.gloo_completions_model:
            checks.append(_one(check_completions_model(settings, http)))
        for part in await asyncio.gather(*checks):
            found.extend(part)
    return found, auth


async def _one(check: Awaitable[Finding]) -> list[Finding]:
    return [await check]


async def _database_findings(settings: Settings) -> tuple[list[Finding], list[Finding]]:
    """The database and its folder; then ENCRYPTION_KEYS and the stored installations."""
    database = await check_database(settings)
    encryption = await check_encryption(settings, read_database=all(f.ok for f in database))
    return [*database, *check_database_folder(settings)], encryption


async def _adapter_findings(adapter: DoctorSubject, settings: Settings) -> list[Finding]:
    name = adapter.name.capitalize()
    if not isinstance(adapter, Diagnosable):
        return [Finding(name, True, "configured (it has no checks of its own)")]
    try:
        return await adapter.diagnose(settings)
    except Exception as exc:  # a bug in a check must not hide the other findings
        return [
            Finding(
                name,
                False,
                f"check crashed: {exc!r}",
                f"That is a bug in the {name} checks, not in the settings: the other findings "
                "stand; please report this line.",
            )
        ]


async def run_doctor(
    settings: Settings,
    adapters: Sequence[DoctorSubject],
    *,
    out: TextIO | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    probe: bool = False,
    probe_stream: bool = False,
) -> int:
    """Print every finding; 0 when nothing is wrong, 1 otherwise. ``probe`` also asks
    Gloo one real question, plain and streamed, and prints the wire format it saw;
    ``probe_stream`` asks one streamed question in a new chat and records what it showed.

    Gloo, the database and each configured platform are checked at once (their answers
    wait on the network, not on each other); the findings print in a fixed order: Gloo,
    the database, Gloo's streams, encryption, the platforms."""
    out = out or sys.stdout
    configured = [adapter for adapter in adapters if adapter.configured(settings)]
    message_api = settings.gloo_api == "message" and not settings.uses_simulator
    probed = True
    async with httpx.AsyncClient(
        transport=transport,
        timeout=http_timeout(settings),
        headers={"User-Agent": USER_AGENT},
    ) as http:
        (gloo, auth), (database, encryption), platforms = await asyncio.gather(
            _gloo_findings(settings, http, serving=bool(configured)),
            _database_findings(settings),
            asyncio.gather(*(_adapter_findings(adapter, settings) for adapter in configured)),
        )
        # The learned-facts table exists only at the latest migration.
        store = await _open_migrated(settings) if message_api and _at_head(database) else None
        try:
            if auth is not None:
                if probe:
                    probed = await probe_wire(settings, http, auth, out)
                if probe_stream and settings.gloo_api == "completions":
                    print(_NO_STREAM_PROBE_ON_COMPLETIONS, file=out)
                elif probe_stream:
                    streamed = await probe_new_chat_stream(settings, http, auth, out, store)
                    probed = probed and streamed
            elif probe or probe_stream:
                print("Probe skipped: it needs working Gloo credentials.", file=out)
            streams = await check_stream_fact(settings, store) if store is not None else []
        finally:
            if store is not None:
                await store.close()
    findings = [*gloo, *database, *streams, *encryption]
    for part in platforms:
        findings.extend(part)
    if not configured:
        findings.append(
            Finding(
                "Platforms",
                True,
                "no Slack or Discord tokens set: 'gloo-bots run' opens the console playground",
                "To connect Slack or Discord, see docs/slack.md or docs/discord.md.",
                warning=True,
            )
        )
    for finding in findings:
        for line in finding.lines():
            print(line, file=out)
    failed = sum(not f.ok for f in findings) + (0 if probed else 1)
    print("\nAll checks passed." if not failed else f"\n{failed} problem(s) found.", file=out)
    return 0 if not failed else 1
