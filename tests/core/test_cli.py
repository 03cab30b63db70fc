"""The ``gloo-bots`` command as a user runs it: real processes, real HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from core.bootstrap import NO_GLOO_FOR_SERVING
from core.cli import _fault_rates, main
from core.store.sql import SqlStore


def clean_env(**extra: str) -> dict[str, str]:
    """An environment with no Gloo, Slack or Discord settings at all."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    env.update(GLOO_SIMULATOR_FIRST_CHUNK_LATENCY="0", GLOO_SIMULATOR_CHUNK_LATENCY="0")
    env.update(extra)
    return env


def gloo_bots(
    *args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "core", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env or clean_env(),
        timeout=60,
        check=False,
    )


def test_chat_with_an_empty_environment_uses_the_simulator_and_says_so(tmp_path: Path) -> None:
    result = gloo_bots("chat", cwd=tmp_path, stdin="What is grace?\n1\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "SIMULATOR MODE" in out
    assert out.index("SIMULATOR MODE") < out.index("Gloo: ")
    assert out.count("Gloo: ") == 2
    assert "Suggestions (type a number to ask):" in out
    assert "You (suggestion 1): " in out
    assert (tmp_path / "data" / "gloo-bots.db").exists()  # the zero-setup SQLite default


def test_completions_v2_on_the_simulator_keeps_the_thread_s_history(tmp_path: Path) -> None:
    env = clean_env(GLOO_BACKEND="completions")
    result = gloo_bots("chat", cwd=tmp_path, stdin="What is grace?\nAnd mercy?\n", env=env)
    assert result.returncode == 0, result.stderr
    assert "SIMULATOR MODE" in result.stdout
    assert result.stdout.count("Gloo: ") == 2
    # The stateless API got the first turn back from our store with the second question.
    assert "Earlier you asked about" in result.stdout


def test_run_without_platform_tokens_opens_the_playground(tmp_path: Path) -> None:
    result = gloo_bots("run", cwd=tmp_path, stdin="Hello\n")
    assert result.returncode == 0, result.stderr
    assert "SIMULATOR MODE" in result.stdout
    assert "Gloo: " in result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def simulator_process(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "core",
            "simulator",
            "--port",
            str(port),
            "--first-chunk-latency",
            "0",
            "--chunk-latency",
            "0",
        ],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                raise RuntimeError(f"simulator exited: {output}") from None
            time.sleep(0.05)
    else:
        process.kill()
        raise RuntimeError("simulator did not start listening")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_chat_talks_to_a_simulator_over_http_with_oauth(
    tmp_path: Path, simulator_process: str
) -> None:
    env = clean_env(
        GLOO_API_URL=simulator_process,
        GLOO_CLIENT_ID="x",
        GLOO_CLIENT_SECRET="y",
        GLOO_INTENT="1",
    )
    result = gloo_bots("chat", cwd=tmp_path, stdin="What is grace?\n2\n/history\n", env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "SIMULATOR MODE" not in out
    assert out.count("Gloo: ") == 4  # two answers, then both again in the history
    assert "You (suggestion 2): " in out
    assert "Conversation c" in out


def test_wrong_credentials_are_one_plain_sentence(tmp_path: Path, simulator_process: str) -> None:
    env = clean_env(GLOO_API_URL=simulator_process, GLOO_API_KEY="not-a-key")
    result = gloo_bots("chat", cwd=tmp_path, stdin="What is grace?\n", env=env)
    assert result.returncode == 0
    assert "(!) I can't sign in to Gloo right now." in result.stdout
    assert "not-a-key" not in result.stdout + result.stderr


def test_db_upgrade_and_current(tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    current = gloo_bots("db", "current", cwd=tmp_path, env=env)
    assert current.returncode == 1
    assert "behind" in current.stdout
    upgraded = gloo_bots("db", "upgrade", cwd=tmp_path, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "(latest)" in upgraded.stdout
    assert gloo_bots("db", "current", cwd=tmp_path, env=env).returncode == 0


def test_the_worker_runs_until_sigterm_and_stops_cleanly(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "core", "worker"],
        cwd=tmp_path,
        env=clean_env(LOG_LEVEL="INFO"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    started = ""
    deadline = time.monotonic() + 30
    while "worker.started" not in started and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        started += line
    assert "worker.started" in started, started
    assert "prune" in started
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=20)
    assert process.returncode == 0, started + rest
    assert "worker.stopped" in rest


def test_help_lists_the_installed_adapters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    usage = capsys.readouterr().out
    assert "slack" in usage
    assert "discord" in usage


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "simulator" in capsys.readouterr().out


def test_fault_specs() -> None:
    assert _fault_rates(["429=0.1", "drop=0.05"]) == {"error_429": 0.1, "drop_stream": 0.05}
    with pytest.raises(SystemExit, match="KIND=RATE"):
        _fault_rates(["teapot=1"])
    with pytest.raises(SystemExit, match="from 0 to 1"):
        _fault_rates(["500=2"])


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABASE_URL": "mysql://db/x"}, "DATABASE_URL is not usable"),
        (
            {"DATABASE_URL": "postgresql://postgres:hunter2@127.0.0.1:1/x"},
            "the database postgresql+psycopg://postgres:***@127.0.0.1:1/x could not be opened",
        ),
        ({"GLOO_TIMEOUT": "soon"}, "the configuration is not valid"),
    ],
)
def test_startup_problems_are_one_clear_sentence(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    result = gloo_bots("chat", cwd=tmp_path, stdin="hi\n", env=clean_env(**env))
    assert result.returncode in (1, 2)
    assert expected in result.stderr.strip().splitlines()[-1] or expected in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_an_adapter_s_help_is_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["discord", "--help"])
    assert exited.value.code == 0
    assert "invite" in capsys.readouterr().out


def test_unknown_options_of_core_commands_are_refused() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["chat", "--bogus"])
    assert exited.value.code == 2


async def test_db_new_key_and_reencrypt_encrypt_stored_installations(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/x.db"
    token = "xoxb-1111-2222-plaintext-before-keys"
    store = await SqlStore.open(url)
    try:
        await store.save_installation("slack", "", "T2", "U1", {"bot_token": token})
    finally:
        await store.close()
    made = gloo_bots("db", "new-key", cwd=tmp_path, env=clean_env(DATABASE_URL=url))
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    Fernet(key.encode())  # a valid Fernet key
    env = clean_env(DATABASE_URL=url, ENCRYPTION_KEYS=key)
    done = gloo_bots("db", "reencrypt", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "Encrypted 1 installation(s)" in done.stdout
    assert token not in (tmp_path / "x.db").read_bytes().decode("latin-1")
    store = await SqlStore.open(url)
    try:
        store.use_encryption_keys((key,))
        assert await store.find_installation("slack", "", "T2") == {"bot_token": token}
    finally:
        await store.close()


def test_a_malformed_encryption_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    env = clean_env(ENCRYPTION_KEYS="not-a-fernet-key-but-a-secret")
    result = gloo_bots("db", "reencrypt", cwd=tmp_path, env=env)
    assert result.returncode != 0
    assert "ENCRYPTION_KEYS: key 1 is not a Fernet key" in result.stdout + result.stderr
    assert "not-a-fernet-key-but-a-secret" not in result.stdout + result.stderr


def healthz(port: int, *, within: float) -> int:
    deadline = time.monotonic() + within
    while True:
        try:
            url = f"http://127.0.0.1:{port}/healthz"
            with urllib.request.urlopen(url, timeout=2) as response:
                status: int = response.status
                return status
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


SLACK_TOKENS = {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "8f742231b10e8888"}


@pytest.mark.parametrize(
    ("command", "tokens"),
    [
        ("slack", SLACK_TOKENS),
        ("discord", {"DISCORD_BOT_TOKEN": "MTAx.Gx.not-a-real-token"}),
        ("run", SLACK_TOKENS),
    ],
)
def test_serving_a_platform_without_gloo_credentials_refuses_in_one_sentence(
    tmp_path: Path, command: str, tokens: dict[str, str]
) -> None:
    result = gloo_bots(command, cwd=tmp_path, env=clean_env(**tokens))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"gloo-bots: {NO_GLOO_FOR_SERVING}"]
    for setting in ("GLOO_CLIENT_ID", "GLOO_CLIENT_SECRET", "GLOO_API_KEY", "GLOO_BACKEND"):
        assert setting in lines[0]
    assert "SIMULATOR MODE" not in result.stdout + result.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was created


def test_with_gloo_backend_simulator_serving_slack_starts_and_says_so(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(
        GLOO_BACKEND="simulator", LOG_LEVEL="INFO", PORT=str(port), HOST="127.0.0.1", **SLACK_TOKENS
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "core", "slack"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    started = ""
    deadline = time.monotonic() + 30
    while "process.listening" not in started and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        started += line
    try:
        assert "process.listening" in started, started
        assert "SIMULATOR MODE" in started
        assert "gloo.simulated" in started
        # /healthz answering means the process's loop runs past its signal handlers' setup.
        assert healthz(port, within=10) == 200
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=20)
    assert process.returncode == 0, started + rest
