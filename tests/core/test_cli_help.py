"""``gloo-bots --help`` answers at once and describes what exists.

Structural, not timed: importing the CLI must not import the service, the database layer,
an adapter or their libraries (each command imports what it needs when it runs); every
command and option has help; the defaults are shown; the bench help names the rows of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from core import cli
from core.registry import adapter_names

ROOT = Path(__file__).resolve().parents[2]

#: What ``core.adapters`` (the service, the store, the web server, the adapters) brings in.
HEAVY = (
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "aiosqlite",
    "httpx",
    "aiohttp",
    "pydantic",
    "pydantic_settings",
    "structlog",
    "rich",
    "cryptography",
    "apscheduler",
    "slack_bolt",
    "slack_sdk",
    "discord",
    "bots",
    "core.adapters",
    "core.bootstrap",
    "core.settings",
    "core.doctor",
    "core.store",
    "core.service",
    "core.gloo",
)


def test_importing_the_cli_imports_nothing_heavy() -> None:
    probe = (
        "import sys\n"
        "import core.cli\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted(m for m in sys.modules if m in heavy or m.startswith(tuple(h + '.' for h "
        "in heavy))))\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stderr


def test_help_and_version_import_nothing_heavy() -> None:
    probe = (
        "import sys, contextlib, io\n"
        "import core.cli\n"
        "for argv in (['--help'], ['--version'], ['simulator', '--help'], ['db', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        core.cli.main(argv)\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted(m for m in sys.modules if m in heavy))\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stderr


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"gloo-bots {version('gloo-bots')}\n"


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str | None]]:
    """Every (sub-)command: its words, its parser and its line in the parent's help."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            summaries = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield (*path, name), sub, summaries.get(name)
                yield from _commands(sub, (*path, name))


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        action
        for action in parser._actions
        if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
    ]


COMMANDS = list(_commands(cli._parser()))
IDS = [" ".join(path) for path, _, _ in COMMANDS]


def test_the_walk_sees_every_command() -> None:
    words = {" ".join(path) for path, _, _ in COMMANDS}
    expected = {"run", "chat", "doctor", "worker", "simulator", "bench", "db"}
    expected |= {"db upgrade", "db current", "db new-key", "db reencrypt", *adapter_names()}
    assert words == expected


@pytest.mark.parametrize(("path", "parser", "summary"), COMMANDS, ids=IDS)
def test_every_command_has_a_summary_and_a_description(
    path: tuple[str, ...], parser: argparse.ArgumentParser, summary: str | None
) -> None:
    assert (summary or "").strip(), path
    assert (parser.description or "").strip(), path


@pytest.mark.parametrize(
    "option",
    [
        pytest.param(
            action, id=f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}"
        )
        for path, parser, _ in COMMANDS
        for action in _options(parser)
    ]
    + [pytest.param(action, id=action.dest) for action in _options(cli._parser())],
)
def test_every_option_has_help(option: argparse.Action) -> None:
    assert (option.help or "").strip()


@pytest.mark.parametrize(("path", "parser", "summary"), COMMANDS, ids=IDS)
def test_every_option_with_a_default_shows_it(
    path: tuple[str, ...], parser: argparse.ArgumentParser, summary: str | None
) -> None:
    text = " ".join(parser.format_help().split())
    for action in _options(parser):
        default = action.default
        if not action.option_strings or default in (None, [], argparse.SUPPRESS):
            continue
        if default is False:  # a flag: off unless given
            continue
        assert f"(default: {default})" in text or "default" in (action.help or ""), (
            path,
            action.option_strings,
        )


def test_simulator_help_shows_host_port_and_seed_defaults() -> None:
    (parser,) = [p for path, p, _ in COMMANDS if path == ("simulator",)]
    text = " ".join(parser.format_help().split())
    for line in (
        "--host HOST the address to listen on (default: 127.0.0.1)",
        "--port PORT the port to listen on (default: 8765)",
        "(default: 0)",
    ):
        assert line in text


@pytest.mark.parametrize("name", adapter_names())
def test_an_adapter_s_line_promises_only_its_own_options(name: str) -> None:
    # Slack has only --mode; Discord has sync and invite: the line claims neither.
    (summary,) = [s for path, _, s in COMMANDS if path == (name,)]
    assert summary == f"serve {name.capitalize()} alone (its options: 'gloo-bots {name} --help')"


def _rows(text: str) -> set[str]:
    """The benchmark rows ``text`` names: ``P2``, ``W1-W4`` (a range) and so on."""
    rows: set[str] = set()
    for letter, first, last in re.findall(r"\b([PWCS])(\d)(?:[-–]\1?(\d))?\b", text):
        rows |= {f"{letter}{n}" for n in range(int(first), int(last or first) + 1)}
    return rows


def test_bench_help_names_exactly_the_rows_of_the_benchmarks_page() -> None:
    documented = re.findall(r"^\| ([PWCS]\d) \|", (ROOT / "docs/benchmarks.md").read_text(), re.M)
    (summary,) = [s for path, _, s in COMMANDS if path == ("bench",)]
    (parser,) = [p for path, p, _ in COMMANDS if path == ("bench",)]
    assert _rows(summary or "") == set(documented)
    assert _rows(parser.description or "") == set(documented)


def test_the_row_reader_reads_ranges_and_single_rows() -> None:
    assert _rows("rows P1-P3, W1–W2, C1 and S1") == {"P1", "P2", "P3", "W1", "W2", "C1", "S1"}
