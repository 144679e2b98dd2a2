"""The model registry, hyper-parameter validation and conformance checks.

``MODELS`` maps an architecture name (``cnn-lstm``, ``transformer``,
``kmer-linear``, or a plugin's) to its *class*. Built-ins are declared as entry
points in ``pyproject.toml`` exactly like a third-party plugin, and every class
is validated when it is looked up, so a broken plugin fails with its name.

An architecture class provides (see docs/ARCHITECTURE.md):

* ``name: str`` and ``kind: "torch" | "sklearn"``;
* ``default_tokenizer(alphabet) -> dict``: ``KmerTokenizer`` kwargs (k, stride, canonical);
* ``default_hparams(alphabet) -> dict``: JSON-serialisable, includes ``max_tokens``;
* torch kind: ``build(vocab_size, n_classes, hparams, tokenizer=None) -> nn.Module``
  with ``features(ids, mask)``, ``forward(ids, mask)`` and ``embedding_dim``;
* sklearn kind: ``cls(tokenizer, n_classes, hparams, task)`` with ``fit(seqs, y)``
  (optionally ``valid=(seqs, y)``: the trainer passes its validation split when
  ``fit`` takes it), ``predict_proba``, ``features``, ``embedding_dim``,
  ``state_dict``, ``load_state_dict``.

:func:`check_model` is the scikit-learn-style conformance suite a plugin author
runs in their own tests (``check_model(MyNet)``).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from bioseq.errors import ConfigError, PluginError
from bioseq.plugins import Registry

ARCH_KINDS = ("torch", "sklearn")
# Not an architecture: the training mode ``bioseq train --arch auto`` (bioseq.training.auto), whose
# result is an ensemble (bioseq.models.ensemble). No registry entry may take the name.
AUTO = "auto"

_COMMON_ATTRS = ("name", "kind", "default_tokenizer", "default_hparams")
_KIND_ATTRS = {
    "torch": ("build",),
    "sklearn": ("fit", "predict_proba", "features", "state_dict", "load_state_dict"),
}


def validate_arch(name: str, arch: Any) -> None:
    """Registry hook: raise :class:`PluginError` unless ``arch`` has the attributes above
    (and is not named :data:`AUTO`, which ``--arch`` reserves for the training mode)."""
    if name == AUTO:
        raise PluginError(f"model name {AUTO!r} is reserved for `bioseq train --arch auto`; rename the plugin")
    missing = [a for a in _COMMON_ATTRS if not hasattr(arch, a)]
    if missing:
        raise PluginError(f"model {name!r} ({arch!r}) lacks required attribute(s): {', '.join(missing)}")
    kind = arch.kind
    if kind not in ARCH_KINDS:
        raise PluginError(f"model {name!r} has kind {kind!r}; expected one of {', '.join(ARCH_KINDS)}")
    missing = [a for a in _KIND_ATTRS[kind] if not callable(getattr(arch, a, None))]
    if missing:
        raise PluginError(f"model {name!r} of kind {kind!r} lacks method(s): {', '.join(missing)}")
    if not isinstance(arch.name, str) or not arch.name:
        raise PluginError(f"model {name!r} has no string `name`")


# Built-ins added since the installed metadata may predate them (a working tree run without reinstalling);
# each is also declared as an entry point in pyproject.toml.
_BUILTINS = {
    "esm-head": "bioseq.models.external.head:EncoderHeadClassifier",
    "dilated-cnn": "bioseq.models.dilated_cnn:DilatedCnnClassifier",
}
MODELS: Registry[Any] = Registry("bioseq.models", validate=validate_arch, builtins=_BUILTINS)


def get_model(name: str) -> Any:
    """Return the architecture class registered as ``name`` (raises :class:`PluginError`)."""
    return MODELS.get(name)


def build_net(arch: Any, tokenizer: Any, n_classes: int, hparams: dict, task: str) -> Any:
    """A new net (torch kind) or estimator (sklearn kind) of architecture class ``arch``.

    torch kind: ``arch.build(vocab_size, n_classes, hparams, tokenizer)``; a
    plugin whose ``build`` takes no tokenizer is called without it. sklearn
    kind: ``arch(tokenizer, n_classes, hparams, task)``.
    """
    if arch.kind != "torch":
        return arch(tokenizer, n_classes, hparams, task)
    try:
        params = inspect.signature(arch.build).parameters
    except (TypeError, ValueError):
        params = {}
    if "tokenizer" in params or len(params) >= 4:
        return arch.build(tokenizer.vocab_size, n_classes, hparams, tokenizer)
    return arch.build(tokenizer.vocab_size, n_classes, hparams)


def merge_hparams(arch_name: str, defaults: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict:
    """``defaults`` updated by ``overrides``, each override typed by its default.

    An architecture's defaults are its typed schema: an unknown key, or a value
    of another type than the default's (``"false"`` for a bool, ``16.9`` for an
    int, a string for a list), raises :class:`ConfigError` naming the key,
    rather than building something the user did not ask for. An integral float
    (``16.0``, as YAML may write it) is taken as the int; an int where a float
    is expected as the float. Defaults of None accept any value.

    The result must be JSON-serialisable because it is stored in the bundle; a
    value that is not raises :class:`ConfigError` too. Lists stay lists.
    """
    merged = dict(defaults)
    for key, value in (overrides or {}).items():
        if key not in defaults:
            raise ConfigError(
                f"unknown hyper-parameter {key!r} for model {arch_name!r}; "
                f"known: {', '.join(sorted(defaults))}"
            )
        merged[key] = _typed_like(defaults[key], value, f"hyper-parameter {key!r} of model {arch_name!r}")
    try:
        json.dumps(merged)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"hyper-parameters of model {arch_name!r} are not JSON-serialisable: {exc}"
        ) from None
    return merged


def _typed_like(default: Any, value: Any, what: str) -> Any:
    """``value`` checked (and int/float-normalised) against the type of ``default``."""
    if default is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, (list, tuple)):
        if isinstance(value, (list, tuple)):
            if default:
                return [_typed_like(default[0], v, f"{what} (item {i})") for i, v in enumerate(value)]
            return list(value)
    else:
        return value
    expected = "a whole number" if isinstance(default, int) and not isinstance(default, bool) else (
        "a list" if isinstance(default, (list, tuple)) else type(default).__name__
    )
    raise ConfigError(f"{what} must be {expected} like its default {default!r}, got {value!r}")


def resolve_hparams(arch: Any, alphabet: str, overrides: Mapping[str, Any] | None = None) -> dict:
    """The full hyper-parameter dict to store in a bundle: ``arch.default_hparams(alphabet)``
    updated with the user's ``overrides`` (unknown keys raise :class:`ConfigError`)."""
    return merge_hparams(arch.name, arch.default_hparams(alphabet), overrides)


