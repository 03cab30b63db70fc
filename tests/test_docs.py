"""The README and docs/ hold together: links resolve, the tour's commands exist, every
setting is documented.

The pages are read as CommonMark with markdown-it-py (what GitHub renders is a superset:
GFM), so links inside code are not links and headings are found as GitHub finds them.
Anchors are GitHub's heading slugs: the heading's text, lower-cased, with everything but
letters, digits, ``_``, ``-`` and spaces removed and spaces turned into ``-``; a repeated
slug gets ``-1``, ``-2``… (the rule of https://github.com/Flet/github-slugger, which
reproduces the ids GitHub gives headings). An explicit
``<a id="…">`` is an anchor too.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from core import cli
from core.adapters import AdapterCommands, adapter_names, load_adapter

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]

_MD = MarkdownIt("commonmark").enable("table")
_HTML_ID = re.compile(r"""<a\s[^>]*\b(?:id|name)\s*=\s*["']([^"']+)["']""")


@dataclass(frozen=True)
class Link:
    page: Path
    line: int
    href: str


def _tokens(text: str) -> list[Token]:
    return _MD.parse(text)


def _walk(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)


def slug(text: str) -> str:
    """GitHub's anchor for a heading whose rendered text is ``text``."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a page defines: its headings' slugs (deduplicated as GitHub does) and ids."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    tokens = _tokens(text)
    for i, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        inline = tokens[i + 1]
        words = "".join(
            child.content
            for child in inline.children or []
            if child.type in ("text", "code_inline")
        )
        base = slug(words)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    for token in _walk(tokens):
        if token.type in ("html_inline", "html_block"):
            found.update(_HTML_ID.findall(token.content))
    return found


def links(page: Path, text: str) -> list[Link]:
    found: list[Link] = []
    line = 0
    for token in _walk(_tokens(text)):
        if token.map:
            line = token.map[0] + 1
        if token.type == "link_open":
            found.append(Link(page, line, str(token.attrs["href"])))
    return found


def broken(link: Link, read: dict[Path, str] | None = None) -> str | None:
    """Why ``link`` does not resolve, or None. External links (a scheme) are not followed."""
    href = link.href
    if re.match(r"^[a-z][a-z0-9+.-]*:", href):
        return None
    path_part, _, fragment = href.partition("#")
    target = (link.page.parent / path_part).resolve() if path_part else link.page
    if not target.exists():
        return f"{os.path.relpath(target, link.page.parent.resolve())} does not exist"
    if fragment and target.suffix == ".md":
        text = (read or {}).get(target) or target.read_text()
        if fragment not in anchors(text):
            return f"{target.name} has no heading or id for #{fragment}"
    return None


def _all_links() -> list[Link]:
    return [link for page in PAGES for link in links(page, page.read_text())]


@pytest.mark.parametrize(
    "link", _all_links(), ids=lambda link: f"{link.page.name}:{link.line}:{link.href}"
)
def test_every_relative_link_and_anchor_resolves(link: Link) -> None:
    assert broken(link) is None, broken(link)


def test_the_checker_finds_a_missing_file_and_a_missing_anchor(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    target = tmp_path / "docs" / "ops.md"
    target.write_text("# Operating it\n\n## `gloo-bots doctor`\n\n## Logs\n\n## Logs\n")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/ops.md#gloo-bots-doctor) [dup](docs/ops.md#logs-1) [self](#top)\n"
        "[gone](docs/missing.md) [no anchor](docs/ops.md#scaling) [web](https://x.example/#y)\n"
        "\n# Top\n\n`[not a link](nowhere.md)`\n"
    )
    found = {link.href: broken(link) for link in links(page, page.read_text())}
    assert found == {
        "docs/ops.md#gloo-bots-doctor": None,
        "docs/ops.md#logs-1": None,
        "#top": None,
        "docs/missing.md": "docs/missing.md does not exist",
        "docs/ops.md#scaling": "ops.md has no heading or id for #scaling",
        "https://x.example/#y": None,
    }


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Access control", "access-control"),
        ("`gloo-bots doctor`", "gloo-bots-doctor"),
        (
            "Cost per answer (`python -m devtools.benchcost`)",
            "cost-per-answer-python--m-devtoolsbenchcost",
        ),
        (
            "2a. Socket mode (no public URL; the manifest's default)",
            "2a-socket-mode-no-public-url-the-manifests-default",
        ),
        (
            "Many answers in one workspace: the rate budget",
            "many-answers-in-one-workspace-the-rate-budget",
        ),
    ],
)
def test_slugs_are_githubs(heading: str, expected: str) -> None:
    assert anchors(f"## {heading}\n") == {expected}


# --- the README's commands -----------------------------------------------------------------


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def commands(markdown: str) -> list[str]:
    """Shell commands in ``markdown``: fenced bash lines, ``$ `` lines of console blocks, and
    inline code that starts with ``make`` or ``gloo-bots``."""
    found: list[str] = []
    for token in _walk(_tokens(markdown)):
        if token.type == "fence":
            lines = token.content.replace("\\\n", " ").splitlines()
            if token.info.strip() == "console":
                lines = [line[2:] for line in lines if line.startswith("$ ")]
            elif token.info.strip() not in ("bash", "sh"):
                continue
            found.extend(line.strip() for line in lines if line.strip())
        elif token.type == "code_inline" and re.match(
            r"(\.venv/bin/)?(make|gloo-bots) ", token.content
        ):
            found.append(token.content)
    return found


