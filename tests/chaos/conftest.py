"""Chaos and fault tests: short runs in ``make test``, long ones with ``make chaos``.

``--chaos-scale N`` (declared in the root conftest) multiplies every scenario's size. Each test
prints its figures (answered / told an error / duplicated / lost) on one ``CHAOS`` line;
``pytest -s`` or ``make chaos`` shows them.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def chaos_scale(request: pytest.FixtureRequest) -> int:
    scale = int(request.config.getoption("--chaos-scale"))
    return max(1, scale)


def report(name: str, **figures: object) -> str:
    """Print one figures line for the issue notes and return it."""
    line = f"CHAOS {name}: " + " ".join(f"{key}={value}" for key, value in figures.items())
    print(line)
    return line
