"""Registries find built-ins and third-party plugins through entry points."""

import pytest

from bioseq.errors import PluginError
from bioseq.plugins import Registry


def test_builtin_entry_points_are_discovered():
    for group, name in [
        ("bioseq.models", "cnn-lstm"),
        ("bioseq.models", "transformer"),
        ("bioseq.models", "kmer-linear"),
        ("bioseq.tokenizers", "kmer"),
        ("bioseq.readers", "fasta"),
    ]:
        assert name in Registry(group).names()


def test_register_and_get():
    reg: Registry[type] = Registry("bioseq.test-group")

    @reg.register("thing")
    class Thing:
        pass

    assert reg.get("thing") is Thing
    assert "thing" in reg


def test_unknown_name_lists_available():
    reg: Registry[int] = Registry("bioseq.test-group")
    reg.register("one", 1)
    with pytest.raises(PluginError, match="unknown .*'two'.*available: one"):
        reg.get("two")


def test_validate_hook_rejects_nonconforming_plugin():
    def validate(name, obj):
        if not isinstance(obj, int):
            raise PluginError(f"plugin {name!r} is not an int")

    reg: Registry[object] = Registry("bioseq.test-group", validate=validate)
    reg.register("bad", "x")
    with pytest.raises(PluginError, match="'bad' is not an int"):
        reg.get("bad")


def test_broken_entry_point_is_named(monkeypatch):
    class BrokenEP:
        name = "broken"

        def load(self):
            raise ImportError("no module named nowhere")

    reg: Registry[object] = Registry("bioseq.test-group")
    monkeypatch.setattr(reg, "_discover", lambda: {"broken": BrokenEP()})
    with pytest.raises(PluginError, match="'broken'.*failed to load"):
        reg.get("broken")


def test_builtin_defaults_load_lazily_when_no_entry_point_is_installed(monkeypatch):
    """A working tree run whose installed metadata predates a built-in still finds it; an installed
    entry point of the same name wins."""
    reg: Registry[object] = Registry("bioseq.test-group", builtins={"dumps": "json:dumps", "broken": "json:nope"})
    assert "dumps" in reg and reg.names() == ["broken", "dumps"]
    import json

    assert reg.get("dumps") is json.dumps
    with pytest.raises(PluginError, match="'broken'.*failed to load"):
        reg.get("broken")

    class EntryPoint:
        name = "dumps"

        def load(self):
            return json.loads

    monkeypatch.setattr(Registry, "_discover", lambda self: {"dumps": EntryPoint()})
    assert Registry("bioseq.test-group", builtins={"dumps": "json:dumps"}).get("dumps") is json.loads
