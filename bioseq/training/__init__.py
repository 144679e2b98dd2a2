"""Training: :func:`bioseq.train` and its parts.

* :mod:`~bioseq.training.api` -- ``train()``: builds the configuration and dispatches.
* :mod:`~bioseq.training.single` -- one architecture: data, task inference, tokenizer, model, bundle.
* :mod:`~bioseq.training.auto` -- ``--arch auto``: the candidates within the budget, greedy
  ensemble selection, one ensemble bundle.
* :mod:`~bioseq.training.data` -- reading labelled records, alphabet inference, fingerprints, splits.
* :mod:`~bioseq.training.labels` -- label encoding, task inference, class weights.
* :mod:`~bioseq.training.loop` -- the torch loop (AdamW, LR schedule, RC augmentation, crops).
* validation metrics and the selection metric: :mod:`bioseq.evaluate.metrics` (shared with ``bioseq evaluate``).
* :mod:`~bioseq.training.early_stopping`, :mod:`~bioseq.training.checkpoint`,
  :mod:`~bioseq.training.distributed` (DDP under torchrun). Device choice lives in
  :mod:`bioseq.device` (inference needs it too).

Nothing is imported here, so ``import bioseq.training`` stays cheap.
"""
