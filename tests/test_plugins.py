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
