"""The optional libraries of ``bioseq[explain]``, imported only when a method needs them."""

from __future__ import annotations

import importlib
from typing import Any

from bioseq.errors import ConfigError

EXTRA = "explain"


def require(module: str, purpose: str) -> Any:
    """``importlib.import_module(module)``, or a :class:`ConfigError` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            f"{purpose} needs the optional package {module.split('.')[0]!r} ({exc}); "
            f"install it with: pip install 'bioseq[{EXTRA}]'"
        ) from None
