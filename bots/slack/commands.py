"""Parsing ``/gloo`` slash command text (pure functions, no Slack calls)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from core.bounds import SETTING_RANGES, parse_setting

SUBCOMMANDS: Final = frozenset({"ask", "reset", "history", "settings", "access", "help"})
_ON: Final = frozenset({"on", "yes", "true", "enable", "enabled", "show"})
_OFF: Final = frozenset({"off", "no", "false", "disable", "disabled", "hide"})
_NONE: Final = frozenset({"none", "all", "any", "default", "-"})

#: Slack's escaped tokens in command text (``should_escape: true``; the format of
#: docs.slack.dev/messaging/formatting-message-text, "Linking to channels and users" and
#: "Linking to URLs"): ``<@U…|name>``, ``<#C…|name>``, ``<!here>``, ``<!subteam^S…|@team>``,
#: ``<https://x|label>``. A token may come without its ``|label``.
_TOKEN: Final = re.compile(r"<([@#!])?([^<>|]*)(?:\|([^<>]*))?>")


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # one of SUBCOMMANDS
    argument: str


def parse_command(text: str) -> Command:
    """``"settings sources off"`` → ``Command("settings", "sources off")``.

    Empty text is ``help``; text that does not start with a sub-command is a question.
    """
    text = text.strip()
    if not text:
        return Command("help", "")
    head, _, rest = text.partition(" ")
    name = head.lower()
    if name in SUBCOMMANDS:
        return Command(name, rest.strip())
    return Command("ask", text)


def readable_question(text: str) -> str:
    """Command text as a person reads it, for asking Gloo.

    ``<@U1|alice>`` → ``@alice``, ``<#C1|general>`` → ``#general``, ``<https://x|label>`` →
    ``label (https://x)``, ``<http://x.org|x.org>`` (typed, auto-linked) → ``x.org``,
    ``<!here>`` → ``@here``. Then Slack's ``&lt;`` ``&gt;`` ``&amp;`` are undone, after the
    tokens, so text a person typed as ``<@U1>`` stays text.
    """

    def readable(match: re.Match[str]) -> str:
        sigil, target, label = match[1], match[2].strip(), (match[3] or "").strip()
        if sigil in ("@", "#"):
            return sigil + (label.lstrip(sigil) or target)
        if sigil == "!":
            command = target.split("^", 1)[0]
            if label:  # <!subteam^S1|@team>, <!date^…|fallback>
                return label
            return f"@{command}"
        if not label or label == target:
            return target
        if label == target.split(":", 1)[-1].lstrip("/"):  # what was typed, auto-linked
            return label
        return f"{label} ({target})"

    text = _TOKEN.sub(readable, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _range(name: str) -> tuple[str, str]:
    allowed = SETTING_RANGES[name]
    return f"{allowed.low:,}", f"{allowed.high:,}"


def parse_settings_change(text: str) -> dict[str, object]:
    """``"sources 3"`` → ``{"sources_limit": 3}``; raises ValueError with a sentence."""
    key, _, value = text.strip().partition(" ")
    key, value = key.lower(), value.strip()
    word = value.lower()
    if key in ("sources", "source"):
        if word in _ON:
            return {"enable_sources": True}
        if word in _OFF:
            return {"enable_sources": False}
        # Looks like a number (``²`` too): the core reads ASCII digits only and says the range.
        if word and (word[0].isdigit() or word[0] in "+-."):
            return {"sources_limit": parse_setting("sources_limit", word)}
        low, high = _range("sources_limit")
        raise ValueError(
            f"Use `sources on`, `sources off` or `sources <number from {low} to {high}>`."
        )
    if key in ("suggestions", "suggestion"):
        if word in _ON:
            return {"enable_suggestions": True}
        if word in _OFF:
            return {"enable_suggestions": False}
        raise ValueError("Use `suggestions on` or `suggestions off`.")
    if key in ("shortcut", "shortcuts"):
        if word in _ON:
            return {"enable_shortcuts": True}
        if word in _OFF:
            return {"enable_shortcuts": False}
        raise ValueError("Use `shortcut on` or `shortcut off`.")
    if key in ("characters", "chars", "length", "character_limit"):
        if word in _NONE:
            return {"character_limit": None}
        try:
            return {"character_limit": parse_setting("character_limit", word)}
        except ValueError as exc:
            raise ValueError(f"{exc} Use `characters <number>` or `characters none`.") from exc
    if key in ("publishers", "publisher"):
        if not value or word in _NONE:
            return {"publishers": ()}
        names = tuple(p.strip() for p in value.split(",") if p.strip())
        return {"publishers": names}
    if key == "tradition":
        if not value or word in _NONE:
            return {"tradition": None}
        return {"tradition": "_".join(word.replace("-", " ").split())}
    if key in ("family", "model_family", "model-family"):
        if not value or word in _NONE or word == "auto":
            return {"model_family": None}
        return {"model_family": " ".join(word.replace("-", " ").split())}
    raise ValueError(
        "Settings are `sources`, `suggestions`, `characters`, `publishers`, `tradition`, "
        "`family` and `shortcut`."
    )