# --------------------------------------------------------------------------- conformance checks


def _fail(arch: Any, what: str) -> None:
    raise PluginError(f"model {getattr(arch, 'name', arch)!r} fails conformance: {what}")


def _random_seqs(alphabet: str, lengths: list[int], rng: np.random.Generator) -> list[str]:
    from bioseq.alphabets import get_alphabet

    letters = np.array(list(get_alphabet(alphabet).letters))
    return ["".join(rng.choice(letters, size=n)) for n in lengths]


def check_model(arch: Any, alphabet: str = "dna", n_classes: int = 3, seed: int = 0) -> None:
    """Run the conformance checks on architecture class ``arch``; raise :class:`PluginError`.

    Checks: registry attributes; ``default_tokenizer``/``default_hparams`` are
    JSON-serialisable and hparams hold ``max_tokens``; an unknown hparam raises
    :class:`ConfigError`. torch kind: build, ``forward`` -> (B, C), ``features`` ->
    (B, embedding_dim), finite values, and *padding invariance* (a sequence's
    logits alone equal its logits beside a longer one, eval mode, atol 1e-5).
    sklearn kind: fit/predict_proba shapes, rows summing to one, features shape,
    an exact ``state_dict`` round trip of arrays only, and, when ``fit`` takes
    ``valid``, a fit given validation data.
    """
    validate_arch(getattr(arch, "name", "?"), arch)
    from bioseq.tokenize.kmer import KmerTokenizer

    tok_kwargs = arch.default_tokenizer(alphabet)
    hparams = arch.default_hparams(alphabet)
    for what, obj in (("default_tokenizer", tok_kwargs), ("default_hparams", hparams)):
        try:
            json.dumps(obj)
        except (TypeError, ValueError):
            _fail(arch, f"{what}({alphabet!r}) is not JSON-serialisable")
    if "max_tokens" not in hparams:
        _fail(arch, "default_hparams has no 'max_tokens'")
    tokenizer = KmerTokenizer(alphabet=alphabet, **tok_kwargs)
    rng = np.random.default_rng(seed)
    k = tokenizer.k if hasattr(tokenizer, "k") else tok_kwargs.get("k", 1)
    lengths = [k + 30, k + 9, k + 50, k + 3]
    seqs = _random_seqs(alphabet, lengths, rng)

    if arch.kind == "torch":
        _check_torch(arch, tokenizer, hparams, n_classes, seqs)
    else:
        _check_sklearn(arch, tokenizer, hparams, n_classes, seqs, rng, alphabet)


