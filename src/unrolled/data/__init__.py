"""Corpus readers and mini-batching: contiguous streams for language models, padded buckets for sentences."""

from unrolled.data.bucketing import LengthBucketSampler, padding_ratio
from unrolled.data.gaps import linear_interpolate
from unrolled.data.labelled import LabelledData, read_labelled, stratified_split
from unrolled.data.padded import BucketedBatches, PaddedBatch, pad_batch
from unrolled.data.pairs import filter_pairs, read_aligned, read_pairs_tsv, split_pairs
from unrolled.data.readers import read_documents, read_lines, read_text, read_utf8_file
from unrolled.data.series_csv import SeriesTable, read_series_csv, statsmodels_dataset
from unrolled.data.stream import StreamBatches, StreamChunk, batchify
from unrolled.data.synthetic_pairs import SYNTHETIC_TASKS, make_pairs
from unrolled.data.tree_batch import TreeBatch, batch_trees
from unrolled.data.trees import Tree, read_trees, write_trees

__all__ = [
    "SYNTHETIC_TASKS",
    "filter_pairs",
    "make_pairs",
    "read_aligned",
    "read_pairs_tsv",
    "split_pairs",
    "BucketedBatches",
    "LabelledData",
    "LengthBucketSampler",
    "PaddedBatch",
    "SeriesTable",
    "StreamBatches",
    "StreamChunk",
    "Tree",
    "TreeBatch",
    "batch_trees",
    "read_trees",
    "write_trees",
    "batchify",
    "linear_interpolate",
    "pad_batch",
    "padding_ratio",
    "read_documents",
    "read_labelled",
    "read_lines",
    "read_series_csv",
    "read_text",
    "read_utf8_file",
    "statsmodels_dataset",
    "stratified_split",
]
