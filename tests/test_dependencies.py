"""Installs are reproducible: uv.lock pins every package with hashes, and the floors hold.

``make run`` and ``make test`` install with ``uv sync --locked``, which refuses a lock that no
longer matches ``pyproject.toml``; these tests check what that command cannot: that what the
lock pins is hashed, comes from PyPI, and satisfies the floors raised for advisories and for
platform features the adapters rely on.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent

#: Floors and why: aiohttp's published advisories (fixed in 3.12.14); slack-sdk's public
#: ``ChatStream.ts`` (3.43), which the chat.update fallback reads; slack-bolt 1.30 and
#: discord.py 2.6 for the platform contracts the adapters are built against.
FLOORS = {
    "aiohttp": Version("3.12.14"),
    "slack-sdk": Version("3.43"),
    "slack-bolt": Version("1.30"),
    "discord-py": Version("2.6"),
}


#: The projects of this repository's uv workspace: the product, and the development tools in
#: tools/ (installed with the dev extra). Only they are built from here, not from PyPI.
WORKSPACE = {"gloo-bots", "gloo-bots-devtools"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _locked() -> dict[str, dict[str, Any]]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return {_normalise(p["name"]): p for p in lock["package"]}


def _requirements() -> dict[str, Requirement]:
    project = _pyproject()["project"]
    listed = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        listed.extend(extra)
    return {_normalise(r.name): r for r in map(Requirement, listed)}


def test_every_locked_package_comes_from_pypi_with_hashes() -> None:
    for name, package in _locked().items():
        source = package["source"]
        if "editable" in source or "virtual" in source:
            assert name in WORKSPACE, name
            continue
        assert source == {"registry": "https://pypi.org/simple"}, name
        files = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
        assert files, f"{name} has no files in uv.lock"
        assert all(f["hash"].startswith("sha256:") for f in files), name


def test_every_requirement_is_locked_within_its_bounds() -> None:
    locked = _locked()
    for name, requirement in _requirements().items():
        assert name in locked, f"{name} is in pyproject.toml but not in uv.lock: run make lock"
        version = Version(locked[name]["version"])
        assert requirement.specifier.contains(version, prereleases=True), (name, str(version))


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_floors_exclude_releases_the_project_cannot_use(name: str) -> None:
    requirement = _requirements()[name]
    floor = FLOORS[name]
    assert requirement.specifier.contains(floor)
    below = Version(f"{floor.major}.{floor.minor}.{max(floor.micro - 1, 0)}")
    if below != floor:
        assert not requirement.specifier.contains(below)
    assert not requirement.specifier.contains(Version(f"{floor.major}.{floor.minor - 1}"))


def test_make_installs_exactly_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "sync --locked" in makefile
    assert "pip install -e" not in makefile


def _make_dry_run(target: str) -> str:
    """What ``make TARGET`` would run on a fresh clone (``-n``: nothing is run; ``-B``: every
    prerequisite counts as out of date, as with no .venv)."""
    make = shutil.which("make")
    assert make is not None
    done = subprocess.run(  # noqa: S603 - make on our own Makefile, dry run
        [make, "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.mark.parametrize("target", ["run", "install", "chat", "simulator"])
def test_make_run_and_install_sync_the_product_without_the_dev_extra(target: str) -> None:
    commands = _make_dry_run(target)
    syncs = [line for line in commands.splitlines() if " sync --locked" in line]
    assert len(syncs) == 1, commands
    assert "--extra" not in syncs[0]
    # A sync without the extra removes the dev packages: the dev stamp must go with it, so
    # the next `make test` syncs the dev extra back.
    assert "rm -f .venv/.installed-stamp" in commands
    assert commands.index("rm -f .venv/.installed-stamp") < commands.index(syncs[0])


@pytest.mark.parametrize(
    "target", ["test", "lint", "typecheck", "pytest", "bench", "chaos", "procfile"]
)
def test_make_test_and_the_development_targets_sync_the_dev_extra(target: str) -> None:
    commands = _make_dry_run(target)
    syncs = [line for line in commands.splitlines() if " sync --locked" in line]
    assert len(syncs) == 1, commands
    assert "--extra dev" in syncs[0]
    assert "rm -f .venv/.installed-prod" in commands
    assert commands.index("rm -f .venv/.installed-prod") < commands.index(syncs[0])


def test_make_procfile_runs_honcho_with_gloo_bots_on_path() -> None:
    """docs/operations.md: `make procfile PROCESSES="web worker"` runs those Procfile lines
    with honcho (the dev extra), `.venv/bin` first on PATH so `gloo-bots` is found."""
    commands = _make_dry_run("procfile").splitlines()
    [start] = [line for line in commands if "honcho start" in line]
    assert start.endswith("honcho start web worker")
    assert start.startswith(f'PATH="{ROOT}/.venv/bin:')
