"""Classifiers: trunks (CNN-LSTM, Transformer), pooling, heads, the k-mer baseline.

Architectures are looked up by name through :data:`MODELS` (entry-point group
``bioseq.models``); the modules holding the nets are imported only on lookup,
so importing this package does not import torch.
"""

from bioseq.models.registry import (
    ARCH_KINDS,
    MODELS,
    check_model,
    get_model,
    merge_hparams,
    resolve_hparams,
    validate_arch,
)

__all__ = [
    "ARCH_KINDS",
    "MODELS",
    "check_model",
    "get_model",
    "merge_hparams",
    "resolve_hparams",
    "validate_arch",
]
