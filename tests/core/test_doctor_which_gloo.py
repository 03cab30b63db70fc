"""gloo-bots doctor says which Gloo the service would use (issue 10, section 4)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from core.bootstrap import NO_GLOO_FOR_SERVING
from core.doctor import Finding, check_which_gloo, run_doctor
from core.settings import Settings
from tests.harness import unwrapped


def settings(**values: Any) -> Settings:
    base: dict[str, Any] = {
        "gloo_client_id": None,
        "gloo_client_secret": None,
        "gloo_api_key": None,
    }
    return Settings(_env_file=None, **{**base, **values})


def test_real_gloo_names_its_url_and_api() -> None:
    found = check_which_gloo(
        settings(gloo_api_key="k-123456", gloo_api_url="https://gloo.example"), serving=True
    )
    assert found == Finding(
        "Gloo",
        True,
        "the service would use Gloo AI at https://gloo.example, the Message API "
        "(GLOO_BACKEND=message)",
    )
    v2 = check_which_gloo(
        settings(gloo_client_id="id", gloo_client_secret="secret", gloo_backend="completions"),
        serving=True,
    )
    assert v2.ok
    assert "Completions V2 (GLOO_BACKEND=completions)" in v2.summary


@pytest.mark.parametrize("api", ["message", "completions"])
def test_the_simulator_asked_for_is_a_warning_that_names_its_api(api: str) -> None:
    found = check_which_gloo(
        settings(gloo_backend="simulator", gloo_simulator_api=api), serving=True
    )
    assert found.ok
    assert found.warning
    name = "the Message API" if api == "message" else "Completions V2"
    assert f"the built-in simulator speaking {name} (GLOO_BACKEND=simulator)" in found.summary
    assert "every answer says it is simulated" in found.summary


def test_no_credentials_fails_when_a_platform_would_be_served() -> None:
    serving = check_which_gloo(settings(), serving=True)
    assert not serving.ok
    assert serving.advice == NO_GLOO_FOR_SERVING
    assert "serving a platform refuses to start" in serving.summary
    console = check_which_gloo(settings(), serving=False)
    assert console.ok
    assert console.warning
    assert "console playground only" in console.summary


class _Configured:
    name = "discord"

    def configured(self, _: Settings) -> bool:
        return True

    async def diagnose(self, _: Settings) -> list[Finding]:
        return [Finding("Discord", True, "bot token accepted")]


async def test_doctor_prints_which_gloo(tmp_path: Any) -> None:
    out = io.StringIO()
    url = f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"
    code = await run_doctor(settings(database_url=url), [_Configured()], out=out)
    text = unwrapped(out.getvalue())
    assert code == 1, text
    assert "[FAIL] Gloo: the service would use the built-in simulator" in text
    assert f"-> {NO_GLOO_FOR_SERVING}" in text
