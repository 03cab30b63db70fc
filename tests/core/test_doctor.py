"""gloo-bots doctor: one line per check, advice for each failure, non-zero when wrong."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from core.doctor import Finding, run_doctor
from core.settings import Settings
from core.simulator import Simulator, SimulatorConfig, SimulatorTransport
from core.store.engine import sqlite_file_path
from core.store.migrate import downgrade, upgrade
from tests.harness import settings_for_tests, unwrapped


async def doctor(
    settings: Settings, *, simulator: Simulator | None = None, adapters: Any = ()
) -> tuple[int, str]:
    out = io.StringIO()
    transport = SimulatorTransport(simulator) if simulator else None
    code = await run_doctor(settings, list(adapters), out=out, transport=transport)
    return code, unwrapped(out.getvalue())


async def test_a_fresh_install_is_told_what_the_first_start_does(sqlite_url: str) -> None:
    code, out = await doctor(settings_for_tests(database_url=sqlite_url))
    assert code == 0, out
    assert "[WARN] Gloo: the service would use the built-in simulator" in out
    assert "does not exist yet: the first service start creates and migrates it" in out
    assert sqlite_file_path(sqlite_url) is not None
    assert not sqlite_file_path(sqlite_url).exists()  # type: ignore[union-attr]


async def test_an_unmigrated_database_fails_when_services_do_not_migrate(
    sqlite_url: str,
) -> None:
    await upgrade(sqlite_url)
    await downgrade(sqlite_url, "base")
    code, out = await doctor(settings_for_tests(database_url=sqlite_url))
    assert code == 0
    assert "[WARN] Database: schema at migration none" in out
    no_auto = settings_for_tests(database_url=sqlite_url, database_auto_migrate=False)
    code, out = await doctor(no_auto)
    assert code == 1
    assert "[FAIL] Database: schema at migration none, the latest is" in out
    assert "Run 'gloo-bots db upgrade'" in out
    assert "1 problem(s) found." in out


async def test_a_migrated_simulator_install_passes_with_warnings(sqlite_url: str) -> None:
    await upgrade(sqlite_url)
    code, out = await doctor(settings_for_tests(database_url=sqlite_url))
    assert code == 0, out
    assert "[  ok] Database: connected to sqlite+aiosqlite:///" in out
    assert "[WARN] Platforms: no Slack or Discord tokens set" in out
    assert out.rstrip().endswith("All checks passed.")


def gloo_settings(sqlite_url: str, **values: Any) -> Settings:
    return settings_for_tests(
        database_url=sqlite_url, gloo_backend="message", gloo_api_url="http://gloo.test", **values
    )


async def test_client_credentials_are_checked_against_gloo(sqlite_url: str) -> None:
    await upgrade(sqlite_url)
    sim = Simulator(SimulatorConfig(clients={"bot": "right"}))
    good = gloo_settings(sqlite_url, gloo_client_id="bot", gloo_client_secret="right")
    bad = gloo_settings(sqlite_url, gloo_client_id="bot", gloo_client_secret="wrong")
    code, out = await doctor(good, simulator=sim)
    assert code == 0, out
    assert "[  ok] Gloo: client credentials accepted by http://gloo.test" in out
    code, out = await doctor(bad, simulator=sim)
    assert code == 1
    assert "refused the credentials (401)" in out
    assert "Check GLOO_CLIENT_ID / GLOO_CLIENT_SECRET" in out
    assert "wrong" not in out


async def test_an_api_key_is_proven_by_using_it(sqlite_url: str) -> None:
    await upgrade(sqlite_url)
    sim = Simulator(SimulatorConfig(api_keys=frozenset({"good-key"})))
    code, out = await doctor(gloo_settings(sqlite_url, gloo_api_key="good-key"), simulator=sim)
    assert code == 0, out
    assert "API key accepted" in out
    code, out = await doctor(gloo_settings(sqlite_url, gloo_api_key="bad-key"), simulator=sim)
    assert code == 1
    assert "Check GLOO_API_KEY" in out
    assert not sim.chats  # the probe created nothing


async def test_an_unreachable_gloo_and_database_are_named(tmp_path: Path) -> None:
    settings = settings_for_tests(
        gloo_backend="message",
        gloo_api_url="http://127.0.0.1:1",
        gloo_api_key="k",
        gloo_connect_timeout=1,
        database_url="postgresql+psycopg://nobody:secret@127.0.0.1:1/none",
    )
    code, out = await doctor(settings)
    assert code == 1
    assert "[FAIL] Gloo: cannot reach http://127.0.0.1:1" in out
    assert "[FAIL] Database: cannot connect to postgresql+psycopg://nobody:***@127.0.0.1:1" in out
    assert "secret" not in out


class _FakeAdapter:
    name = "slack"

    def __init__(self, findings: list[Finding] | None) -> None:
        self._findings = findings

    def configured(self, settings: Settings) -> bool:
        return True

    async def diagnose(self, settings: Settings) -> list[Finding]:
        if self._findings is None:
            raise RuntimeError("bug in a check")
        return self._findings


async def test_adapters_add_their_findings_and_a_crash_is_one_failure(sqlite_url: str) -> None:
    await upgrade(sqlite_url)
    settings = settings_for_tests(database_url=sqlite_url)
    scope = Finding("Slack", False, "the bot lacks chat:write", "Reinstall the app.")
    code, out = await doctor(settings, adapters=[_FakeAdapter([scope]), _FakeAdapter(None)])
    assert code == 1
    assert "[FAIL] Slack: the bot lacks chat:write\n       -> Reinstall the app." in out
    assert "[FAIL] Slack: check crashed: RuntimeError('bug in a check')" in out
    assert "2 problem(s) found." in out
