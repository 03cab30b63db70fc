"""A strict reader for the block-style YAML our Slack manifests are written in.

The project has no YAML library, and the manifests use a small part of YAML: nested
mappings, lists of scalars or of mappings, plain, double-quoted and folded (``>-``) scalars,
``true``/``false``, and whole-line comments. Anything else raises :class:`ManifestSyntax`,
so a manifest this cannot read fails its test instead of being read wrongly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*):(?: (.*))?$")


class ManifestSyntax(ValueError):
    pass


@dataclass
class _Line:
    number: int
    indent: int
    text: str


def load(text: str) -> Any:
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if "\t" in raw:
            raise ManifestSyntax(f"line {number}: tabs are not allowed")
        lines.append(_Line(number, len(raw) - len(raw.lstrip(" ")), raw.strip()))
    value, end = _block(lines, 0, 0)
    if end != len(lines):
        raise ManifestSyntax(f"line {lines[end].number}: unexpected indentation")
    return value


def _block(lines: list[_Line], start: int, indent: int) -> tuple[Any, int]:
    if start >= len(lines):
        raise ManifestSyntax("a key has no value")
    if lines[start].text.startswith("- ") or lines[start].text == "-":
        return _sequence(lines, start, indent)
    return _mapping(lines, start, indent)


def _mapping(lines: list[_Line], i: int, indent: int) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    while i < len(lines) and lines[i].indent == indent:
        line = lines[i]
        match = _KEY.match(line.text)
        if match is None:
            raise ManifestSyntax(f"line {line.number}: expected 'key: value'")
        key, rest = match.group(1), match.group(2)
        if key in result:
            raise ManifestSyntax(f"line {line.number}: duplicate key {key!r}")
        i += 1
        if rest is None:
            if i < len(lines) and lines[i].indent > indent:
                result[key], i = _block(lines, i, lines[i].indent)
            elif i < len(lines) and lines[i].indent == indent and lines[i].text.startswith("- "):
                result[key], i = _sequence(lines, i, indent)
            else:
                raise ManifestSyntax(f"line {line.number}: {key!r} has no value")
        elif rest == ">-":
            parts = []
            while i < len(lines) and lines[i].indent > indent:
                parts.append(lines[i].text)
                i += 1
            if not parts:
                raise ManifestSyntax(f"line {line.number}: empty folded scalar")
            result[key] = " ".join(parts)
        else:
            result[key] = _scalar(rest, line.number)
    if i < len(lines) and lines[i].indent > indent:
        raise ManifestSyntax(f"line {lines[i].number}: unexpected indentation")
    return result, i


def _sequence(lines: list[_Line], i: int, indent: int) -> tuple[list[Any], int]:
    result: list[Any] = []
    while i < len(lines) and lines[i].indent == indent and lines[i].text.startswith("- "):
        line = lines[i]
        item = line.text[2:].strip()
        inner = indent + 2
        if _KEY.match(item):
            # "- key: value" opens a mapping whose further keys sit under the first one.
            rest = [_Line(line.number, inner, item)]
            j = i + 1
            while j < len(lines) and lines[j].indent >= inner:
                rest.append(lines[j])
                j += 1
            mapping, used = _mapping(rest, 0, inner)
            if used != len(rest):
                raise ManifestSyntax(f"line {rest[used].number}: unexpected indentation")
            result.append(mapping)
            i = j
        else:
            result.append(_scalar(item, line.number))
            i += 1
    return result, i


def _scalar(text: str, number: int) -> Any:
    if text.startswith('"'):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ManifestSyntax(f"line {number}: bad quoted string") from exc
    if text.startswith(("'", "{", "[", "&", "*", "!", "|", ">", "%", "@", "`")):
        raise ManifestSyntax(f"line {number}: unsupported YAML: {text[:20]!r}")
    if " #" in text or ": " in text:
        raise ManifestSyntax(f"line {number}: quote a value with ': ' or ' #' in it")
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text
