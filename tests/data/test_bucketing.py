"""LengthBucketSampler: every index once, longest first, seeded, less padding than random batches, errors."""

from __future__ import annotations

import random

import pytest
import torch

from unrolled.data.bucketing import LengthBucketSampler, padding_ratio


def _lengths(n: int = 200, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(1, 60) for _ in range(n)]


def test_padding_ratio_by_hand() -> None:
    # batch [0, 1]: lengths 3, 1 -> 6 slots, 4 used; batch [2, 3]: 2, 2 -> 4 slots, 4 used; 2 of 10 padded
    assert padding_ratio([3, 1, 2, 2], [[0, 1], [2, 3]]) == pytest.approx(0.2)
    assert padding_ratio(torch.tensor([5, 5]), [[0, 1]]) == 0.0


def test_unshuffled_batches_by_hand() -> None:
    s = LengthBucketSampler([4, 1, 4, 1, 3], batch_size=2, shuffle=False)
    assert list(s) == [[0, 2], [4, 1], [3]]
    assert len(s) == 3
    assert list(LengthBucketSampler([4, 1, 4, 1, 3], batch_size=2, shuffle=False, drop_last=True)) == [[0, 2], [4, 1]]
    # pool of one batch: consecutive batches, only sorted inside
    assert list(LengthBucketSampler([4, 1, 4, 1, 3], batch_size=2, shuffle=False, pool_batches=1)) == [
        [0, 1],
        [2, 3],
        [4],
    ]


def test_every_index_once_longest_first() -> None:
    lengths = _lengths()
    s = LengthBucketSampler(lengths, batch_size=16, seed=3, pool_batches=4)
    for epoch in range(3):
        s.set_epoch(epoch)
        batches = list(s)
        assert len(batches) == len(s) == 13
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(len(lengths)))
        for b in batches:
            lb = [lengths[i] for i in b]
            assert lb == sorted(lb, reverse=True)


def test_seeded_and_epoch_dependent() -> None:
    lengths = _lengths()
    a = LengthBucketSampler(lengths, batch_size=8, seed=1)
    b = LengthBucketSampler(lengths, batch_size=8, seed=1)
    assert list(a) == list(b)
    b.set_epoch(1)
    assert list(a) != list(b)
    assert list(LengthBucketSampler(lengths, batch_size=8, seed=2)) != list(a)
    # resuming mid-epoch gives the tail of the same epoch
    assert list(a.iter_from(5)) == list(a)[5:]


def test_bucketing_cuts_padding() -> None:
    lengths = _lengths(400)
    bucketed = LengthBucketSampler(lengths, batch_size=16, seed=0, pool_batches=25)
    plain = LengthBucketSampler(lengths, batch_size=16, seed=0, pool_batches=1)
    assert bucketed.padding_ratio() < 0.1 < 0.3 < plain.padding_ratio()


def test_shard_strided_rows() -> None:
    lengths = _lengths(50)
    s = LengthBucketSampler(lengths, batch_size=4, seed=0)
    full = list(s)
    r0, r1 = list(s.shard(0, 2)), list(s.shard(1, 2))
    assert len(r0) == len(r1)
    for g, a, b in zip(full, r0, r1, strict=False):
        assert a == g[0::2] and b == g[1::2]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"lengths": []}, ValueError, "at least one length"),
        ({"lengths": [2, 0]}, ValueError, "length >= 1, got 0 at index 1"),
        ({"lengths": [2.0]}, TypeError, "list of ints"),
        ({"lengths": "abc"}, TypeError, "list of ints or a 1-D tensor"),
        ({"lengths": torch.ones(2, 2, dtype=torch.long)}, TypeError, "1-D integer tensor"),
        ({"lengths": [1], "batch_size": 0}, ValueError, "batch_size >= 1"),
        ({"lengths": [1], "pool_batches": 0}, ValueError, "pool_batches >= 1"),
        ({"lengths": [1], "shuffle": 1}, TypeError, "shuffle to be a bool"),
        ({"lengths": [1], "seed": 1.5}, TypeError, "seed to be an int"),
    ],
)
def test_errors(kwargs: dict, error: type, match: str) -> None:
    kwargs = {"batch_size": 2, **kwargs}
    with pytest.raises(error, match=match):
        LengthBucketSampler(**kwargs)


def test_more_errors() -> None:
    s = LengthBucketSampler([1, 2, 3], batch_size=3)
    with pytest.raises(ValueError, match="divisible by world_size=2"):
        s.shard(0, 2)
    with pytest.raises(ValueError, match="0 <= n <= 1"):
        list(s.iter_from(2))
    with pytest.raises(ValueError, match="non-empty batch"):
        padding_ratio([1], [[]])
