"""bioseq's log messages on stderr, for the command line and for ``bioseq.train(verbose=...)``.

The package logs through ``logging.getLogger("bioseq...")`` and never
configures logging for good (a library must not); the CLI calls
:func:`log_to_stderr` once, so inferred settings and per-epoch metrics reach
the user without any setup. The Python API shows them for the length of one
call with :func:`verbose_logging`, which leaves the logging configuration as it
found it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

_FORMAT = "bioseq: %(message)s"


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
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)


@contextlib.contextmanager
def verbose_logging(verbose: bool | None) -> Iterator[None]:
    """Show bioseq's INFO messages on stderr for the length of the ``with`` block.

    ``True``: a stderr handler on the ``bioseq`` logger at INFO, not propagated
    (so nothing is printed twice by a root handler); ``False``: nothing changes
    (messages go wherever the application's logging sends them); ``None``:
    like ``True`` when nobody configured logging for bioseq (no handler on the
    ``bioseq`` logger or above it, as in a plain script or notebook), else like
    ``False`` (the CLI's :func:`log_to_stderr`, or the application's own setup,
    decides). The logger's handlers, level and propagation are restored on exit.
    """
    logger = logging.getLogger("bioseq")
    if verbose is False or (verbose is None and logger.hasHandlers()):
        yield
        return
    # One stderr handler at most: the CLI's, when it installed one, already prints every message.
    handler = None if any(isinstance(h, _StderrHandler) for h in logger.handlers) else _StderrHandler()
    level, propagate = logger.level, logger.propagate
    if handler is not None:
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        if handler is not None:
            logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
