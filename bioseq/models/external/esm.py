"""The ``esm`` encoder: a fair-esm protein language model (ESM-2, ESM-1b, ESM-1v) from a local ``.pt`` file.

``bioseq embed esm:/path/to/esm2_t12_35M_UR50D.pt proteins.fa --cache emb.h5``.
The published checkpoints are torch pickles: a dict with the weights under
``"model"`` and the configuration as an ``argparse.Namespace`` (ESM-2 under
``"cfg"["model"]``, ESM-1 under ``"args"``). fair-esm's own
``load_model_and_alphabet_local`` unpickles them with ``torch.load`` and no
restriction; bioseq never does. :func:`read_checkpoint` loads the file with
``weights_only=True`` and exactly one extra allowed global,
``argparse.Namespace`` (tensors, dicts, lists and numbers are allowed by
torch's weights-only unpickler already); anything else pickled in the file is
refused with its name. The loaded dict then goes to fair-esm's
``load_model_and_alphabet_core``, which builds the net (the contact-prediction
regression weights are not needed for embeddings and are not read).
"""

from __future__ import annotations

import argparse
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from bioseq.errors import ConfigError
from bioseq.models.external.base import Encoder
from bioseq.plugins import require_extra

ESM_WEIGHTS = ("the fair-esm releases, e.g. https://dl.fbaipublicfiles.com/fair-esm/models/esm2_t12_35M_UR50D.pt "
               "(list: https://github.com/facebookresearch/esm#available-models)")
# The only non-tensor class a published ESM checkpoint pickles.
ALLOWED_GLOBALS = (argparse.Namespace,)


def read_checkpoint(path: Path, mmap: bool = False) -> dict[str, Any]:
    """The checkpoint's dict, unpickled by torch's weights-only unpickler with :data:`ALLOWED_GLOBALS` only
    (``mmap``: tensors mapped, not read: for a look at shapes).

    Raises:
        ConfigError: naming ``path``: the file pickles another global (its name is
            given), is not a torch file, or holds no ``"model"`` weights.
    """
    import torch

    try:
        with torch.serialization.safe_globals(list(ALLOWED_GLOBALS)):
            data = torch.load(str(path), map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        found = re.search(r"unsupported global:?(?: GLOBAL)? ([\w.]+)", str(exc), re.IGNORECASE)
        what = f"the global {found.group(1)}" if found else "an object torch's weights-only unpickler refuses"
        raise ConfigError(
            f"refused: this checkpoint pickles {what}; bioseq loads ESM checkpoints with weights_only=True and "
            "allows argparse.Namespace only (a published fair-esm checkpoint needs nothing else)", path=path,
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise ConfigError(f"not a readable torch checkpoint: {exc}", path=path) from None
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
        raise ConfigError("not a fair-esm checkpoint: no 'model' weights in it", path=path)
    if data.get("cfg") is None and data.get("args") is None:
        raise ConfigError("not a fair-esm checkpoint: no 'cfg' (ESM-2) or 'args' (ESM-1) configuration", path=path)
    return data


class EsmEncoder(Encoder):
    """fair-esm model from a local checkpoint; last layer's per-residue output (BOS/EOS dropped).

    Windows: 1022 residues (ESM-2's training crop; ESM-1b's position limit) overlapping by 511.
    Letters outside the ESM vocabulary (``J``, ``*``) are read as ``X``.
    """

    scheme = "esm"
    extra = "esm"
    weights_hint = ESM_WEIGHTS
    alphabet = "protein"

    def _load(self, device: Any) -> None:
        esm = require_extra("esm", self.extra, f"the {self.scheme} encoder")
        data = read_checkpoint(self.path)
        name = "esm2" if data.get("cfg") is not None else self.path.stem
        try:
            with warnings.catch_warnings():  # "Regression weights not found": contacts are not used
                warnings.simplefilter("ignore")
                net, alphabet = esm.pretrained.load_model_and_alphabet_core(name, data, None)
        except (RuntimeError, AttributeError, KeyError, TypeError) as exc:
            raise ConfigError(f"fair-esm cannot build a model from this checkpoint: {exc}", path=self.path) from None
        self._net = net.eval().to(device)
        self._alphabet = alphabet
        self._layers = int(getattr(net, "num_layers", None) or net.args.layers)
        self._dim = int(getattr(net, "embed_dim", None) or net.args.embed_dim)
        unknown = alphabet.get_idx("X")
        self._lookup = np.full(256, unknown, np.int64)
        for tok in alphabet.all_toks:
            if len(tok) == 1:
                self._lookup[ord(tok)] = alphabet.get_idx(tok)

    def _read_dim(self) -> int | None:
        """The width: the loaded net's, else the token embedding's shape in the (memory-mapped) checkpoint."""
        if self._dim is None:
            try:
                weights = read_checkpoint(self.path, mmap=True)["model"]
            except ConfigError:  # e.g. a legacy (non-zip) torch file cannot be mapped: loading will tell
                return None
            shapes = [v.shape for k, v in weights.items() if k.endswith("embed_tokens.weight")]
            return int(shapes[0][1]) if shapes else None
        return self._dim

    def _tokens(self, windows: list[str]) -> Any:
        """LongTensor ``(B, T + BOS + EOS)``: each window's letter ids between BOS and EOS, then padding."""
        import torch

        a = self._alphabet
        bos, eos = int(a.prepend_bos), int(a.append_eos)
        tokens = np.full((len(windows), max(map(len, windows)) + bos + eos), a.padding_idx, np.int64)
        for j, w in enumerate(windows):
            if bos:
                tokens[j, 0] = a.cls_idx
            tokens[j, bos:bos + len(w)] = self._lookup[np.frombuffer(w.encode("latin-1"), np.uint8)]
            if eos:
                tokens[j, bos + len(w)] = a.eos_idx
        return torch.from_numpy(tokens)

    def _embed_windows(self, windows: list[str]) -> list[np.ndarray]:
        """float32 ``(len(w), D)`` per window: the last layer (after its final layer norm) at each residue."""
        import torch

        from bioseq.device import autocast

        bos = int(self._alphabet.prepend_bos)
        with torch.inference_mode(), autocast(self.device):
            out = self._net(self._tokens(windows).to(self.device), repr_layers=[self._layers])
        rep = out["representations"][self._layers].float().cpu().numpy()
        return [rep[j, bos:bos + len(w)] for j, w in enumerate(windows)]
