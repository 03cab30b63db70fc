"""Stored rows as the core's records and back: answers, their sources, channel settings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from sqlalchemy import RowMapping

from core.ports import AnswerRecord
from core.types import ChannelSettings, Source, ThreadKey

__all__ = [
    "SETTINGS_FIELDS",
    "answer_record",
    "answer_values",
    "channel_settings",
    "merge_unique",
    "source",
    "source_json",
]

_SOURCE_FIELDS: Final = ("title", "url", "publisher", "author", "snippet")
#: The columns of a channel settings row that make a :class:`ChannelSettings`.
SETTINGS_FIELDS: Final = tuple(ChannelSettings.__dataclass_fields__)


def merge_unique(existing: Iterable[str], new: Iterable[str]) -> list[str]:
    """``existing`` followed by the ids of ``new`` not seen yet, first occurrence wins."""
    return list(dict.fromkeys([*existing, *new]))


def answer_values(answer: AnswerRecord) -> dict[str, Any]:
    return {
        "answer_id": answer.answer_id,
        "platform": answer.thread.platform,
        "workspace": answer.thread.workspace,
        "channel": answer.thread.channel,
        "thread": answer.thread.thread,
        "chat_id": answer.chat_id,
        "question": answer.question,
        "text": answer.text,
        "sources": [source_json(source) for source in answer.sources],
        "suggestions": list(answer.suggestions),
        "user_id": answer.user_id,
        "gloo_message_id": answer.gloo_message_id,
        "gloo_query_id": answer.gloo_query_id,
        "platform_message_ids": merge_unique(answer.platform_message_ids, ()),
        "created_at": answer.created_at,
    }


def answer_record(row: RowMapping) -> AnswerRecord:
    return AnswerRecord(
        answer_id=row["answer_id"],
        thread=ThreadKey(
            platform=row["platform"],
            workspace=row["workspace"],
            channel=row["channel"],
            thread=row["thread"],
        ),
        chat_id=row["chat_id"],
        question=row["question"],
        text=row["text"],
        sources=tuple(source(item) for item in row["sources"]),
        suggestions=tuple(row["suggestions"]),
        user_id=row["user_id"],
        gloo_message_id=row["gloo_message_id"],
        gloo_query_id=row["gloo_query_id"],
        platform_message_ids=tuple(row["platform_message_ids"]),
        created_at=row["created_at"],
    )


def source_json(source: Source) -> dict[str, str | None]:
    return {name: getattr(source, name) for name in _SOURCE_FIELDS}


def source(item: Mapping[str, Any]) -> Source:
    def optional(name: str) -> str | None:
        value = item.get(name)
        return None if value is None else str(value)

    return Source(
        title=str(item.get("title") or ""),
        url=optional("url"),
        publisher=optional("publisher"),
        author=optional("author"),
        snippet=optional("snippet"),
    )


def channel_settings(row: RowMapping) -> ChannelSettings:
    return ChannelSettings(
        publishers=tuple(row["publishers"]),
        character_limit=row["character_limit"],
        sources_limit=row["sources_limit"],
        intent=row["intent"],
        enable_sources=row["enable_sources"],
        enable_suggestions=row["enable_suggestions"],
        tradition=row["tradition"],
        model_family=row["model_family"],
        enable_shortcuts=row["enable_shortcuts"],
    )
