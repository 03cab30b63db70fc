"""The product's wheel holds the product only; the development tools are a distribution apart.

``pyproject.toml`` builds ``gloo-bots`` (``core``, ``bots``); ``tools/pyproject.toml`` builds
``gloo-bots-devtools`` (``devtools``: fake platforms, bench drivers, ``gloo-bots bench``), a
member of the root's uv workspace installed with the dev extra. These tests read both
files (no wheel is built): the product's package find never takes ``devtools``, no entry
point of the product points into it, and the tools declare the entry points the CLI and the
bench look up.
"""

from __future__ import annotations

import tomllib
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"


def _toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


def _found(project: dict[str, Any], package: str) -> bool:
    """Whether setuptools' ``packages.find`` of ``project`` takes ``package``."""
    find = project["tool"]["setuptools"]["packages"]["find"]
    included = any(fnmatchcase(package, pattern) for pattern in find["include"])
    excluded = any(fnmatchcase(package, pattern) for pattern in find.get("exclude", []))
    return included and not excluded


def _entry_point_targets(project: dict[str, Any]) -> list[str]:
    tables = project["project"]
    groups = [tables.get("scripts", {}), tables.get("gui-scripts", {})]
    groups.extend(tables.get("entry-points", {}).values())
    return [target for group in groups for target in group.values()]


def test_the_product_wheel_takes_core_and_bots_and_never_devtools() -> None:
    root = _toml(ROOT / "pyproject.toml")
    for package in ("core", "core.gloo", "bots", "bots.slack", "bots.discord"):
        assert _found(root, package), package
    for package in ("devtools", "devtools.bench", "devtools.slack", "devtools.discord.fake"):
        assert not _found(root, package), package
    assert not (ROOT / "devtools").exists()


def test_no_entry_point_of_the_product_points_into_devtools() -> None:
    targets = _entry_point_targets(_toml(ROOT / "pyproject.toml"))
    assert "core.cli:main" in targets
    assert [t for t in targets if t.split(".")[0].split(":")[0] == "devtools"] == []


def test_the_tools_distribution_packages_devtools_and_declares_the_tool_entry_points() -> None:
    tools = _toml(TOOLS / "pyproject.toml")
    assert tools["project"]["name"] == "gloo-bots-devtools"
    assert _found(tools, "devtools")
    assert _found(tools, "devtools.slack.fake")
    assert not _found(tools, "core")
    assert not _found(tools, "bots")
    entry_points = tools["project"]["entry-points"]
    assert entry_points["gloo_bots.tools"] == {"bench": "devtools.benchmain:run_bench"}
    assert entry_points["gloo_bots.bench"] == {
        "slack": "devtools.slack.bench:measure",
        "discord": "devtools.discord.bench:measure",
    }


def test_the_dev_extra_installs_the_tools_from_the_workspace() -> None:
    root = _toml(ROOT / "pyproject.toml")
    assert root["tool"]["uv"]["workspace"]["members"] == ["tools"]
    assert root["tool"]["uv"]["sources"]["gloo-bots-devtools"] == {"workspace": True}
    assert "gloo-bots-devtools" in root["project"]["optional-dependencies"]["dev"]
    assert "gloo-bots-devtools" not in root["project"]["dependencies"]
    lock = _toml(ROOT / "uv.lock")
    assert lock["manifest"]["members"] == ["gloo-bots", "gloo-bots-devtools"]
