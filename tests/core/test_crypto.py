"""Sealing JSON documents with Fernet; rotating keys with MultiFernet.

The contract (https://cryptography.io/en/latest/fernet/): a Fernet token cannot be read or
altered without its key; ``MultiFernet`` "performs all encryption options using the first key
in the list provided" and "attempts to decrypt tokens with each key in turn", raising
``InvalidToken`` when no key fits.
"""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from core.crypto import SEALED, SecretBox, Unreadable

DATA = {"team_id": "T0TEAM002", "bot_token": "xoxb-2222-3333-secretvalue"}


def test_a_sealed_document_holds_no_readable_token_and_opens_again() -> None:
    box = SecretBox([SecretBox.new_key()])
    sealed = box.seal(DATA)
    assert set(sealed) == {SEALED}
    assert "xoxb" not in str(sealed)
    assert "T0TEAM002" not in str(sealed)
    opened = box.open(sealed)
    assert opened.data == DATA
    assert not opened.stale


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    old, new = SecretBox.new_key(), SecretBox.new_key()
    sealed_with_old = SecretBox([old]).seal(DATA)
    rotating = SecretBox([new, old])
    opened = rotating.open(sealed_with_old)
    assert opened.data == DATA
    assert opened.stale  # sealed under a key that is not the first: seal it again
    resealed = rotating.seal(opened.data)
    assert not SecretBox([new]).open(resealed).stale  # the old key can now be removed
    Fernet(new.encode()).decrypt(resealed[SEALED].encode())  # a plain Fernet token


def test_plain_documents_are_read_and_marked_for_sealing() -> None:
    assert SecretBox([SecretBox.new_key()]).open(DATA).stale
    without_keys = SecretBox()
    assert without_keys.seal(DATA) == DATA
    assert not without_keys.open(DATA).stale


def test_a_document_no_key_opens_is_unreadable() -> None:
    sealed = SecretBox([SecretBox.new_key()]).seal(DATA)
    with pytest.raises(Unreadable, match="no key"):
        SecretBox([SecretBox.new_key()]).open(sealed)
    with pytest.raises(Unreadable, match="ENCRYPTION_KEYS is not set"):
        SecretBox().open(sealed)
    tampered = {SEALED: sealed[SEALED][:-6] + "AAAAAA"}
    with pytest.raises(Unreadable):
        SecretBox([SecretBox.new_key()]).open(tampered)
