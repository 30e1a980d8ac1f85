"""unrolled._numba: numba's presence and the on-disk-cached njit that compiles in memory where caching is refused."""

import sys

import numba
import numpy as np

from unrolled._numba import cached_njit, numba_available


def _axpy(a, x, y):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = a * x[i] + y[i]
    return out


def test_numba_available_follows_the_import(monkeypatch):
    assert numba_available()
    monkeypatch.setitem(sys.modules, "numba", None)
    assert not numba_available()


def test_cached_njit_compiles_in_memory_where_no_cache_directory_is_writable(monkeypatch):
    x, y = np.arange(4.0), np.ones(4)
    calls = []
    real = numba.njit

    def refusing(*args, **kwargs):  # what numba does with cache=True and no writable cache directory
        calls.append(kwargs.get("cache", False))
        if kwargs.get("cache"):
            raise RuntimeError("cannot cache function '_axpy': no locator available")
        return real(*args, **kwargs)

    monkeypatch.setattr(numba, "njit", refusing)
    fn = cached_njit(nogil=True)(_axpy)
    assert calls == [True, False] and fn.targetoptions.get("nogil")
    np.testing.assert_array_equal(fn(2.0, x, y), 2.0 * x + y)
