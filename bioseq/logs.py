"""bioseq's log messages on stderr, for the command line.

The package logs through ``logging.getLogger("bioseq...")`` and never
configures logging itself (a library must not); the CLI calls
:func:`log_to_stderr` once, so inferred settings and per-epoch metrics reach
the user without any setup.
"""

from __future__ import annotations

import logging
import sys


def log_to_stderr(quiet: bool = False) -> None:
    """Send bioseq's messages to stderr as ``bioseq: message`` (warnings only when ``quiet``)."""
    logger = logging.getLogger("bioseq")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("bioseq: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
