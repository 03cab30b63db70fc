"""Secrets at rest: JSON documents sealed with Fernet, keys rotated with MultiFernet.

``cryptography``'s Fernet (https://cryptography.io/en/latest/fernet/) is authenticated
symmetric encryption (AES-128-CBC with HMAC-SHA256): a sealed document cannot be read or
altered without the key. :class:`SecretBox` takes a list of keys (``ENCRYPTION_KEYS``):
the first one encrypts, every one decrypts (``MultiFernet``), so a key is rotated by putting
a new key first, re-sealing what is stored (on read, or ``gloo-bots db reencrypt``), then
removing the old key.

A sealed document is stored as ``{"fernet": "<token>"}``; anything else is a document from
before encryption (or from a deployment without a key) and is read as it is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["SEALED", "SecretBox", "Unreadable", "Unsealed", "check_key"]

#: The one key of a sealed document.
SEALED: Final = "fernet"


class Unreadable(Exception):
    """A sealed document that none of the configured keys opens (or no key is configured)."""


@dataclass(frozen=True, slots=True)
class Unsealed:
    data: dict[str, Any]
    #: Stored in plain text or under an older key: it should be sealed again with the first key.
    stale: bool


def check_key(key: str) -> None:
    """Raise ``ValueError`` with a plain sentence unless ``key`` is a Fernet key."""
    try:
        Fernet(key)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            "is not a Fernet key (32 url-safe base64-encoded bytes); make one with "
            "'gloo-bots db new-key'"
        ) from exc


class SecretBox:
    """Seals and opens JSON documents; with no keys it stores them as they are."""

    def __init__(self, keys: Sequence[str] = ()) -> None:
        self._fernets = [Fernet(key) for key in keys]
        self._multi = MultiFernet(self._fernets) if self._fernets else None

    @property
    def enabled(self) -> bool:
        return self._multi is not None

    @staticmethod
    def new_key() -> str:
        return Fernet.generate_key().decode("ascii")

    @staticmethod
    def is_sealed(document: dict[str, Any]) -> bool:
        return set(document) == {SEALED} and isinstance(document[SEALED], str)

    def seal(self, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` sealed with the first key (as it is, without keys)."""
        if self._multi is None:
            return data
        plain = json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8")
        return {SEALED: self._multi.encrypt(plain).decode("ascii")}

    def open(self, document: dict[str, Any]) -> Unsealed:
        """The document's data, and whether it should be sealed again."""
        if not self.is_sealed(document):
            return Unsealed(document, stale=self.enabled)
        if self._multi is None:
            raise Unreadable("the document is encrypted and ENCRYPTION_KEYS is not set")
        token = document[SEALED].encode("ascii")
        stale = False
        try:
            plain = self._fernets[0].decrypt(token)
        except InvalidToken:
            try:
                plain = self._multi.decrypt(token)
            except InvalidToken as exc:
                raise Unreadable("no key in ENCRYPTION_KEYS opens the document") from exc
            stale = True
        data = json.loads(plain)
        if not isinstance(data, dict):
            raise Unreadable("the sealed document is not a JSON object")
        return Unsealed(data, stale=stale)
