"""Every failure a new user meets at start is ONE sentence on stderr (issue 25, part 1).

``gloo-bots: <what is wrong> — <what to do>``, a non-zero exit, and a traceback only at
``LOG_LEVEL=DEBUG``. Each case runs ``python -m core`` in a fresh folder with no network:
closed ports (127.0.0.1:9, :1), ``.invalid`` hosts (RFC 6761: never resolve) and a local
server that refuses every token.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from core.failures import StartupError, explain, register
from tests.core.test_cli import clean_env

MAX_LINES = 5
GLOO = {"GLOO_API_KEY": "not-used-before-the-failure", "PORT": "0", "HOST": "127.0.0.1"}
SLACK_HTTP = {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "8f742231b10e8888"}
CLOSED = "http://127.0.0.1:9/"
NOWHERE = "http://nonexistent.invalid/"
POSTGRES_CLOSED = "postgresql+psycopg://postgres@127.0.0.1:1/x"


class _Refusing(http.server.BaseHTTPRequestHandler):
    """Refuses every token the way each platform does.

    Discord: ``GET /users/@me`` answers 401, which discord.py's ``login`` turns into
    ``LoginFailure`` (discord/http.py, static_login). Slack: every Web API method answers
    200 with ``{"ok": false, "error": "invalid_auth"}`` (docs.slack.dev/reference/methods/
    auth.test, Errors).
    """

    def _reply(self) -> None:
        if "/users/@me" in self.path:
            status, body = 401, {"message": "401: Unauthorized", "code": 0}
        else:
            status, body = 200, {"ok": False, "error": "invalid_auth"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _reply

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def refusing() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    env: dict[str, str]
    #: Words the sentence must hold (case-insensitive).
    words: tuple[str, ...]
    #: Files to create in the folder first (name: text). In ``env``, "{refusing}" becomes
    #: the refusing server's URL.
    files: dict[str, str] = field(default_factory=dict)
    #: Nothing may be created in the folder (the settings were refused first).
    creates_nothing: bool = False


CASES = [
    Case(
        "slack-unreachable-closed-port",
        ("slack",),
        {**GLOO, **SLACK_HTTP, "SLACK_API_URL": CLOSED},
        ("slack could not be reached", "127.0.0.1:9", "SLACK_API_URL"),
    ),
    Case(
        "slack-socket-mode-unresolvable-host",
        ("run",),
        {**GLOO, "SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_APP_TOKEN": "xapp-1-A-1-abc"}
        | {"SLACK_API_URL": NOWHERE},
        ("slack could not be reached", "nonexistent.invalid", "SLACK_API_URL"),
    ),
    Case(
        "slack-invalid-auth",
        ("slack",),
        {**GLOO, **SLACK_HTTP, "SLACK_API_URL": "{refusing}/"},
        ("refused SLACK_BOT_TOKEN", "invalid_auth"),
    ),
    Case(
        "discord-unreachable-closed-port",
        ("discord",),
        {**GLOO, "DISCORD_BOT_TOKEN": "a-token", "DISCORD_API_URL": "http://127.0.0.1:9"},
        ("could not reach discord", "127.0.0.1:9", "DISCORD_API_URL"),
    ),
    Case(
        "discord-refused-token",
        ("discord",),
        {**GLOO, "DISCORD_BOT_TOKEN": "not-a-token", "DISCORD_API_URL": "{refusing}"},
        ("discord refused the bot token", "DISCORD_BOT_TOKEN"),
    ),
    Case(
        "db-upgrade-sqlite-folder-is-a-file",
        ("db", "upgrade"),
        {"DATABASE_URL": "sqlite:///afile/db.sqlite"},
        ("could not be opened", "afile is not a folder", "DATABASE_URL"),
        files={"afile": "a regular file"},
    ),
    Case(
        "db-current-sqlite-folder-is-a-file",
        ("db", "current"),
        {"DATABASE_URL": "sqlite:///afile/db.sqlite"},
        ("could not be opened", "afile is not a folder", "DATABASE_URL"),
        files={"afile": "a regular file"},
    ),
    Case(
        "db-upgrade-postgres-unreachable",
        ("db", "upgrade"),
        {"DATABASE_URL": POSTGRES_CLOSED},
        ("127.0.0.1:1/x could not be opened", "refused", "DATABASE_URL"),
    ),
    Case(
        "chat-postgres-unreachable",
        ("chat",),
        {"DATABASE_URL": POSTGRES_CLOSED},
        ("could not be opened", "DATABASE_URL", "server is running"),
    ),
    Case(
        "slack-missing-signing-secret",
        ("slack",),
        {**GLOO, "SLACK_BOT_TOKEN": "xoxb-1-2-abc"},
        ("SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"),
        creates_nothing=True,
    ),
    Case(
        "a-setting-is-not-valid",
        ("chat",),
        {"GLOO_TIMEOUT": "soon"},
        ("configuration is not valid", "GLOO_TIMEOUT", "environment or .env"),
        creates_nothing=True,
    ),
]


def run(case: Case, cwd: Path, refusing: str, **extra: str) -> subprocess.CompletedProcess[str]:
    for name, text in case.files.items():
        (cwd / name).write_text(text)
    env = clean_env(**{k: v.replace("{refusing}", refusing) for k, v in case.env.items()})
    env.setdefault("LOG_LEVEL", "WARNING")  # what a person sees; INFO adds our own events
    env.update(extra)
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "core", *case.args],
        input="",
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_failure_is_one_sentence(case: Case, tmp_path: Path, refusing: str) -> None:
    result = run(case, tmp_path, refusing)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    lines = result.stderr.strip().splitlines()
    sentence = lines[-1] if lines else ""
    assert sentence.startswith("gloo-bots: "), output
    assert " — " in sentence, sentence
    for word in case.words:
        assert word.lower() in sentence.lower(), (word, sentence)
    assert "Traceback" not in output, output
    assert len(output.strip().splitlines()) <= MAX_LINES, output
    if case.creates_nothing:
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(case.files), output


def test_at_debug_the_traceback_comes_before_the_sentence(tmp_path: Path, refusing: str) -> None:
    [case] = [c for c in CASES if c.name == "db-upgrade-sqlite-folder-is-a-file"]
    result = run(case, tmp_path, refusing, LOG_LEVEL="DEBUG")
    assert result.returncode != 0
    assert "Traceback (most recent call last)" in result.stderr
    assert "SqliteFolderIsAFile" in result.stderr  # refused before aiosqlite starts a thread
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("gloo-bots: ")
    assert "afile is not a folder" in last


# --- the mapping itself ------------------------------------------------------------------


def test_a_startup_error_is_its_own_sentence_on_one_line() -> None:
    assert explain(StartupError("X is wrong —\n set Y")) == "X is wrong — set Y"


def test_a_cause_further_down_the_chain_gives_the_sentence() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as exc:
        sentence = explain(exc)
    assert sentence.startswith("a connection failed (Connection refused) — check the URL")


def test_a_permission_error_names_the_path() -> None:
    sentence = explain(PermissionError(13, "Permission denied", "/srv/data"))
    assert sentence.startswith("permission denied (/srv/data) — ")


def test_an_adapter_registers_its_translation() -> None:
    class PlatformRefused(Exception):
        pass

    register(PlatformRefused, lambda exc: f"the platform refused ({exc}) — fix the token")
    assert explain(PlatformRefused("401")) == "the platform refused (401) — fix the token"


def test_an_unknown_error_says_how_to_see_more() -> None:
    sentence = explain(KeyError("boom"))
    assert sentence.startswith("an unexpected error stopped the command (KeyError: 'boom')")
    assert "LOG_LEVEL=DEBUG" in sentence
