"""Self-describing model bundles: one safetensors file, never a pickle.

A bundle is a single ``.safetensors`` file. Its tensors are the model weights
(or the kmer-linear baseline's numpy arrays); its header metadata holds one key,
``"bioseq"``, whose value is a JSON object describing everything needed to
rebuild and use the model::

    format, format_version, bioseq_version, arch, kind, hparams, tokenizer,
    alphabet, labels, task, thresholds, long_input, data_fingerprint,
    selection_metric, metrics, history, training, created, fingerprint

An ensemble (``bioseq train --arch auto``; :mod:`bioseq.models.ensemble`) is
one bundle too: ``arch: "auto"``, ``kind: "ensemble"``, each member's tensors
under ``members.<i>.``, and ``members`` (each member's configuration and
validation record) and ``weights`` in the metadata, beside ``candidates`` (every
trained candidate's validation metrics and weight). Ensembles are format
version 3; single models are still written as version 2, which every bioseq
since format 2 reads (a reader that knows only version 2 refuses an ensemble
as newer than it reads, rather than misreading it).

Loading parses the header ourselves before handing the file to safetensors, so
every failure (not a safetensors file -- e.g. a ``torch.save`` pickle --,
truncated, corrupt, no bioseq metadata, newer format, unknown architecture,
weights that do not fit the architecture) is a :class:`BundleError` naming the
file. Nothing is ever unpickled.

The stored ``fingerprint`` (:mod:`bioseq.models.fingerprint`, the model's
identity for embedding caches) is checked on load, so a bundle whose weights or
configuration changed after it was written is refused; for an ensemble it
covers every member's tensors and configuration and the weights.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bioseq._version import __version__
from bioseq.errors import BioseqError, BundleError
from bioseq.io.atomic import atomic_path
from bioseq.models.config_schema import ENCODER_KIND, check_config, check_depth, check_fingerprint
from bioseq.models.ensemble import ENSEMBLE_KIND, EnsembleClassifier
from bioseq.models.fingerprint import FINGERPRINT_FORMAT, canonical_json, compute_fingerprint

if TYPE_CHECKING:
    from bioseq.models.classifier import Classifier
    from bioseq.models.encoder import PretrainedEncoder

FORMAT_NAME = FINGERPRINT_FORMAT
# The newest format this bioseq reads and writes. 2: torch weights named trunk.* / pool.* / head.*
# (version 1 bundles still load); 3: ensembles (kind "ensemble"). Each bundle is written with the
# oldest version that describes it, so single models stay readable by bioseq that knows only 2.
FORMAT_VERSION = 3
SINGLE_FORMAT_VERSION = 2
_REQUIRED = {
    "single": ("arch", "kind", "tokenizer", "labels", "task", "hparams"),
    # a pretrained encoder (format 3, `bioseq pretrain`): a trunk, its tokenizer, no labels
    ENCODER_KIND: ("arch", "kind", "tokenizer", "hparams", "fingerprint"),
    # an ensemble (format 3, new) must carry its fingerprint: it is what covers the members
    ENSEMBLE_KIND: ("arch", "kind", "labels", "task", "alphabet", "members", "weights", "fingerprint"),
}
METADATA_KEY = "bioseq"
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit


def save_bundle(model: Classifier | EnsembleClassifier | PretrainedEncoder, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` (a classifier, an ensemble or a pretrained encoder) to ``path`` atomically
    (a crash leaves the old file or none).

    Returns:
        The path written.
    """
    from safetensors.numpy import save_file

    tensors = {k: np.ascontiguousarray(v) for k, v in model.state_arrays().items()}
    meta = dict(model.metadata)
    meta.update(model.config())
    version = SINGLE_FORMAT_VERSION if model.kind in ("torch", "sklearn") else FORMAT_VERSION
    meta.update(format=FORMAT_NAME, format_version=version, bioseq_version=__version__)
    meta.setdefault("created", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    meta["fingerprint"] = compute_fingerprint(tensors, meta)
    dest = Path(path)
    with atomic_path(dest) as tmp:
        save_file(tensors, str(tmp), metadata={METADATA_KEY: canonical_json(meta)})
    model.metadata = meta
    return dest


_NOT_A_BUNDLE = (
    "not a safetensors model bundle{why}; bioseq reads only .safetensors bundles written by "
    "`bioseq train` (pickled/torch.save files are refused on purpose)"
)


def _read_header(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate the safetensors framing; return ``(tensor header, bioseq metadata)``."""
    header = _read_framing(path)
    meta = header.pop("__metadata__", None) or {}
    if METADATA_KEY not in meta:
        raise BundleError("safetensors file without bioseq metadata: not a bioseq model bundle", path=path)
    return header, _check_metadata(meta[METADATA_KEY], path)


def _read_framing(path: Path) -> dict[str, Any]:
    """The safetensors JSON header, after checking the length field and that the tensors fill the file."""
    if not path.exists():
        raise BundleError("no such model file", path=path)
    if path.is_dir():
        raise BundleError("is a directory, not a model file", path=path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise BundleError(_NOT_A_BUNDLE.format(why=f" (only {size} bytes)"), path=path)
        (n,) = struct.unpack("<Q", head)
        if n == 0 or n > _MAX_HEADER:
            raise BundleError(_NOT_A_BUNDLE.format(why=" (invalid header length)"), path=path)
        if 8 + n > size:
            raise BundleError(
                f"truncated or not a safetensors file: header says {n} bytes but the file has "
                f"{size - 8} after the length field",
                path=path,
            )
        raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BundleError(_NOT_A_BUNDLE.format(why=" (header is not JSON)"), path=path) from None
    if not isinstance(header, dict):
        raise BundleError(_NOT_A_BUNDLE.format(why=" (header is not a JSON object)"), path=path)
    try:
        tensors = [t for k, t in header.items() if k != "__metadata__"]
        end = max((int(t["data_offsets"][1]) for t in tensors), default=0)
    except (TypeError, KeyError, ValueError, IndexError):
        raise BundleError("corrupt safetensors header (bad tensor entry)", path=path) from None
    if 8 + n + end != size:
        what = "truncated" if 8 + n + end > size else "corrupt (trailing bytes)"
        raise BundleError(f"{what}: tensors need {end} bytes after the header, the file has {size - 8 - n}", path=path)
    return header


def _check_metadata(text: str, path: Path) -> dict[str, Any]:
    """The ``bioseq`` metadata JSON, checked for format, version and required keys."""
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(f"corrupt bioseq metadata (invalid JSON: {exc})", path=path) from None
    except RecursionError:
        raise BundleError("bioseq metadata is nested too deeply to be a model description", path=path) from None
    if not isinstance(info, dict) or info.get("format") != FORMAT_NAME:
        raise BundleError(f"metadata does not declare format {FORMAT_NAME!r}", path=path)
    version = info.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise BundleError(f"unknown bundle format version {version!r}", path=path)
    if version > FORMAT_VERSION:
        raise BundleError(
            f"bundle format version {version} is newer than this bioseq ({__version__}) reads "
            f"(<= {FORMAT_VERSION}); upgrade bioseq (the bundle was written by bioseq "
            f"{info.get('bioseq_version', '?')})",
            path=path,
        )
    kind = info.get("kind")
    required = _REQUIRED[kind if kind in (ENSEMBLE_KIND, ENCODER_KIND) else "single"]
    missing = [k for k in required if k not in info]
    if missing:
        raise BundleError(f"bioseq metadata lacks {', '.join(missing)}", path=path)
    try:
        check_depth(info)
        check_config(info, ENSEMBLE_KIND)
        check_fingerprint(info)
    except BundleError as exc:
        raise BundleError(exc.message, path=path) from None
    return info


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The bundle's validated ``bioseq`` metadata without loading the weights (for ``bioseq info``)."""
    return _read_header(Path(path))[1]


def read_arrays(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(tensors as numpy arrays, metadata)``, with the fingerprint verified."""
    from safetensors import safe_open

    p = Path(path)
    _, info = _read_header(p)
    try:
        with safe_open(str(p), framework="numpy") as fh:
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (safe_open has no iterator)
    except Exception as exc:  # safetensors raises its own SafetensorError, or OSError
        raise BundleError(f"corrupt safetensors data: {exc}", path=p) from None
    if compute_fingerprint(tensors, info) != info["fingerprint"]:
        raise BundleError(
            "corrupt: the weights or configuration do not match the fingerprint stored when the bundle was written",
            path=p,
        )
    return tensors, info


def load(
    path: str | os.PathLike[str],
    device: str = "cpu",
    cls: type[Classifier] | None = None,
    ensemble_cls: type[EnsembleClassifier] | None = None,
) -> Classifier | EnsembleClassifier:
    """Load a model bundle; never unpickles.

    Args:
        path: a ``.safetensors`` bundle written by :func:`save_bundle`.
        device: ``cpu`` (default), ``cuda`` or ``auto`` for torch models.
        cls: the class to build (a :class:`~bioseq.models.classifier.Classifier`
            subclass; :func:`bioseq.load` asks for the user-facing ``Model``).
        ensemble_cls: the class to build for an ensemble bundle (an
            :class:`~bioseq.models.ensemble.EnsembleClassifier` subclass).

    Raises:
        BundleError: see the module docstring; the message names ``path``.
    """
    from bioseq.models.classifier import Classifier

    tensors, info = read_arrays(path)
    if info.get("kind") == ENCODER_KIND:
        raise BundleError(
            "is a pretrained encoder (bioseq pretrain), not a classifier: fine-tune it with "
            f"`bioseq train TRAIN --init {path} -o MODEL.safetensors` (Python: bioseq.train(..., init=...))",
            path=path,
        )
    try:
        if info.get("kind") == ENSEMBLE_KIND:
            return (ensemble_cls or EnsembleClassifier).from_arrays(info, tensors, device=device)
        return (cls or Classifier).from_arrays(info, tensors, device=device)
    except BundleError as exc:
        if exc.path is None:
            raise BundleError(exc.message, path=path) from None
        raise
    except BioseqError as exc:
        raise BundleError(f"{type(exc).__name__}: {exc}", path=path) from None


def load_encoder(path: str | os.PathLike[str], device: str = "cpu") -> PretrainedEncoder:
    """Load a pretrained encoder bundle (``bioseq pretrain``'s output); never unpickles.

    Raises:
        BundleError: not a bundle, corrupt, or a classifier rather than an encoder (named).
    """
    from bioseq.models.encoder import PretrainedEncoder

    tensors, info = read_arrays(path)
    if info.get("kind") != ENCODER_KIND:
        raise BundleError(
            f"is a {info.get('kind')} classifier bundle, not a pretrained encoder: --init takes the output of "
            "`bioseq pretrain`",
            path=path,
        )
    try:
        return PretrainedEncoder.from_arrays(info, tensors, device=device)
    except BundleError as exc:
        raise BundleError(exc.message, path=path) from None
