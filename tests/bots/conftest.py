"""Both Gloo APIs for every adapter test.

Every test under tests/bots runs twice (autouse ``gloo_api``): ``v1`` with the core speaking
the Message API to the in-process simulator, ``v2`` with it speaking Completions V2
(grounded, so answers carry sources). ``settings_for_tests`` reads the switch, so every
process, core and settings a test builds speak the API of its parameter; the simulator
serves both, and ``Simulator.asked`` records the questions of either.

Tests that depend on a Message-API-only feature are marked ``@pytest.mark.message_api`` and
skipped on V2 with :data:`V1_ONLY_REASON`, the one place the reason is written. An
assertion about such a feature inside an otherwise general test is made conditional with
:func:`tests.harness.expects_suggestions` (or :func:`tests.harness.simulator_api`)
instead of skipping the whole test.
"""

from __future__ import annotations

import pytest

from tests import harness

V1_ONLY_REASON = "Completions V2 answers carry no suggestions"


@pytest.fixture(
    autouse=True,
    params=[
        pytest.param("message", id="v1"),
        pytest.param("completions", id="v2"),
    ],
)
def gloo_api(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> harness.GlooApi:
    """The Gloo API this test's processes speak (``settings_for_tests`` reads it)."""
    api: harness.GlooApi = request.param
    if api == "completions" and request.node.get_closest_marker("message_api"):
        pytest.skip(V1_ONLY_REASON)
    monkeypatch.setattr(harness, "SIMULATOR_API", api)
    return api
