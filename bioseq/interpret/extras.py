"""The optional libraries of ``bioseq[explain]``, imported only when a method needs them."""

from __future__ import annotations

from typing import Any

from bioseq.plugins import require_extra

EXTRA = "explain"


def require(module: str, purpose: str) -> Any:
    """``importlib.import_module(module)``, or a :class:`ConfigError` naming the extra to install."""
    return require_extra(module, EXTRA, purpose)
