"""``gloo-bots`` reaches the development tools and the adapters' optional parts by lookup.

The bench lives in ``devtools`` (installed with the dev extra) and is found through the
``gloo_bots.tools`` entry points; without it the command says, in one sentence, how to get
it. An adapter needs only what serving needs: its CLI options and doctor checks are
optional parts, found with ``isinstance``.
"""

from __future__ import annotations

import argparse
import io
from importlib.metadata import EntryPoint

import pytest

from bots.discord.adapter import DiscordAdapter
from bots.slack.adapter import SlackAdapter
from core import cli
from core.adapters import AdapterCommands, Diagnosable, Runtime
from core.bootstrap import StartupError
from core.doctor import run_doctor
from core.settings import Settings
from devtools.benchmain import run_bench
from tests.harness import settings_for_tests


class ServingOnly:
    """An adapter with only the parts serving needs: no options, no doctor checks."""

    name = "minimal"
    help = "serves nothing"

    def __init__(self, configured: bool = True) -> None:
        self._configured = configured

    def configured(self, settings: Settings) -> bool:
        return self._configured

    async def prepare(self, runtime: Runtime) -> None:
        raise AssertionError("not served in these tests")

    async def serve(self, runtime: Runtime) -> None:
        raise AssertionError("not served in these tests")


def test_the_bench_is_found_through_the_tools_entry_point() -> None:
    assert cli.load_tool("bench") is run_bench


def test_without_the_development_tools_the_bench_says_how_to_get_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli, "entry_points", lambda group: [])
    with pytest.raises(StartupError) as caught:
        cli.load_tool("bench")
    assert str(caught.value) == (
        "'gloo-bots bench' is a development tool and the development tools are not installed "
        "here: run 'make bench' in a clone of the repository (it installs them), or "
        "'uv sync --extra dev' there"
    )


def test_a_tool_whose_package_is_missing_is_the_same_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gone = EntryPoint(name="bench", value="devtools_not_installed.bench:run", group=cli.TOOLS_GROUP)
    monkeypatch.setattr(cli, "entry_points", lambda group: [gone])
    with pytest.raises(StartupError, match=r"^'gloo-bots bench' is a development tool"):
        cli.load_tool("bench")


def test_both_adapters_have_both_optional_parts() -> None:
    for adapter in (SlackAdapter(), DiscordAdapter()):
        assert isinstance(adapter, AdapterCommands)
        assert isinstance(adapter, Diagnosable)
    assert not isinstance(ServingOnly(), AdapterCommands)
    assert not isinstance(ServingOnly(), Diagnosable)


async def test_an_adapter_without_options_takes_none_and_is_told_when_unconfigured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli, "load_adapter", lambda name: ServingOnly(configured=False))
    with pytest.raises(StartupError, match=r"^Minimal is not configured"):
        await cli._adapter("minimal", [], settings_for_tests())
    with pytest.raises(SystemExit):  # argparse refuses options the adapter does not have
        await cli._adapter("minimal", ["--mode", "socket"], settings_for_tests())


async def test_the_doctor_reports_an_adapter_without_checks_of_its_own(sqlite_url: str) -> None:
    out = io.StringIO()
    settings = settings_for_tests(database_url=sqlite_url)
    await run_doctor(settings, [ServingOnly()], out=out)
    assert "[  ok] Minimal: configured (it has no checks of its own)" in out.getvalue()


def test_an_adapter_s_options_still_reach_its_parser() -> None:
    parser = argparse.ArgumentParser()
    adapter = SlackAdapter()
    assert isinstance(adapter, AdapterCommands)
    adapter.add_arguments(parser)
    assert parser.parse_args(["--mode", "socket"]).mode == "socket"
