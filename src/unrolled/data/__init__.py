"""Corpus readers and mini-batching: contiguous streams for language models, padded buckets for sentences."""

from unrolled.data.bucketing import LengthBucketSampler, padding_ratio
from unrolled.data.labelled import LabelledData, read_labelled, stratified_split
from unrolled.data.padded import BucketedBatches, PaddedBatch, pad_batch
from unrolled.data.readers import read_documents, read_lines, read_text, read_utf8_file
from unrolled.data.stream import StreamBatches, StreamChunk, batchify

__all__ = [
    "BucketedBatches",
    "LabelledData",
    "LengthBucketSampler",
    "PaddedBatch",
    "StreamBatches",
    "StreamChunk",
    "batchify",
    "pad_batch",
    "padding_ratio",
    "read_documents",
    "read_labelled",
    "read_lines",
    "read_text",
    "read_utf8_file",
    "stratified_split",
]
