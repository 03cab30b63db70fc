"""Capturing everything a process logs, rendered as in production, for assertions on it."""

from __future__ import annotations

import io
import logging

from core.logs import configure_logging


class CapturedLogs:
    """Every log line at DEBUG and above, into a string, until :meth:`close`.

    ``close`` puts back the handlers and level the root logger had (the suite's own, bound
    to the stream pytest started with), so later tests log where they did before.
    """

    def __init__(self) -> None:
        root = logging.getLogger()
        self._handlers = list(root.handlers)
        self._level = root.level
        self.stream = io.StringIO()
        configure_logging(level="DEBUG", fmt="console", stream=self.stream)

    def text(self) -> str:
        return self.stream.getvalue()

    def close(self) -> None:
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in self._handlers:
            root.addHandler(handler)
        root.setLevel(self._level)
