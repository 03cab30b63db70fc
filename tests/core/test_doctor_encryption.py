"""gloo-bots doctor on ENCRYPTION_KEYS: every key is a Fernet key, and the stored
installations open with the configured keys (or are counted for ``gloo-bots db reencrypt``)."""

from __future__ import annotations

import io
from typing import Any

from pydantic import SecretStr

from core.crypto import SecretBox
from core.doctor import check_encryption, run_doctor
from core.settings import Settings
from core.store.engine import sqlite_file_path
from core.store.sql import SqlStore
from tests.harness import settings_for_tests, unwrapped

OLD_KEY = SecretBox.new_key()
NEW_KEY = SecretBox.new_key()
OTHER_KEY = SecretBox.new_key()


async def doctor(settings: Settings) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_doctor(settings, [], out=out)
    return code, unwrapped(out.getvalue())


def with_keys(sqlite_url: str, keys: str | None, **values: Any) -> Settings:
    """Settings with ``ENCRYPTION_KEYS`` as given, unchecked (a bad key reaches the doctor
    as an operator's environment would, had nothing else parsed it first)."""
    settings = settings_for_tests(database_url=sqlite_url, **values)
    secret = SecretStr(keys) if keys is not None else None
    return settings.model_copy(update={"encryption_keys": secret})


async def install(sqlite_url: str, team: str, keys: tuple[str, ...]) -> None:
    """Store one Slack installation sealed with ``keys`` (plain text without keys)."""
    store = await SqlStore.open(sqlite_url)
    try:
        store.use_encryption_keys(keys)
        await store.save_installation("slack", "", team, "", {"bot_token": f"xoxb-{team}"})
    finally:
        await store.close()


async def test_a_key_that_is_not_a_fernet_key_is_one_plain_sentence(sqlite_url: str) -> None:
    code, out = await doctor(with_keys(sqlite_url, f"{NEW_KEY},not-a-key"))
    assert code == 1
    assert "[FAIL] Encryption: ENCRYPTION_KEYS: key 2 is not a Fernet key" in out
    assert "gloo-bots db new-key" in out
    assert "Traceback" not in out
    assert "not-a-key" not in out  # a secret, even a broken one, is not printed


async def test_installations_under_the_first_key_pass(sqlite_url: str) -> None:
    await install(sqlite_url, "T1", (NEW_KEY,))
    await install(sqlite_url, "T2", (NEW_KEY, OLD_KEY))
    code, out = await doctor(with_keys(sqlite_url, f"{NEW_KEY},{OLD_KEY}"))
    assert code == 0, out
    assert "[  ok] Encryption: ENCRYPTION_KEYS holds 2 Fernet key(s)" in out
    assert "[  ok] Encryption: all 2 stored installation(s) open with the first key" in out


async def test_plain_and_older_key_installations_are_counted_for_reencrypt(
    sqlite_url: str,
) -> None:
    await install(sqlite_url, "T1", ())  # before a key was set
    await install(sqlite_url, "T2", (OLD_KEY,))  # before the key was rotated
    await install(sqlite_url, "T3", (NEW_KEY,))
    code, out = await doctor(with_keys(sqlite_url, f"{NEW_KEY},{OLD_KEY}"))
    assert code == 0, out
    assert (
        "[WARN] Encryption: 3 stored installation(s) decrypt, 1 still in plain text and "
        "1 under an older key\n       -> Run 'gloo-bots db reencrypt'"
    ) in out


async def test_an_installation_no_configured_key_opens_fails(sqlite_url: str) -> None:
    await install(sqlite_url, "T1", (OTHER_KEY,))
    await install(sqlite_url, "T2", (NEW_KEY,))
    code, out = await doctor(with_keys(sqlite_url, NEW_KEY))
    assert code == 1
    assert (
        "[FAIL] Encryption: 1 of 2 stored installation(s) cannot be decrypted with ENCRYPTION_KEYS"
    ) in out
    assert "Put the key they were encrypted with back in ENCRYPTION_KEYS" in out


async def test_encrypted_installations_without_keys_fail(sqlite_url: str) -> None:
    await install(sqlite_url, "T1", (NEW_KEY,))
    code, out = await doctor(with_keys(sqlite_url, None))
    assert code == 1
    assert "cannot be decrypted without ENCRYPTION_KEYS (not set)" in out


async def test_plain_text_installations_without_keys_are_a_warning(sqlite_url: str) -> None:
    await install(sqlite_url, "T1", ())
    code, out = await doctor(with_keys(sqlite_url, None, slack_client_id="123.456"))
    assert code == 0, out
    assert "[WARN] Encryption: ENCRYPTION_KEYS is not set: OAuth installs keep bot tokens" in out
    assert "[WARN] Encryption: 1 stored installation(s) keep their bot tokens in plain text" in out
    assert "gloo-bots db new-key" in out


async def test_nothing_to_say_without_keys_oauth_or_installations(sqlite_url: str) -> None:
    settings = with_keys(sqlite_url, None)
    assert await check_encryption(settings) == []


async def test_keys_are_checked_without_creating_the_database(sqlite_url: str) -> None:
    findings = await check_encryption(with_keys(sqlite_url, NEW_KEY))
    assert [(f.ok, f.summary) for f in findings] == [
        (True, "ENCRYPTION_KEYS holds 1 Fernet key(s)")
    ]
    path = sqlite_file_path(sqlite_url)
    assert path is not None
    assert not path.exists()


async def test_an_unreachable_database_is_left_to_the_database_check() -> None:
    settings = with_keys("postgresql+psycopg://nobody:secret@127.0.0.1:1/none", NEW_KEY)
    code, out = await doctor(settings)
    assert code == 1
    assert "[FAIL] Database: cannot connect to" in out
    assert "[  ok] Encryption: ENCRYPTION_KEYS holds 1 Fernet key(s)" in out
    assert "installation" not in out
