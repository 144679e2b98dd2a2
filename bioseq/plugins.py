"""Name -> implementation registries extended through Python entry points.

Built-in tokenizers, models and readers register exactly like third-party ones,
so a plugin is a first-class citizen: a package declares, e.g.::

    [project.entry-points."bioseq.models"]
    my-net = "my_pkg.models:MyNet"

and ``bioseq train --arch my-net`` finds it. Entry points are only loaded when a
name is looked up (importing a plugin may be slow or broken; a broken plugin
must not break bioseq for users who never ask for it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from bioseq.errors import PluginError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of implementations for one entry-point group.

    Args:
        group: the entry-point group, e.g. ``"bioseq.models"``.
        validate: called on every object before it is returned from :meth:`get`;
            raises :class:`PluginError` (or returns normally) so that a
            non-conforming plugin fails with its name instead of deep in a run.
    """

    def __init__(self, group: str, validate: Callable[[str, T], None] | None = None) -> None:
        self.group = group
        self._validate = validate
        self._items: dict[str, T] = {}
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
            if name not in eps:
                raise PluginError(
                    f"unknown {self.group.split('.')[-1][:-1]} {name!r}; "
                    f"available: {', '.join(self.names()) or 'none'}"
                )
            try:
                self._items[name] = eps[name].load()  # type: ignore[attr-defined]
            except Exception as exc:  # a broken plugin: say which one
                raise PluginError(f"plugin {name!r} of group {self.group} failed to load: {exc}") from exc
        obj = self._items[name]
        if self._validate is not None:
            self._validate(name, obj)
        return obj

    def names(self) -> list[str]:
        """All names: registered built-ins and discovered entry points, sorted."""
        return sorted(set(self._items) | set(self._discover()))

    def __contains__(self, name: str) -> bool:
        return name in self._items or name in self._discover()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