def _check_torch(arch: Any, tokenizer: Any, hparams: dict, n_classes: int, seqs: list[str]) -> None:
    import torch

    from bioseq.data.batching import collate

    try:
        arch.build(tokenizer.vocab_size, n_classes, {**hparams, "__no_such_key__": 1})
    except ConfigError:
        pass
    else:
        _fail(arch, "build() accepted an unknown hyper-parameter '__no_such_key__'")
    torch.manual_seed(0)
    net = arch.build(tokenizer.vocab_size, n_classes, hparams)
    if not isinstance(net, torch.nn.Module):
        _fail(arch, "build() did not return a torch.nn.Module")
    dim = getattr(net, "embedding_dim", None)
    if not isinstance(dim, int) or dim <= 0:
        _fail(arch, "module has no positive int `embedding_dim`")
    net.eval()
    tokens = [tokenizer.encode(s) for s in seqs]
    ids, mask = collate(tokens)
    with torch.no_grad():
        logits = net(ids, mask)
        feats = net.features(ids, mask)
        if tuple(logits.shape) != (len(seqs), n_classes):
            _fail(arch, f"forward returned shape {tuple(logits.shape)}, expected {(len(seqs), n_classes)}")
        if tuple(feats.shape) != (len(seqs), dim):
            _fail(arch, f"features returned shape {tuple(feats.shape)}, expected {(len(seqs), dim)}")
        if not (torch.isfinite(logits).all() and torch.isfinite(feats).all()):
            _fail(arch, "non-finite logits or features")
        for i, tok in enumerate(tokens):
            alone = net(*collate([tok]))
            if not torch.allclose(alone[0], logits[i], atol=1e-5, rtol=1e-4):
                _fail(arch, f"padding changes the logits of sequence {i} (alone vs in a padded batch)")


def _check_sklearn(
    arch: Any, tokenizer: Any, hparams: dict, n_classes: int, seqs: list[str],
    rng: np.random.Generator, alphabet: str,
) -> None:
    seqs = _random_seqs(alphabet, [len(s) for s in seqs] * 8, rng)
    y = np.arange(len(seqs)) % n_classes
    try:
        arch(tokenizer, n_classes, {**hparams, "__no_such_key__": 1}, "multiclass")
    except ConfigError:
        pass
    else:
        _fail(arch, "the constructor accepted an unknown hyper-parameter '__no_such_key__'")
    model = arch(tokenizer, n_classes, hparams, "multiclass").fit(seqs, y)
    probs = model.predict_proba(seqs)
    if probs.shape != (len(seqs), n_classes) or probs.dtype != np.float32:
        _fail(arch, f"predict_proba returned {probs.dtype} {probs.shape}, "
                    f"expected float32 {(len(seqs), n_classes)}")
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-4):
        _fail(arch, "multiclass probabilities do not sum to one")
    feats = model.features(seqs)
    if feats.shape != (len(seqs), model.embedding_dim):
        _fail(arch, f"features returned shape {feats.shape}, expected {(len(seqs), model.embedding_dim)}")
    state = model.state_dict()
    if not all(isinstance(v, np.ndarray) for v in state.values()):
        _fail(arch, "state_dict() must hold numpy arrays only (stored in safetensors)")
    fresh = arch(tokenizer, n_classes, hparams, "multiclass")
    fresh.load_state_dict(state)
    if not np.array_equal(fresh.predict_proba(seqs), probs):
        _fail(arch, "state_dict round trip changes the probabilities")
    if "valid" in inspect.signature(arch.fit).parameters:
        half = len(seqs) // 2
        tuned = arch(tokenizer, n_classes, hparams, "multiclass").fit(seqs, y, valid=(seqs[:half], y[:half]))
        if tuned.predict_proba(seqs).shape != (len(seqs), n_classes):
            _fail(arch, "a fit given valid=(seqs, y) predicts the wrong shape")
