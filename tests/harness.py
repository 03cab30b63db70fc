"""A whole core wired the production way (composition root), on the in-process simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from core.bootstrap import Container, build
from core.ports import Store
from core.settings import Settings
from core.simulator import Simulator, SimulatorConfig, SimulatorTransport

GlooApi = Literal["message", "completions"]

#: Which Gloo API :func:`settings_for_tests` makes the core speak to the in-process
#: simulator: the Message API (V1) or Completions V2. Tests leave it alone; the
#: ``gloo_api`` fixture of tests/bots/conftest.py sets it (monkeypatch) per test.
SIMULATOR_API: GlooApi = "message"

#: A publisher the simulator's catalogue knows (core/simulator/content.py). On Completions
#: V2 the settings name it, so answers go to the grounded route and carry citations
#: (sources), as Message API answers carry sources.
V2_PUBLISHER = "Northwind Press"


#: Settings under which Gloo searches no sources on either API (no publishers; V2 not
#: grounded by default): answers without steps (core.steps).
NO_SEARCH: dict[str, Any] = {"gloo_publishers": (), "gloo_grounded_by_default": False}


def simulator_api() -> GlooApi:
    return SIMULATOR_API


def question_path() -> str:
    """Where the simulator sees a question asked on :data:`SIMULATOR_API` (V2: grounded,
    as :func:`backend_settings` names a publisher)."""
    if SIMULATOR_API == "completions":
        return "/ai/v2/chat/completions/grounded"
    return "/ai/v1/message"


def expects_suggestions() -> bool:
    """Whether answers carry suggested follow-ups: Message API answers do, V2 answers never."""
    return SIMULATOR_API == "message"


def backend_settings() -> dict[str, Any]:
    """The settings that choose the Gloo API of :data:`SIMULATOR_API`: the simulator, asked
    for explicitly (``GLOO_BACKEND=simulator``, as serving without credentials requires),
    speaking that API (``GLOO_SIMULATOR_API``).

    The tests put their own simulator behind the core's transport, so answers carry no
    "simulated" note (the core adds it only when it builds the simulator itself; see
    :func:`core.bootstrap.build` and tests/core/test_simulated_answers.py).
    """
    if SIMULATOR_API == "completions":
        return {
            "gloo_backend": "simulator",
            "gloo_simulator_api": "completions",
            "gloo_publishers": (V2_PUBLISHER,),
        }
    return {"gloo_backend": "simulator", "gloo_simulator_api": "message"}


def builtin_simulator_settings() -> dict[str, Any]:
    """``GLOO_BACKEND=simulator`` for a core that builds its own simulator (no transport
    given), speaking :data:`SIMULATOR_API` without delays: production's simulated mode."""
    return {
        **backend_settings(),
        "gloo_simulator_first_chunk_latency": 0.0,
        "gloo_simulator_chunk_latency": 0.0,
    }


def settings_for_tests(**overrides: Any) -> Settings:
    """Settings that ignore the developer's .env and environment-provided credentials,
    speaking :data:`SIMULATOR_API` to the simulator (an override wins)."""
    values: dict[str, Any] = {
        **backend_settings(),
        "gloo_client_id": None,
        "gloo_client_secret": None,
        "gloo_api_key": None,
        "gloo_retry_attempts": 3,
        # The simulator's streams carry chat_id: new chats stream from the first question
        # (tests about the "learn" default set it back; see tests/core/gloo/test_contract.py).
        "gloo_stream_new_chats": "always",
        # Re-drives of failed questions are instant in tests (the Gloo client's retries are
        # made instant by the autouse fixture in conftest.py).
        "inbox_retry_base": 0.0,
        # No bursts unless a test is about them: each message is its own question at once.
        "burst_window_dm_seconds": 0.0,
        # No usage limits unless a test is about them.
        "quota_user_per_minute": 0,
        "quota_user_per_day": 0,
        "quota_workspace_per_day": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@asynccontextmanager
async def core_on_simulator(
    store: Store,
    config: SimulatorConfig | None = None,
    simulator: Simulator | None = None,
    **settings: Any,
) -> AsyncIterator[tuple[Container, Simulator]]:
    sim = simulator or Simulator(config or SimulatorConfig())
    async with build(
        settings_for_tests(**settings), transport=SimulatorTransport(sim), store=store
    ) as container:
        yield container, sim


async def wait_until(condition: Callable[[], bool], *, within: float = 10.0) -> None:
    """Poll ``condition`` (state that other tasks change) until it holds, for ``within`` s."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the state has no event to wait on
            await asyncio.sleep(0.01)


def unwrapped(doctor_output: str) -> str:
    """``gloo-bots doctor``'s output with each finding's wrapped lines joined again: one
    ``[mark] area: summary`` line, then one ``       -> advice`` line (core/doctor.py wraps
    both to 100 columns, continuing them under the summary and under the advice)."""
    lines: list[str] = []
    for line in doctor_output.splitlines():
        continues_advice = line.startswith(" " * 10) and lines and "-> " in lines[-1][:10]
        continues_summary = (
            line.startswith(" " * 7)
            and not line.startswith("       -> ")
            and lines
            and lines[-1].startswith("[")
        )
        if continues_advice or continues_summary:
            lines[-1] = f"{lines[-1]} {line.strip()}"
        else:
            lines.append(line)
    return "\n".join(lines) + ("\n" if doctor_output.endswith("\n") else "")
