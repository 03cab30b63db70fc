"""The product's import graph: no cycles, no test tooling, the simulator only when used.

Measured with grimp (import-linter's graph builder), over every import it sees, including
imports inside functions and under ``TYPE_CHECKING``. The import-linter contracts in
``pyproject.toml`` keep ``core`` and ``bots`` from importing ``devtools``; this file proves
what a contract cannot state: that no package imports itself back round a loop.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable

import grimp
import pytest

PACKAGES = ("core", "bots", "devtools")


def import_cycles(graph: grimp.ImportGraph, modules: Iterable[str]) -> list[list[str]]:
    """The strongly connected groups of ``modules`` larger than one (Tarjan, iterative)."""
    inside = set(modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(inside):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root) & inside)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    imported = graph.find_modules_directly_imported_by(child) & inside
                    work.append((child, iter(sorted(imported))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    cycles.append(sorted(group))
    return cycles


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES)


def test_the_cycle_finder_finds_a_known_cycle() -> None:
    """The finder itself, on a graph with one loop and one dead end."""
    loop = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d"):
        loop.add_module(name)
    loop.add_import(importer="pkg.a", imported="pkg.b")
    loop.add_import(importer="pkg.b", imported="pkg.c")
    loop.add_import(importer="pkg.c", imported="pkg.a")
    loop.add_import(importer="pkg.c", imported="pkg.d")
    assert import_cycles(loop, loop.modules) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_core_bots_and_devtools_have_no_import_cycles(graph: grimp.ImportGraph) -> None:
    ours = {m for m in graph.modules if m.split(".")[0] in PACKAGES}
    assert "core.gloo.wire" in ours
    assert "bots.slack.adapter" in ours
    assert import_cycles(graph, ours) == []


def test_product_code_never_imports_the_development_tools(graph: grimp.ImportGraph) -> None:
    product = {m for m in graph.modules if m.split(".")[0] in ("core", "bots")}
    tooling = {m for m in graph.modules if m.split(".")[0] == "devtools"}
    assert {"devtools.slack.fake", "devtools.discord.fake", "devtools.bench"} <= tooling
    reaching = {
        (importer, imported)
        for importer in product
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported in tooling
    }
    assert reaching == set()


def test_serving_paths_load_neither_the_simulator_nor_the_tools() -> None:
    """Importing the CLI, the composition root, the web app, the doctor and both adapters
    loads no simulator module and no development tool (they load when they are used)."""
    probe = (
        "import sys\n"
        "import core.cli, core.bootstrap, core.web, core.adapters, core.doctor, core.console\n"
        "import bots.slack.adapter, bots.discord.adapter\n"
        "print(sorted(m for m in sys.modules if m.startswith(('core.simulator', 'devtools'))))\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stderr
