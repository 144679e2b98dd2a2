"""Name -> implementation registries extended through Python entry points.

Built-in tokenizers, models and readers register exactly like third-party ones,
so a plugin is a first-class citizen: a package declares, e.g.::

    [project.entry-points."bioseq.models"]
    my-net = "my_pkg.models:MyNet"

and ``bioseq train --arch my-net`` finds it. Entry points are only loaded when a
name is looked up (importing a plugin may be slow or broken; a broken plugin
must not break bioseq for users who never ask for it).

A registry may also name *built-in defaults* as ``"module:attribute"`` strings:
they are loaded the same lazy way when no entry point of that name is
installed, so a working tree run without reinstalling (whose installed
metadata predates the entry point) still finds a built-in added since. An
installed entry point of the same name wins.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from bioseq.errors import ConfigError, PluginError

T = TypeVar("T")


def require_extra(module: str, extra: str, purpose: str) -> Any:
    """``importlib.import_module(module)``, or a :class:`ConfigError` naming the bioseq extra that installs it
    (optional libraries are imported when a feature first needs them, never at bioseq's import)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            f"{purpose} needs the optional package {module.split('.')[0]!r} ({exc}); "
            f"install it with: pip install 'bioseq[{extra}]'"
        ) from None


class Registry(Generic[T]):
    """A named collection of implementations for one entry-point group.

    Args:
        group: the entry-point group, e.g. ``"bioseq.models"``.
        validate: called on every object before it is returned from :meth:`get`;
            raises :class:`PluginError` (or returns normally) so that a
            non-conforming plugin fails with its name instead of deep in a run.
        builtins: ``name -> "module:attribute"`` loaded when no entry point of
            that name is installed (see the module doc).
    """

    def __init__(
        self,
        group: str,
        validate: Callable[[str, T], None] | None = None,
        builtins: Mapping[str, str] | None = None,
    ) -> None:
        self.group = group
        self._validate = validate
        self._items: dict[str, T] = {}
        self._builtins = dict(builtins or {})
        self._entry_points_loaded = False

    def register(self, name: str, obj: T | None = None):
        """Register ``obj`` under ``name``; usable as a decorator when ``obj`` is omitted."""

        def _do(o: T) -> T:
            self._items[name] = o
            return o

        return _do if obj is None else _do(obj)

    def _discover(self) -> dict[str, object]:
        return {ep.name: ep for ep in entry_points(group=self.group)}

    def get(self, name: str) -> T:
        """Return the implementation named ``name``, loading its entry point if needed."""
        if name not in self._items:
            eps = self._discover()
            if name not in eps and name not in self._builtins:
                raise PluginError(
                    f"unknown {self.group.split('.')[-1][:-1]} {name!r}; "
                    f"available: {', '.join(self.names()) or 'none'}"
                )
            try:
                if name in eps:
                    self._items[name] = eps[name].load()  # type: ignore[attr-defined]
                else:
                    module, _, attr = self._builtins[name].partition(":")
                    self._items[name] = getattr(importlib.import_module(module), attr)
            except Exception as exc:  # a broken plugin: say which one
                raise PluginError(f"plugin {name!r} of group {self.group} failed to load: {exc}") from exc
        obj = self._items[name]
        if self._validate is not None:
            self._validate(name, obj)
        return obj

    def names(self) -> list[str]:
        """All names: registered built-ins and discovered entry points, sorted."""
        return sorted(set(self._items) | set(self._builtins) | set(self._discover()))

    def __contains__(self, name: str) -> bool:
        return name in self._items or name in self._builtins or name in self._discover()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
