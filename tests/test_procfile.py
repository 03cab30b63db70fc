"""Every process the Procfile names is a command the CLI knows."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main

PROCFILE = Path(__file__).resolve().parent.parent / "Procfile"


def processes() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in PROCFILE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, command = line.partition(":")
        found[name.strip()] = shlex.split(command)
    return found


def test_the_procfile_names_the_documented_processes() -> None:
    assert set(processes()) == {"web", "slack", "discord", "worker", "release"}
    assert all(argv[0] == "gloo-bots" for argv in processes().values())


@pytest.mark.parametrize("name", sorted(processes()))
def test_each_process_command_parses(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*processes()[name][1:], "--help"])
    assert exited.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_honcho_reads_the_procfile() -> None:
    """The runner the dev extra brings (`make procfile`) accepts the file as it is."""
    honcho = Path(sys.executable).with_name("honcho")
    done = subprocess.run(  # noqa: S603 - honcho from our own .venv, on our own Procfile
        [str(honcho), "-f", str(PROCFILE), "check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Valid procfile detected (web, slack, discord, worker, release)" in done.stderr
