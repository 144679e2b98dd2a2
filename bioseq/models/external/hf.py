"""The ``hf`` encoder: a Hugging Face ``transformers`` model from a local directory.

``bioseq embed hf:/path/to/model_dir seqs.fa --cache emb.h5``. The directory is
what ``save_pretrained`` (or ``huggingface-cli download --local-dir``) writes:
``config.json``, the tokenizer files and **safetensors** weights. It is read
with ``local_files_only=True`` (nothing is fetched), ``use_safetensors=True``
(a ``pytorch_model.bin`` pickle is refused: the no-unpickling rule holds for
third-party weights) and without ``trust_remote_code`` (no code from the
directory runs). Encoder-decoder models (T5: ProtT5) use their encoder.

Tokenizers differ in how they want a sequence: ESM-2's splits ``MKV`` into
residues, ProtBert's wants ``M K V``. The encoder tries both on a probe when it
loads and keeps the one with fewer unknown tokens. When one token is one
residue, per-residue embeddings exist (windows averaged per residue, the
esm-head's light attention); otherwise (k-mer or sub-word vocabularies) only
pooled embeddings do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from bioseq.errors import ConfigError
from bioseq.models.external.base import DEFAULT_MAX_RESIDUES, Encoder
from bioseq.plugins import require_extra

HF_WEIGHTS = ("a Hugging Face Hub model repository, fetched by you, e.g. "
              "`huggingface-cli download facebook/esm2_t12_35M_UR50D --local-dir DIR` (safetensors weights)")
_PROBE = "ACGTACGTMKV"
_SKIP_SUFFIXES = (".md", ".txt.lock", ".lock")


class HfEncoder(Encoder):
    """A ``transformers`` AutoModel + AutoTokenizer from a local directory; last hidden state."""

    scheme = "hf"
    extra = "hf"
    weights_hint = HF_WEIGHTS

    def __init__(self, location: str, device: str = "cpu", threads: int | None = None) -> None:
        super().__init__(location, device, threads)
        try:
            self._cfg = json.loads((self.path / "config.json").read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"unreadable config.json: {exc}", path=self.path / "config.json") from None
        limits = [DEFAULT_MAX_RESIDUES]
        if isinstance(self._cfg.get("max_position_embeddings"), int):
            limits.append(self._cfg["max_position_embeddings"] - 2)  # room for the two special tokens
        self.max_residues = max(1, min(limits))
        self._spaced = False

    def _check_location(self) -> None:
        if not (self.path / "config.json").is_file():
            raise self.missing("no Hugging Face model directory here (no config.json)")
        if not any(self.path.glob("*.safetensors")):
            raise ConfigError(
                "no .safetensors weights in this model directory; bioseq never unpickles (pytorch_model.bin is "
                "a pickle): save the model with save_pretrained(..., safe_serialization=True) or download "
                "the repository's safetensors files", path=self.path)

    def weights_files(self) -> list[Path]:
        """Every file of the directory (weights, config, vocabulary) but hidden ones and notes."""
        return sorted(p for p in self.path.iterdir()
                      if p.is_file() and not p.name.startswith(".") and not p.name.endswith(_SKIP_SUFFIXES))

    def _read_dim(self) -> int | None:
        for key in ("hidden_size", "d_model", "dim", "n_embd"):
            if isinstance(self._cfg.get(key), int):
                return int(self._cfg[key])
        return None

    def _load(self, device: Any) -> None:
        transformers = require_extra("transformers", self.extra, f"the {self.scheme} encoder")
        bars = transformers.utils.logging.is_progress_bar_enabled()
        transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar in bioseq's output
        try:
            tok = transformers.AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
            net = transformers.AutoModel.from_pretrained(str(self.path), local_files_only=True, use_safetensors=True)
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"transformers cannot load this model directory offline: {exc}", path=self.path) \
                from None
        finally:
            if bars:
                transformers.utils.logging.enable_progress_bar()
        if getattr(net.config, "is_encoder_decoder", False):
            net = net.get_encoder()
        self._tok, self._net = tok, net.eval().to(device)
        unk = tok.unk_token_id
        plain, spaced = (tok(t, add_special_tokens=False)["input_ids"] for t in (_PROBE, " ".join(_PROBE)))
        self._spaced = unk is not None and spaced.count(unk) < plain.count(unk)
        self.per_residue = len(spaced if self._spaced else plain) == len(_PROBE)

    def _embed_windows(self, windows: list[str]) -> list[np.ndarray]:
        """float32 ``(T_j, D)`` per window: the last hidden state at its non-special, non-padding tokens."""
        import torch

        from bioseq.device import autocast

        texts = [" ".join(w) if self._spaced else w for w in windows]
        enc = self._tok(texts, padding=True, return_tensors="pt", return_special_tokens_mask=True)
        keep = enc.pop("special_tokens_mask").eq(0) & enc["attention_mask"].bool()
        names = ("input_ids", "attention_mask", "token_type_ids")
        inputs = {k: v.to(self.device) for k, v in enc.items() if k in names}
        with torch.inference_mode(), autocast(self.device):
            hidden = self._net(**inputs).last_hidden_state.float().cpu()
        return [hidden[j][keep[j]].numpy() for j in range(len(windows))]
