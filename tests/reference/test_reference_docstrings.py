"""The examples in the docstrings of unrolled.reference run and print what they claim."""

import doctest
import importlib

import pytest

MODULES = [
    "unrolled.reference",
    "unrolled.reference.elman",
    "unrolled.reference.lstm",
    "unrolled.reference.gru",
    "unrolled.reference.finite_differences",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
