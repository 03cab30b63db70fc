"""core.eventloop: uvloop where it is installed, asyncio's loop elsewhere, one switch."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
from types import ModuleType

import pytest

from core import eventloop
from core.failures import StartupError


async def _which() -> str:
    return eventloop.loop_name(asyncio.get_running_loop())


def _without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def refuse(name: str, package: str | None = None) -> ModuleType:
        if name == "uvloop":
            raise ImportError("No module named 'uvloop'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", refuse)


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop has no Windows build")
def test_auto_and_uvloop_run_on_uvloop_where_it_is_installed() -> None:
    assert eventloop.run(_which(), "auto") == "uvloop"
    assert eventloop.run(_which(), "uvloop") == "uvloop"


def test_asyncio_runs_on_asyncios_own_loop() -> None:
    assert eventloop.loop_factory("asyncio") is None
    assert eventloop.run(_which(), "asyncio") == "asyncio"


def test_auto_without_uvloop_falls_back_to_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_uvloop(monkeypatch)
    assert eventloop.loop_factory("auto") is None
    assert eventloop.run(_which(), "auto") == "asyncio"


def test_uvloop_required_but_missing_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_uvloop(monkeypatch)
    main = _which()
    with pytest.raises(StartupError) as refused:
        eventloop.run(main, "uvloop")
    assert "EVENT_LOOP=auto or asyncio" in str(refused.value)
    assert inspect.getcoroutinestate(main) == inspect.CORO_CLOSED  # no "never awaited"
