"""Tests of the model registry, hparam validation and the conformance checks."""

from __future__ import annotations

import pytest
import torch

from bioseq.errors import ConfigError, PluginError
from bioseq.models import MODELS, check_model, get_model, merge_hparams, resolve_hparams
from bioseq.models.cnn_lstm import CnnLstmClassifier
from bioseq.models.kmer_linear import KmerLinearClassifier
from bioseq.models.transformer import TransformerClassifier
from bioseq.plugins import Registry

torch.set_num_threads(1)


def test_builtins_are_found_through_entry_points():
    assert {"cnn-lstm", "transformer", "kmer-linear"} <= set(MODELS.names())
    assert get_model("cnn-lstm") is CnnLstmClassifier
    assert get_model("transformer") is TransformerClassifier
    assert get_model("kmer-linear") is KmerLinearClassifier
    assert get_model("kmer-linear").kind == "sklearn" and get_model("transformer").kind == "torch"


def test_unknown_model_names_the_choices():
    with pytest.raises(PluginError, match="cnn-lstm"):
        get_model("resnet")


def test_validate_hook_rejects_non_conforming_plugins():
    reg = Registry("bioseq.models-test", validate=MODELS._validate)

    class NoBuild:
        name, kind = "nobuild", "torch"
        default_tokenizer = default_hparams = staticmethod(lambda a: {})

    class BadKind(NoBuild):
        kind = "jax"

    reg.register("nobuild", NoBuild)
    reg.register("badkind", BadKind)
    reg.register("plain", object)
    with pytest.raises(PluginError, match="build"):
        reg.get("nobuild")
    with pytest.raises(PluginError, match="jax"):
        reg.get("badkind")
    with pytest.raises(PluginError, match="default_tokenizer"):
        reg.get("plain")


@pytest.mark.parametrize(
    ("key", "value"),
    [("bidirectional", "false"), ("rnn_hidden", 16.9), ("rnn_hidden", True), ("conv_kernels", "11"),
     ("conv_kernels", [11.5]), ("rnn", 3), ("conv_dropout", "0.2")],
)
def test_hyper_parameter_of_the_wrong_type_is_refused_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=repr(key)):
        resolve_hparams(CnnLstmClassifier, "dna", {key: value})


def test_hyper_parameters_integral_floats_and_ints_are_normalised_to_the_default_type():
    hp = resolve_hparams(CnnLstmClassifier, "dna", {"rnn_hidden": 16.0, "conv_dropout": 0, "conv_kernels": [9.0]})
    assert hp["rnn_hidden"] == 16 and isinstance(hp["rnn_hidden"], int)
    assert hp["conv_dropout"] == 0.0 and isinstance(hp["conv_dropout"], float)
    assert hp["conv_kernels"] == [9] and isinstance(hp["conv_kernels"][0], int)


def test_merge_and_resolve_hparams():
    assert merge_hparams("x", {"a": 1, "b": [2]}, {"a": 3}) == {"a": 3, "b": [2]}
    with pytest.raises(ConfigError, match="'c'"):
        merge_hparams("x", {"a": 1}, {"c": 1})
    with pytest.raises(ConfigError, match="JSON"):
        merge_hparams("x", {"a": None}, {"a": object()})
    hp = resolve_hparams(CnnLstmClassifier, "protein", {"rnn": "gru"})
    assert hp["rnn"] == "gru" and hp["conv_kernels"] == [9]
    # the defaults are fresh copies: editing one result cannot change the next
    hp["conv_kernels"].append(3)
    assert CnnLstmClassifier.default_hparams("protein")["conv_kernels"] == [9]


@pytest.mark.parametrize("name", ["cnn-lstm", "transformer", "dilated-cnn", "kmer-linear"])
@pytest.mark.parametrize("alphabet", ["dna", "protein"])
def test_builtins_pass_check_model(name, alphabet):
    check_model(get_model(name), alphabet=alphabet)


def test_check_model_catches_padding_leaks():
    class Leaky(CnnLstmClassifier):
        name = "leaky"

        def features(self, ids, mask):  # mean over ALL positions, padding included (DNABERT#130)
            return super().features(ids, torch.ones_like(mask)) + ids.shape[1] * 0.01

    with pytest.raises(PluginError, match="padding"):
        check_model(Leaky)


def test_check_model_catches_wrong_shapes():
    class Wrong(TransformerClassifier):
        name = "wrong"

        def forward(self, ids, mask):
            return super().forward(ids, mask)[:, :1]

    with pytest.raises(PluginError, match="shape"):
        check_model(Wrong)
