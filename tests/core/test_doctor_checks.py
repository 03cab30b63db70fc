"""gloo-bots doctor's shape: every failure and warning has advice under it, every line fits
100 columns, the checks run at once and print in a fixed order, and the SQLite folder is
checked (writable, creatable, or a file in the way)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from core.crypto import SecretBox
from core.doctor import WIDTH, DoctorSubject, Finding, check_database_folder, run_doctor
from core.settings import Settings
from core.simulator import Simulator, SimulatorConfig, SimulatorTransport
from core.store.sql import SqlStore
from tests.harness import settings_for_tests, unwrapped


def blocks(out: str) -> list[list[str]]:
    """The printed findings: each a ``[mark]`` line and the lines under it."""
    found: list[list[str]] = []
    for line in out.splitlines():
        if line.startswith("["):
            found.append([line])
        elif found and line.startswith(" "):
            found[-1].append(line)
        elif line.strip():
            found.append([line])  # a probe's report, or the summary line
    return found


def assert_well_formed(out: str) -> None:
    """Every line fits (but a word longer than a line, a long path or URL, stays whole on
    a line of its own); every FAIL and WARN has an advice line under it, ok lines none."""
    assert all(len(line) <= WIDTH or len(line.split()) == 1 for line in out.splitlines()), out
    for block in blocks(out):
        head = block[0]
        advised = any(line.startswith("       -> ") for line in block[1:])
        if head.startswith(("[FAIL]", "[WARN]")):
            assert advised, block
        elif head.startswith("[  ok]"):
            assert not advised, block


async def doctor(settings: Settings, *adapters: DoctorSubject, sim: Simulator | None = None) -> str:
    out = io.StringIO()
    transport = SimulatorTransport(sim) if sim is not None else None
    await run_doctor(settings, adapters, out=out, transport=transport)
    return out.getvalue()


# --- advice and width ------------------------------------------------------------------


def test_a_failure_or_a_warning_without_advice_cannot_be_made() -> None:
    with pytest.raises(ValueError, match="needs advice"):
        Finding("Gloo", False, "broken")
    with pytest.raises(ValueError, match="needs advice"):
        Finding("Gloo", True, "simulated", " ", warning=True)
    assert Finding("Gloo", True, "fine").lines() == ["[  ok] Gloo: fine"]


def test_long_findings_wrap_under_their_summary_and_their_advice() -> None:
    summary = "the service would use " + "a long description " * 10
    advice = "Set " + "SOME_SETTING and " * 12 + "try again."
    lines = Finding("Gloo", True, summary.strip(), advice, warning=True).lines()
    assert all(len(line) <= WIDTH for line in lines), lines
    assert lines[0].startswith("[WARN] Gloo: the service would use a long description")
    advice_at = next(i for i, line in enumerate(lines) if line.startswith("       -> "))
    assert advice_at > 1
    assert all(line.startswith(" " * 7) for line in lines[1:advice_at])
    assert all(line.startswith(" " * 10) for line in lines[advice_at + 1 :])
    assert unwrapped("\n".join(lines)) == (f"[WARN] Gloo: {summary.strip()}\n       -> {advice}")


SCENARIOS: dict[str, Callable[[Path], Settings]] = {
    "a fresh install on the simulator": lambda tmp: settings_for_tests(
        database_url=f"sqlite+aiosqlite:///{tmp}/data/db.sqlite"
    ),
    "unreachable Gloo and database": lambda tmp: settings_for_tests(
        gloo_backend="message",
        gloo_api_url="http://127.0.0.1:1",
        gloo_api_key="k",
        gloo_connect_timeout=1,
        database_url="postgresql+psycopg://nobody:secret@127.0.0.1:1/none",
    ),
    "a database folder that is a file": lambda tmp: settings_for_tests(
        database_url=f"sqlite+aiosqlite:///{tmp}/file/db.sqlite"
    ),
    "a broken encryption key": lambda tmp: settings_for_tests(
        database_url=f"sqlite+aiosqlite:///{tmp}/db.sqlite"
    ).model_copy(update={"encryption_keys": SecretStr("not-a-key")}),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_every_failure_and_warning_has_advice_and_every_line_fits(
    scenario: str, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")
    out = await doctor(SCENARIOS[scenario](tmp_path), _Platform("slack"))
    assert "[FAIL]" in out or "[WARN]" in out, out
    assert_well_formed(out)


async def test_gloo_refusing_the_credentials_is_advised(tmp_path: Path) -> None:
    sim = Simulator(SimulatorConfig(clients={"bot": "right"}))
    settings = settings_for_tests(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite",
        gloo_backend="completions",
        gloo_api_url="http://gloo.test",
        gloo_client_id="bot",
        gloo_client_secret="wrong",
    )
    out = await doctor(settings, sim=sim)
    assert "[FAIL] Gloo: http://gloo.test/oauth2/token refused the credentials (401)" in out
    assert_well_formed(out)


# --- at once, in a fixed order -------------------------------------------------------------


class _Platform:
    """A configured platform whose check waits for ``waits_for`` (another platform's check,
    or Gloo's) to have started: checked one after the other, the doctor would never end."""

    def __init__(self, name: str, *, waits_for: asyncio.Event | None = None) -> None:
        self.name = name
        self.started = asyncio.Event()
        self.waits_for = waits_for
        self.finished_before: list[str] = []

    def configured(self, settings: Settings) -> bool:
        return True

    async def diagnose(self, settings: Settings) -> list[Finding]:
        self.started.set()
        if self.waits_for is not None:
            await self.waits_for.wait()
        return [Finding(self.name.capitalize(), True, "answered")]


class _GlooAfter(httpx.AsyncBaseTransport):
    """Gloo that answers only once ``ready`` is set (a platform's check has started)."""

    def __init__(self, ready: asyncio.Event) -> None:
        self.ready = ready
        self.inner = SimulatorTransport(Simulator(SimulatorConfig(api_keys=frozenset({"k"}))))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.ready.wait()
        return await self.inner.handle_async_request(request)


async def test_gloo_and_the_platforms_are_checked_at_once_and_print_in_order(
    tmp_path: Path,
) -> None:
    second = _Platform("second")
    first = _Platform("first", waits_for=second.started)  # finishes after the second began
    settings = settings_for_tests(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite",
        gloo_backend="message",
        gloo_api_url="http://gloo.test",
        gloo_api_key="k",
    )
    out = io.StringIO()
    run = run_doctor(settings, [first, second], out=out, transport=_GlooAfter(second.started))
    assert await asyncio.wait_for(run, 30) == 0, out.getvalue()
    areas = [line.split(":")[0] for line in out.getvalue().splitlines() if line.startswith("[")]
    assert areas == [
        "[  ok] Gloo",
        "[  ok] Gloo",
        "[WARN] Database",
        "[  ok] Database folder",
        "[  ok] First",
        "[  ok] Second",
    ]


# --- the SQLite folder ----------------------------------------------------------------------


def _at(tmp: Path, relative: str) -> Settings:
    return settings_for_tests(database_url=f"sqlite+aiosqlite:///{tmp / relative}")


FOLDERS = [
    # (database file under tmp, can write, the line, the advice or "")
    ("db.sqlite", True, "[  ok] Database folder: {tmp} is a writable folder", ""),
    (
        "new/deeper/db.sqlite",
        True,
        "[  ok] Database folder: {tmp}/new/deeper does not exist yet: the first start creates it",
        "",
    ),
    (
        "file/db.sqlite",
        True,
        "[FAIL] Database folder: {tmp}/file is a file, not a folder: the SQLite database cannot "
        "be created in it",
        "Move or remove that file, or point DATABASE_URL at a folder this user can write.",
    ),
    (
        "file/sub/db.sqlite",
        True,
        "[FAIL] Database folder: {tmp}/file/sub cannot be created: {tmp}/file is a file",
        "Move or remove {tmp}/file, or point DATABASE_URL at a folder this user can write.",
    ),
    (
        "db.sqlite",
        False,
        "[FAIL] Database folder: {tmp} is not writable: SQLite cannot write the database or its "
        "journal",
        "Give this user write access to {tmp} (chown, chmod), or point DATABASE_URL at a folder "
        "this user can write.",
    ),
    (
        "new/db.sqlite",
        False,
        "[FAIL] Database folder: {tmp}/new cannot be created: {tmp} is not writable",
        "Create {tmp}/new for this user, or point DATABASE_URL at a folder this user can write.",
    ),
]


@pytest.mark.parametrize(("relative", "can_write", "line", "advice"), FOLDERS)
def test_the_database_folder(
    tmp_path: Path, relative: str, can_write: bool, line: str, advice: str
) -> None:
    (tmp_path / "file").write_text("not a folder")
    tried: list[Path] = []

    def writable(folder: Path) -> bool:
        tried.append(folder)
        return can_write

    (finding,) = check_database_folder(_at(tmp_path, relative), writable=writable)
    printed = unwrapped("\n".join(finding.lines()))
    expected = line.format(tmp=tmp_path)
    if advice:
        expected += f"\n       -> {advice.format(tmp=tmp_path)}"
    assert printed == expected
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_the_folder_check_tries_a_real_write(tmp_path: Path) -> None:
    (finding,) = check_database_folder(_at(tmp_path, "db.sqlite"))
    assert finding.ok
    assert list(tmp_path.iterdir()) == []  # the trial file is gone


def test_no_folder_for_postgresql_or_memory() -> None:
    postgres = settings_for_tests(database_url="postgresql+psycopg://u@127.0.0.1/x")
    memory = settings_for_tests(database_url="sqlite+aiosqlite:///:memory:")
    assert check_database_folder(postgres) == []
    assert check_database_folder(memory) == []


async def test_the_doctor_prints_the_folder_under_the_database(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    out = unwrapped(await doctor(_at(tmp_path, "file/db.sqlite")))
    assert (
        f"[FAIL] Database folder: {tmp_path}/file is a file, not a folder: the SQLite database "
        "cannot be created in it\n"
        "       -> Move or remove that file, or point DATABASE_URL at a folder this user can write."
    ) in out
    assert "1 problem(s) found." in out


# --- ENCRYPTION_KEYS ----------------------------------------------------------------------

KEY = SecretBox.new_key()
OTHER = SecretBox.new_key()

ENCRYPTION = [
    # (ENCRYPTION_KEYS, installations sealed with, the line, the advice or "")
    (
        f"{KEY},broken",
        None,
        "[FAIL] Encryption: ENCRYPTION_KEYS: key 2 is not a Fernet key (32 url-safe "
        "base64-encoded bytes); make one with 'gloo-bots db new-key'",
        "Fix or remove that key, keeping every key stored installations were encrypted with.",
    ),
    (KEY, None, "[  ok] Encryption: ENCRYPTION_KEYS holds 1 Fernet key(s)", ""),
    (
        KEY,
        (OTHER,),
        "[FAIL] Encryption: 1 of 1 stored installation(s) cannot be decrypted with ENCRYPTION_KEYS",
        "Put the key they were encrypted with back in ENCRYPTION_KEYS (any position), or have "
        "those workspaces install the app again.",
    ),
    (
        f"{KEY},{OTHER}",
        (OTHER,),
        "[WARN] Encryption: 1 stored installation(s) decrypt, 1 under an older key",
        "Run 'gloo-bots db reencrypt' to encrypt them with the first key.",
    ),
    (
        None,
        (KEY,),
        "[FAIL] Encryption: 1 of 1 stored installation(s) cannot be decrypted without "
        "ENCRYPTION_KEYS (not set)",
        "Put the key they were encrypted with back in ENCRYPTION_KEYS (any position), or have "
        "those workspaces install the app again.",
    ),
]


# Named ids: the keys are made at collection, and every xdist worker must collect the same.
@pytest.mark.parametrize(
    ("keys", "sealed_with", "line", "advice"),
    ENCRYPTION,
    ids=["a-broken-key", "one-key", "an-unknown-key", "an-older-key", "no-keys"],
)
async def test_encryption_keys_and_the_stored_tokens(
    sqlite_url: str,
    keys: str | None,
    sealed_with: tuple[str, ...] | None,
    line: str,
    advice: str,
) -> None:
    if sealed_with is not None:
        store = await SqlStore.open(sqlite_url)
        try:
            store.use_encryption_keys(sealed_with)
            await store.save_installation("slack", "", "T1", "", {"bot_token": "xoxb-T1"})
        finally:
            await store.close()
    settings = settings_for_tests(database_url=sqlite_url).model_copy(
        update={"encryption_keys": SecretStr(keys) if keys is not None else None}
    )
    out = await doctor(settings)
    assert_well_formed(out)
    expected = line + (f"\n       -> {advice}" if advice else "\n")
    assert expected in unwrapped(out)
    assert "broken" not in out  # a key, even a broken one, is not printed
