"""Installation documents (they hold bot tokens) are encrypted at rest with ENCRYPTION_KEYS."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from core.crypto import SEALED, SecretBox
from core.logs import configure_logging
from core.store.sql import SqlStore
from tests.conftest import configure_test_logging
from tests.harness import core_on_simulator

TOKEN = "xoxb-2222222222-3333333333-encryptme"
DATA: dict[str, Any] = {"team_id": "T2", "bot_token": TOKEN, "user_id": "U1"}


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure_logging(level="INFO", fmt="console", stream=out)
    yield out
    configure_test_logging()


async def stored(store: SqlStore) -> list[str]:
    """The data column as the database holds it."""
    async with store.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT data FROM installations ORDER BY id"))).all()
    return [str(row[0]) for row in rows]


async def test_tokens_are_stored_encrypted_and_read_back(store: SqlStore) -> None:
    store.use_encryption_keys((SecretBox.new_key(),))
    await store.save_installation("slack", "", "T2", "U1", DATA)
    [raw] = await stored(store)
    assert TOKEN not in raw
    assert SEALED in raw
    assert await store.find_installation("slack", "", "T2") == DATA
    assert await store.find_installation("slack", "", "T2", "U1") == DATA


async def test_plaintext_rows_keep_working_and_get_encrypted(store: SqlStore) -> None:
    await store.save_installation("slack", "", "T2", "U1", DATA)  # before a key was set
    assert TOKEN in (await stored(store))[0]
    store.use_encryption_keys((SecretBox.new_key(),))
    assert await store.find_installation("slack", "", "T2") == DATA
    [raw] = await stored(store)
    assert TOKEN not in raw  # encrypted on that read
    assert await store.find_installation("slack", "", "T2") == DATA


async def test_rotation_reencrypts_with_the_new_key(store: SqlStore) -> None:
    old, new = SecretBox.new_key(), SecretBox.new_key()
    store.use_encryption_keys((old,))
    await store.save_installation("slack", "", "T2", "U1", DATA)
    await store.save_installation("slack", "", "T3", "U1", {**DATA, "team_id": "T3"})
    store.use_encryption_keys((new, old))
    assert await store.reseal_installations() == 2
    assert await store.reseal_installations() == 0  # all under the first key now
    store.use_encryption_keys((new,))  # the old key retired
    assert await store.find_installation("slack", "", "T2") == DATA
    assert (await store.find_installation("slack", "", "T3") or {})["team_id"] == "T3"


async def test_plaintext_is_stored_with_a_warning_without_keys(
    store: SqlStore, log_output: io.StringIO
) -> None:
    await store.save_installation("slack", "", "T2", "U1", DATA)
    assert await store.find_installation("slack", "", "T2") == DATA
    out = log_output.getvalue()
    assert "installations.stored_unencrypted" in out
    assert "ENCRYPTION_KEYS" in out
    assert TOKEN not in out


async def test_an_installation_no_key_opens_is_logged_and_treated_as_absent(
    store: SqlStore, log_output: io.StringIO
) -> None:
    store.use_encryption_keys((SecretBox.new_key(),))
    await store.save_installation("slack", "", "T2", "U1", DATA)
    store.use_encryption_keys((SecretBox.new_key(),))  # the key was lost
    assert await store.find_installation("slack", "", "T2") is None
    assert "installations.unreadable" in log_output.getvalue()
    store.use_encryption_keys(())
    assert await store.find_installation("slack", "", "T2") is None


async def test_an_oauth_process_without_keys_warns_at_startup(
    store: SqlStore, log_output: io.StringIO
) -> None:
    async with core_on_simulator(store, slack_client_id="1111.2222"):
        pass
    async with core_on_simulator(
        store, slack_client_id="1111.2222", encryption_keys=SecretBox.new_key()
    ):
        pass
    assert log_output.getvalue().count("installations.unencrypted") == 1
