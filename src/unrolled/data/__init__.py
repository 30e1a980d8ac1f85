"""Corpus readers and mini-batching: contiguous streams for language models, padded buckets for sentences."""

from unrolled.data.bucketing import LengthBucketSampler, padding_ratio
from unrolled.data.padded import BucketedBatches, PaddedBatch, pad_batch
from unrolled.data.readers import read_documents, read_lines, read_text, read_utf8_file
from unrolled.data.stream import StreamBatches, StreamChunk, batchify

__all__ = [
    "BucketedBatches",
    "LengthBucketSampler",
    "PaddedBatch",
    "StreamBatches",
    "StreamChunk",
    "batchify",
    "pad_batch",
    "padding_ratio",
    "read_documents",
    "read_lines",
    "read_text",
    "read_utf8_file",
]
