"""Sequence tagging (part of speech, named entities): ``unrolled train tag``, ``evaluate`` and ``predict``."""
