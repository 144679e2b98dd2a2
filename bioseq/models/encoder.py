"""Pretrained encoders: a registry architecture's trunk with a masked-token head (``bioseq pretrain``).

An encoder is what masked-token pretraining (:mod:`bioseq.training.pretrain`)
trains and what ``bioseq train --init`` starts from: the *trunk* of a torch
architecture (:class:`~bioseq.models.network.SequenceNet`'s first stage,
built exactly as the classifier builds it) followed by
:class:`MaskedTokenHead`, which predicts the original token id at every input
position from the trunk's per-position output. Fine-tuning copies the trunk's
weights into a new classifier of the same architecture, tokenizer and trunk
hyper-parameters (:func:`copy_trunk`) and drops the masked-token head.

Shapes: the trunk maps ``ids (B, T)`` to ``h (B, P + T', H)`` where ``P`` is
``trunk.prefix_positions`` (a CLS vector) and ``T' = ceil(T / s)`` with
``s = trunk.position_stride`` (the CNN-LSTM max-pools, the Transformer keeps
one position per token); the head predicts ``s`` tokens per position, so the
output is ``(B, T, vocab_size)`` logits, one row per input token.

The bundle is the usual safetensors file (``kind: "encoder"``, format version
3, tensors ``net.trunk.*`` and ``net.lm_head.*``); ``bioseq.load`` refuses it with
a message pointing at ``--init``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from bioseq.alphabets import get_alphabet
from bioseq.errors import BundleError, ConfigError, PluginError
from bioseq.models.classifier import load_torch_state_arrays, torch_state_arrays
from bioseq.models.config_schema import ENCODER_KIND
from bioseq.models.fingerprint import FINGERPRINT_FORMAT, Fingerprinted
from bioseq.models.registry import MODELS, build_net, get_model
from bioseq.tokenize.registry import tokenizer_from_config

TRUNK_PREFIX = "trunk."


class MaskedTokenHead(nn.Module):
    """Per-position features ``(B, T', H)`` -> token logits ``(B, T' * stride, V)``.

    BERT's prediction head: dense + GELU + LayerNorm, then one linear layer
    giving ``stride`` rows of ``V`` logits per position (``stride`` input tokens
    were pooled into each position).
    """

    def __init__(self, in_dim: int, vocab_size: int, stride: int = 1) -> None:
        super().__init__()
        self.stride, self.vocab_size = int(stride), int(vocab_size)
        self.transform = nn.Sequential(nn.Linear(in_dim, in_dim), nn.GELU(), nn.LayerNorm(in_dim))
        self.decoder = nn.Linear(in_dim, self.stride * self.vocab_size)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, t, _ = h.shape
        return self.decoder(self.transform(h)).view(b, t * self.stride, self.vocab_size)


class MaskedTokenNet(nn.Module):
    """``trunk -> MaskedTokenHead``: ``forward(ids (B, T), mask (B, T)) -> logits (B, T, V)``."""

    def __init__(self, trunk: nn.Module, vocab_size: int) -> None:
        super().__init__()
        self.trunk = trunk
        self.lm_head = MaskedTokenHead(int(trunk.out_dim), vocab_size, int(getattr(trunk, "position_stride", 1)))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h, _ = self.trunk(ids, mask)
        skip = int(getattr(self.trunk, "prefix_positions", 0))
        logits = self.lm_head(h[:, skip:])
        if logits.shape[1] < ids.shape[1]:
            raise ConfigError(
                f"the trunk gave {h.shape[1] - skip} positions for {ids.shape[1]} tokens, fewer than its "
                f"position_stride ({self.lm_head.stride}) accounts for: it cannot be pretrained"
            )
        return logits[:, : ids.shape[1]]


def build_trunk(arch: str, tokenizer: Any, hparams: dict) -> nn.Module:
    """The trunk a classifier of ``arch`` with ``hparams`` would have (built through the registry)."""
    try:
        arch_cls = get_model(arch)
    except PluginError as exc:
        raise ConfigError(
            f"unknown architecture {arch!r} (installed: {', '.join(MODELS.names())}): {exc.message}"
        ) from None
    if arch_cls.kind != "torch":
        raise ConfigError(f"architecture {arch!r} is of kind {arch_cls.kind!r}: only torch nets have a trunk "
                          "to pretrain (cnn-lstm, transformer)")
    net = build_net(arch_cls, tokenizer, 2, hparams, "binary")
    trunk = getattr(net, "trunk", None)
    if not isinstance(trunk, nn.Module) or not hasattr(trunk, "out_dim"):
        raise ConfigError(f"architecture {arch!r} is no trunk -> pool -> head SequenceNet: it cannot be pretrained")
    return trunk


class PretrainedEncoder(Fingerprinted):
    """A trunk with its masked-token head, the tokenizer and the hyper-parameters it was built with.

    Attributes:
        arch: registry architecture of the trunk (``transformer``, ``cnn-lstm``).
        kind: always ``"encoder"``.
        net: the :class:`MaskedTokenNet`.
        tokenizer, hparams: those of the trunk (a fine-tuned classifier takes both).
        metadata: objective, pretraining data fingerprints, history (the bundle's other keys).
        device: where the net runs.
    """

    kind = ENCODER_KIND

    def __init__(self, *, arch: str, tokenizer: Any, hparams: dict, net: MaskedTokenNet,
                 metadata: dict | None = None, device: Any = "cpu") -> None:
        self.arch, self.tokenizer, self.hparams, self.net = arch, tokenizer, dict(hparams), net
        self.metadata = dict(metadata or {})
        self.to(device)

    @classmethod
    def create(cls, arch: str, tokenizer: Any, hparams: dict, device: Any = "cpu") -> PretrainedEncoder:
        """A new encoder (weights from the current torch RNG)."""
        net = MaskedTokenNet(build_trunk(arch, tokenizer, hparams), tokenizer.vocab_size)
        return cls(arch=arch, tokenizer=tokenizer, hparams=hparams, net=net, device=device)

    @classmethod
    def from_arrays(cls, info: dict, tensors: dict[str, np.ndarray], device: Any = "cpu") -> PretrainedEncoder:
        """Rebuild from bundle metadata and weights; a mismatch is a :class:`BundleError`."""
        try:
            tokenizer = tokenizer_from_config(info["tokenizer"])
            encoder = cls.create(info["arch"], tokenizer, dict(info["hparams"]))
            load_torch_state_arrays(encoder.net, dict(tensors))
        except BundleError:
            raise
        except Exception as exc:
            raise BundleError(f"not a usable {info.get('arch')!r} encoder: {exc}") from None
        encoder.metadata = dict(info)
        return encoder.to(device)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Weights as numpy arrays: ``trunk.*`` and ``lm_head.*``."""
        return torch_state_arrays(self.net)

    def config(self) -> dict[str, Any]:
        """What the fingerprint covers (labels and task are those of no classifier: None)."""
        return {
            "format": FINGERPRINT_FORMAT,
            "arch": self.arch,
            "kind": self.kind,
            "hparams": self.hparams,
            "tokenizer": self.tokenizer.config(),
            "alphabet": self.alphabet,
        }

    @property
    def alphabet(self) -> str:
        return get_alphabet(self.tokenizer.config()["alphabet"]).name

    def to(self, device: Any) -> PretrainedEncoder:
        from bioseq.device import resolve_device

        self.device = resolve_device(device)
        self.net.to(self.device)
        return self

    def __repr__(self) -> str:
        return (
            f"PretrainedEncoder(arch={self.arch!r}, alphabet={self.alphabet!r}, "
            f"fingerprint={self.fingerprint[:12]!r})"
        )


def copy_trunk(net: nn.Module, encoder: PretrainedEncoder, source: Any = None) -> None:
    """Copy the encoder's trunk weights into classifier net ``net`` (its ``trunk``), exactly.

    Raises:
        ConfigError: the trunks differ in a parameter's name or shape (hyper-parameters
            that change the trunk were overridden), naming the first differences and ``source``.
    """
    want = encoder.net.trunk.state_dict()
    have = net.trunk.state_dict()
    diff = sorted(k for k in set(want) | set(have) if k not in want or k not in have or want[k].shape != have[k].shape)
    if diff:
        raise ConfigError(
            f"the classifier's trunk does not match the pretrained encoder's ({', '.join(diff[:5])}): "
            "do not override hyper-parameters that shape the trunk when fine-tuning",
            path=source,
        )
    with torch.no_grad():
        net.trunk.load_state_dict({k: v.detach().clone() for k, v in want.items()}, strict=True)
