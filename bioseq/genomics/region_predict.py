"""Predictions for BED regions: the prediction table plus ``chrom, start, end, strand``.

Streams like :func:`bioseq.predict.predict_to_file`: regions are read a chunk at a
time, their sequences fetched from the genome, scored through
``model.predict_proba_sequences`` (the one inference path) and written through a
:class:`~bioseq.io.writers.PredictionWriter` with the region columns after the
probabilities (``bioseq evaluate`` and ``bioseq gather`` read such tables).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bioseq.errors import EmptyInputError
from bioseq.genomics.genome import Genome
from bioseq.genomics.regions import REGION_COLUMNS, iter_region_chunks, read_bed, region_columns, region_records
from bioseq.io.readers import SequenceItem
from bioseq.io.writers import PredictionBatch, write_prediction_table

CHUNK_SIZE = 4096


@dataclass(frozen=True)
class RegionSource:
    """What ``--regions/--genome/--width/--pad/--label-column`` describe (the CLI's shared option group).

    Attributes:
        bed: the BED file.
        genome: the FASTA (plain or bgzip, with or without its index).
        width: resize every region to this many letters around its centre (None: as given).
        pad: fill the outside of a chromosome with N instead of failing.
        label_column: 1-based BED column of the labels (training; 4 = name).
    """

    bed: str
    genome: str
    width: int | None = None
    pad: bool = False
    label_column: int | None = None

    def items(self, *, id_from_name: bool = True) -> Iterator[SequenceItem]:
        """The regions as ``SequenceItem`` records, streamed (the genome is open while iterating)."""
        with Genome(self.genome) as genome:
            for _region, item in region_records(
                genome, read_bed(self.bed, self.label_column), width=self.width, pad=self.pad,
                id_from_name=id_from_name, where=self.bed,
            ):
                yield item

    def training_items(self) -> list[SequenceItem]:
        """Labelled records for training: ids ``chrom:start-end(strand)`` (the name column may hold labels)."""
        return list(self.items(id_from_name=self.label_column != 4 and self.label_column is not None))


def predict_regions_to_file(
    model: Any,
    source: RegionSource,
    output: str | os.PathLike[str],
    *,
    batch_size: int = 256,
    both_strands: bool = False,
    chunk_size: int = CHUNK_SIZE,
) -> int:
    """Write the region prediction table of ``source`` to ``output`` (``"-"``: stdout, once complete).

    Columns: ``id, predicted, prob_<label>..., chrom, start, end, strand`` (coordinates as read,
    after resizing). Returns the number of regions.
    """
    with Genome(source.genome) as genome:
        chunks = iter_region_chunks(
            genome, read_bed(source.bed), chunk_size, width=source.width, pad=source.pad, where=source.bed
        )
        n = write_prediction_table(
            output,
            model.labels,
            (
                PredictionBatch(ids, model.decide(probs), probs, region_columns(regions))
                for regions, ids, seqs in chunks
                for probs in [model.predict_proba_sequences(seqs, batch_size=batch_size, both_strands=both_strands,
                                                            ids=ids)]
            ),
            multilabel=model.task == "multilabel",
            extra=REGION_COLUMNS,
        )
    if n == 0:  # pragma: no cover - read_bed raises first
        raise EmptyInputError("no regions", path=source.bed)
    return n
