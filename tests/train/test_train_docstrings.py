"""The self-contained docstring examples of unrolled.train run and print what they claim."""

import doctest
import importlib

import pytest

MODULES = [
    "unrolled.state",
    "unrolled.train.config",
    "unrolled.train.metrics",
    "unrolled.train.schedule",
    "unrolled.train.seed",
    "unrolled.train.serialize",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
