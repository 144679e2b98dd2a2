"""Interpretation: which bases drove each prediction (:mod:`.explain`) and which motifs a model learned
(:mod:`.motifs`).

* :mod:`.ism`: in-silico mutagenesis, exact and batched through the one inference path;
* :mod:`.gradients`: saliency and integrated gradients (captum), DeepLIFT/SHAP (tangermeme)
  on the differentiable one-hot input of :mod:`bioseq.models.onehot`;
* :mod:`.attributions`: the :class:`~.attributions.Attribution` record, the observed-base score,
  and the TSV / ragged HDF5 writers and reader;
* :mod:`.explain`: files or records in, attributions out;
* :mod:`.motifs`: TF-MoDISco seqlets and motifs, MEME output, logos, TomTom matches;
* :mod:`.extras`: the optional libraries, imported lazily with an error naming the extra.
"""
