"""Sequences from a reference genome: BED regions, genome scans and variant effects.

* :mod:`~bioseq.genomics.genome`: :class:`Genome`, random access to a plain or
  bgzip-compressed FASTA through its ``.fai`` (pysam/htslib; the ``genomics`` extra).
* :mod:`~bioseq.genomics.regions`: BED reading, resizing, region -> sequence records
  (what predict/embed/train consume) and the region prediction table.
* :mod:`~bioseq.genomics.scan`: sliding windows over chromosomes -> bedGraph (+ peaks).
* :mod:`~bioseq.genomics.variants`: VCF SNVs/indels -> reference/alternative scores.

Layer: above ``bundle`` and beside ``predict``/``embed``/``evaluate`` (it scores through
``Classifier.predict_proba_sequences``, the one inference path, and imports none of them).
"""
