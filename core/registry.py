"""The installed platform adapters, by name, without importing them.

Adapters announce themselves as entry points in the ``gloo_bots.adapters`` group (see
``pyproject.toml``). Listing their names reads only the installed distributions' metadata,
so ``gloo-bots --help`` can name every adapter without importing one (or the service);
:func:`core.adapters.load_adapter` imports and builds one when a command needs it.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Final

from core.failures import StartupError

__all__ = ["ENTRY_POINT_GROUP", "adapter_entry_point", "adapter_names"]

ENTRY_POINT_GROUP: Final = "gloo_bots.adapters"


def adapter_names() -> list[str]:
    """The installed adapters' names, without importing them."""
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def adapter_entry_point(name: str) -> EntryPoint:
    """The entry point of the adapter called ``name`` (not loaded yet)."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep
    raise StartupError(f"no adapter called {name!r} is installed (have: {adapter_names()})")