def _invocations(command: str) -> Iterator[list[str]]:
    """The ``make`` and ``gloo-bots`` invocations of one shell line, as words."""
    for part in re.split(r"\|\||&&|[|;]", command):
        words = shlex.split(part, comments=True)
        while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
            words.pop(0)
        if words and (words[0] == "make" or words[0].endswith("gloo-bots")):
            yield words


@cache
def make_targets() -> frozenset[str]:
    makefile = (ROOT / "Makefile").read_text()
    return frozenset(re.findall(r"^([A-Za-z0-9_.$()/-]+)\s*:(?!=)", makefile, re.MULTILINE))


def _parsed(
    parser: argparse.ArgumentParser, words: list[str]
) -> tuple[argparse.Namespace, list[str]]:
    """``parser.parse_known_args(words)``, with argparse's refusal (exit 2, usage on stderr)
    raised as ValueError."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return parser.parse_known_args(words)
    except SystemExit:
        raise ValueError(err.getvalue().strip().splitlines()[-1]) from None


def refusal(words: list[str]) -> str | None:
    """Why ``make`` or ``gloo-bots`` would refuse ``words``, or None. For ``gloo-bots`` it parses
    as ``core.cli.main`` does: its parser, then the adapter's own parser for an adapter."""
    if words[0] == "make":
        unknown = [w for w in words[1:] if "=" not in w and not w.startswith("-")]
        unknown = [w for w in unknown if w not in make_targets()]
        return f"no make target {', '.join(unknown)}" if unknown else None
    try:
        args, extra = _parsed(cli._parser(), words[1:])
        if args.command is None:
            return "no gloo-bots command"
        if args.command in adapter_names():
            adapter = load_adapter(args.command)
            parser = argparse.ArgumentParser(prog=f"gloo-bots {args.command}")
            if isinstance(adapter, AdapterCommands):
                adapter.add_arguments(parser)
            _, extra = _parsed(parser, [*extra, *args.adapter_args])
        if extra:
            return f"gloo-bots: unrecognized arguments: {' '.join(extra)}"
    except ValueError as exc:
        return f"gloo-bots refuses {' '.join(words[1:])!r}: {exc}"
    return None


def _readme_invocations() -> list[list[str]]:
    every = [words for command in commands(README.read_text()) for words in _invocations(command)]
    return [list(words) for words in dict.fromkeys(tuple(words) for words in every)]


def test_the_tour_has_the_commands_it_promises() -> None:
    tour = [
        " ".join(w)
        for c in commands(_section(README.read_text(), "A one-minute tour"))
        for w in _invocations(c)
    ]
    for expected in (
        "make run",
        "make install",
        ".venv/bin/gloo-bots discord sync",
        ".venv/bin/gloo-bots simulator --port 8765",
        ".venv/bin/gloo-bots chat",
    ):
        assert expected in tour, (expected, tour)


@pytest.mark.parametrize("words", _readme_invocations(), ids=" ".join)
def test_every_readme_command_is_one_make_or_the_cli_accepts(words: list[str]) -> None:
    assert refusal(words) is None, refusal(words)


@pytest.mark.parametrize(
    "command",
    [
        "make instal",
        "make run tset",
        ".venv/bin/gloo-bots discrod sync",
        "GLOO_BACKEND=simulator gloo-bots discord snyc",
        "gloo-bots simulator --prot 8765",
        "gloo-bots db upgrad",
    ],
)
def test_the_command_checker_refuses_what_make_or_the_cli_would(command: str) -> None:
    (words,) = _invocations(command)
    assert refusal(words) is not None


def test_the_platform_steps_of_the_tour_name_gloo_credentials_or_the_simulator() -> None:
    # Serving a platform without Gloo credentials refuses to start (core/bootstrap.py), so a
    # pasted `SLACK_BOT_TOKEN=… make run` alone would end in "make: *** Error 1".
    serving = [
        command
        for command in commands(_section(README.read_text(), "A one-minute tour"))
        if re.search(r"\b(SLACK_BOT_TOKEN|DISCORD_BOT_TOKEN)=\S+.* make run\b", command)
    ]
    assert len(serving) >= 3, serving
    for command in serving:
        assert (
            "GLOO_CLIENT_ID=" in command
            or "GLOO_API_KEY=" in command
            or ("GLOO_BACKEND=simulator" in command)
        ), command


# --- the README's shape and the settings ----------------------------------------------------


def test_the_readme_is_a_quickstart_and_its_contents_line_lists_every_section() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 300
    sections = re.findall(r"^## (.+)$", text, re.MULTILINE)
    contents = next(line for line in text.split("\n\n") if line.startswith("Contents:"))
    listed = re.findall(r"\]\(#([^)]+)\)", contents)
    assert listed == [slug(section) for section in sections]


def test_every_setting_of_env_example_is_documented() -> None:
    example = (ROOT / "config" / "env.example").read_text()
    names = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    assert len(names) > 60
    documented = README.read_text() + (ROOT / "docs" / "configuration.md").read_text()
    missing = sorted(name for name in names if f"`{name}`" not in documented)
    assert missing == []
