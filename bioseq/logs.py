"""bioseq's log messages on stderr, for the command line.

The package logs through ``logging.getLogger("bioseq...")`` and never
configures logging itself (a library must not); the CLI calls
:func:`log_to_stderr` once, so inferred settings and per-epoch metrics reach
the user without any setup.
"""

from __future__ import annotations

import logging
import sys


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a message is emitted, not when the handler was made
    (a test harness or a notebook may swap it; a handler bound to a closed stream would fail)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it
        pass


def log_to_stderr(quiet: bool = False) -> None:
    """Send bioseq's messages to stderr as ``bioseq: message`` (warnings only when ``quiet``)."""
    logger = logging.getLogger("bioseq")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("bioseq: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
