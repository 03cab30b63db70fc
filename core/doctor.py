"""``gloo-bots doctor``: check every configured credential and the database, with advice.

Each check is a :class:`Finding` — what was checked, whether it is fine, and when it is not,
one plain sentence saying what to change. Adapters add their own findings (Slack's
``auth.test`` and scopes, Discord's token and intents) through ``Adapter.diagnose``. The
doctor changes nothing: it never migrates the database or creates a chat.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TextIO

import httpx
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from core.bootstrap import NO_GLOO_FOR_SERVING, USER_AGENT, describe_gloo, http_timeout
from core.gloo.auth import StaticKeyAuth, build_authenticator
from core.gloo.errors import (
    GlooAuthError,
    GlooConfigError,
    GlooConnectionError,
    GlooError,
    GlooPermissionDenied,
    GlooTimeout,
)
from core.settings import Settings
from core.store.engine import create_engine, normalize_database_url, sqlite_file_path
from core.store.migrate import engine_revision, head_revision

if TYPE_CHECKING:
    from core.adapters import Adapter

__all__ = ["Finding", "check_database", "check_gloo", "check_which_gloo", "run_doctor"]

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
        return Finding("Gloo", False, f"the token request failed: {exc.message}", "")
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
        found.append(Finding("Database", True, f"schema at the latest migration ({head})"))
    else:
        summary = f"schema at migration {revision or 'none'}, the latest is {head}"
        found.append(_not_migrated(settings, summary, "migrates"))
    return found


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


_URL_ADVICE: Final = (
    "Use sqlite+aiosqlite:///path/to/file.db or postgresql+psycopg://user:pass@host/db."
)


async def run_doctor(
    settings: Settings,
    adapters: Sequence[Adapter],
    *,
    out: TextIO | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """Print every finding; 0 when nothing is wrong, 1 otherwise."""
    out = out or sys.stdout
    findings: list[Finding] = []
    async with httpx.AsyncClient(
        transport=transport, timeout=http_timeout(settings), headers={"User-Agent": USER_AGENT}
    ) as http:
        findings.append(await check_gloo(settings, http))
    configured = [adapter for adapter in adapters if adapter.configured(settings)]
    findings.append(check_which_gloo(settings, serving=bool(configured)))
    findings.extend(await check_database(settings))
    for adapter in configured:
        try:
            findings.extend(await adapter.diagnose(settings))
        except Exception as exc:  # a bug in a check must not hide the other findings
            findings.append(Finding(adapter.name.capitalize(), False, f"check crashed: {exc!r}"))
    if not configured:
        findings.append(
            Finding(
                "Platforms",
                True,
                "no Slack or Discord tokens set: 'gloo-bots run' opens the console playground",
                "See the README to connect Slack or Discord.",
                warning=True,
            )
        )
    for finding in findings:
        mark = "WARN" if finding.warning else ("ok" if finding.ok else "FAIL")
        print(f"[{mark:>4}] {finding.area}: {finding.summary}", file=out)
        if finding.advice and (not finding.ok or finding.warning):
            print(f"       -> {finding.advice}", file=out)
    failed = [f for f in findings if not f.ok]
    print(
        "\nAll checks passed." if not failed else f"\n{len(failed)} problem(s) found.",
        file=out,
    )
    return 0 if not failed else 1
