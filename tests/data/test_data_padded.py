import pytest
import torch

from unrolled.data import BucketedBatches, PaddedBatch, pad_batch

LENGTHS = [3, 1, 7, 2, 2, 9, 5, 1, 4, 6, 8, 3, 2, 7, 1, 5, 5, 9, 2, 4, 6, 3, 1]  # 23 sequences


def dataset():
    # sequence i holds the distinct ids 100*i + 1 .. 100*i + length, so every row is traceable
    return [torch.arange(1, n + 1) + 100 * i for i, n in enumerate(LENGTHS)]


def epoch_indices(batches):
    return [b.indices.tolist() for b in batches]


def test_pad_batch_exact():
    inputs, lengths = pad_batch([torch.tensor([5, 6, 7]), torch.tensor([8]), torch.tensor([9, 9])], pad_id=0)
    assert inputs.tolist() == [[5, 6, 7], [8, 0, 0], [9, 9, 0]]
    assert lengths.tolist() == [3, 1, 2] and lengths.dtype == torch.long
    inputs, _ = pad_batch([torch.tensor([1]), torch.tensor([2, 3])], pad_id=-1)
    assert inputs.tolist() == [[1, -1], [2, 3]]


def test_pad_batch_errors():
    with pytest.raises(ValueError, match="at least one sequence"):
        pad_batch([], 0)
    with pytest.raises(TypeError, match="list of 1-D token-id tensors, got Tensor"):
        pad_batch(torch.zeros(2, 3, dtype=torch.long), 0)
    with pytest.raises(ValueError, match=r"sequences\[1\] to be 1-D, got shape \(1, 2\)"):
        pad_batch([torch.tensor([1]), torch.tensor([[1, 2]])], 0)
    with pytest.raises(TypeError, match=r"sequences\[0\] to hold integer token ids, got dtype torch.float32"):
        pad_batch([torch.tensor([1.0])], 0)
    with pytest.raises(ValueError, match=r"non-empty sequences, got an empty sequences\[1\]"):
        pad_batch([torch.tensor([1]), torch.tensor([], dtype=torch.long)], 0)
    with pytest.raises(TypeError, match="one dtype, got torch.int64 and torch.int32 at 1"):
        pad_batch([torch.tensor([1]), torch.tensor([1], dtype=torch.int32)], 0)
    with pytest.raises(TypeError, match="pad_id to be an int, got float"):
        pad_batch([torch.tensor([1])], 0.0)


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("bucket", [True, False])
def test_every_sequence_once_and_padding_is_pad_id(shuffle, bucket):
    seqs = dataset()
    batches = BucketedBatches(seqs, 4, pad_id=-7, shuffle=shuffle, bucket=bucket, bucket_batches=2, seed=3)
    assert len(batches) == 6
    for epoch in range(3):
        batches.set_epoch(epoch)
        seen = []
        for b in batches:
            assert isinstance(b, PaddedBatch) and b.targets is None and b.target_lengths is None
            assert b.inputs.size(1) == int(b.lengths.max())
            assert b.lengths.tolist() == sorted(b.lengths.tolist(), reverse=True)  # longest first
            for row, i in enumerate(b.indices.tolist()):
                n = LENGTHS[i]
                assert b.lengths[row] == n
                assert torch.equal(b.inputs[row, :n], seqs[i])
                assert (b.inputs[row, n:] == -7).all()
            seen.extend(b.indices.tolist())
        assert sorted(seen) == list(range(len(LENGTHS)))


def test_order_is_a_function_of_seed_and_epoch():
    a = BucketedBatches(dataset(), 4, pad_id=0, seed=11)
    b = BucketedBatches(dataset(), 4, pad_id=0, seed=11)
    orders = []
    for epoch in range(3):
        a.set_epoch(epoch)
        b.set_epoch(epoch)
        assert epoch_indices(a) == epoch_indices(b) == epoch_indices(a)
        orders.append(epoch_indices(a))
    assert orders[0] != orders[1] != orders[2] != orders[0]
    other_seed = BucketedBatches(dataset(), 4, pad_id=0, seed=12)
    assert epoch_indices(other_seed) != orders[0]


def test_no_shuffle_full_pool_is_globally_sorted():
    batches = BucketedBatches(dataset(), 5, pad_id=0, shuffle=False, bucket_batches=100)
    lengths = [n for b in batches for n in b.lengths.tolist()]
    assert lengths == sorted(LENGTHS, reverse=True)
    plain = BucketedBatches(dataset(), 5, pad_id=0, shuffle=False, bucket=False)
    assert [sorted(i) for i in epoch_indices(plain)] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14],
                                                         [15, 16, 17, 18, 19], [20, 21, 22]]  # fmt: skip


def test_bucketing_reduces_padding():
    def padding(batches):
        return sum(int(b.inputs.numel() - b.lengths.sum()) for b in batches)

    bucketed = BucketedBatches(dataset(), 4, pad_id=0, seed=0, bucket_batches=6)
    unbucketed = BucketedBatches(dataset(), 4, pad_id=0, seed=0, bucket=False)
    assert padding(bucketed) < padding(unbucketed)


def test_drop_last():
    batches = BucketedBatches(dataset(), 4, pad_id=0, drop_last=True, seed=5)
    assert len(batches) == 5
    sizes = [b.indices.numel() for b in batches]
    assert sizes == [4] * 5


def test_iter_from_resumes_the_same_epoch():
    batches = BucketedBatches(dataset(), 3, pad_id=0, seed=2)
    batches.set_epoch(4)
    everything = epoch_indices(batches)
    for n in (0, 3, len(everything)):
        assert [b.indices.tolist() for b in batches.iter_from(n)] == everything[n:]
    with pytest.raises(ValueError, match=r"0 <= n <= 8 \(the number of batches\), got 9"):
        list(batches.iter_from(9))


def test_shard_rows_reassemble_global_batches():
    batches = BucketedBatches(dataset(), 4, pad_id=0, seed=9)  # 5 full batches + one of 3
    batches.set_epoch(1)
    whole = epoch_indices(batches)
    shards = [batches.shard(r, 2) for r in range(2)]
    assert [len(s) for s in shards] == [6, 6]
    per_rank = [epoch_indices(s) for s in shards]
    for i, global_batch in enumerate(whole):
        assert sorted(per_rank[0][i] + per_rank[1][i]) == sorted(global_batch)
        assert per_rank[0][i] == global_batch[0::2] and per_rank[1][i] == global_batch[1::2]
    # a final batch with fewer rows than ranks is dropped on every rank
    four = [batches.shard(r, 4) for r in range(4)]
    assert [len(s) for s in four] == [5] * 4 and [len(list(s)) for s in four] == [5] * 4
    assert len(batches) == 6  # the unsharded view is untouched


def test_label_and_sequence_targets():
    seqs = dataset()
    labels = [i % 3 for i in range(len(seqs))]
    for b in BucketedBatches(seqs, 4, pad_id=0, targets=labels, seed=1):
        assert b.targets.tolist() == [labels[i] for i in b.indices.tolist()]
    tgt = [torch.arange(i % 4 + 1) for i in range(len(seqs))]
    for b in BucketedBatches(seqs, 4, pad_id=0, targets=tgt, seed=1):
        for row, i in enumerate(b.indices.tolist()):
            n = i % 4 + 1
            assert b.target_lengths[row] == n
            assert torch.equal(b.targets[row, :n], tgt[i])
            assert (b.targets[row, n:] == -100).all()
    tensor_labels = BucketedBatches(seqs, 4, pad_id=0, targets=torch.tensor(labels), shuffle=False)
    assert [t for b in tensor_labels for t in b.targets.tolist()] == [
        labels[i] for b in tensor_labels for i in b.indices.tolist()
    ]


def test_lists_of_ints_are_accepted_and_to_moves_batches():
    batches = BucketedBatches([[4, 5], [6]], 2, pad_id=0, shuffle=False)
    (b,) = list(batches)
    assert b.inputs.tolist() == [[4, 5], [6, 0]]
    moved = b.to("cpu")
    assert torch.equal(moved.inputs, b.inputs) and torch.equal(moved.lengths, b.lengths)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"sequences": []}, ValueError, "at least one sequence, got an empty dataset"),
        ({"sequences": torch.zeros(2, 2, dtype=torch.long)}, TypeError, "list of token-id sequences, got Tensor"),
        ({"sequences": [[1], []]}, ValueError, r"empty sequences\[1\]"),
        ({"sequences": [[1], [1.5]]}, TypeError, r"sequences\[1\] to be a 1-D tensor or a list of int"),
        ({"batch_size": 0}, ValueError, "batch_size >= 1, got 0"),
        ({"pad_id": None}, TypeError, "pad_id to be an int, got NoneType"),
        ({"shuffle": 1}, TypeError, "shuffle to be a bool"),
        ({"bucket_batches": 0}, ValueError, "bucket_batches >= 1"),
        ({"targets": [1, 2]}, ValueError, r"one target per sequence \(3\), got 2"),
        ({"targets": [1, [2], 3]}, TypeError, "all int labels or all token-id sequences, got a mix"),
        ({"targets": "abc"}, TypeError, "targets to be a list"),
        ({"targets": torch.zeros(3, 2)}, TypeError, "1-D integer tensor of labels"),
    ],
)
def test_construction_errors(kwargs, exc, match):
    args = {"sequences": [[1], [2, 3], [4]], "batch_size": 2, "pad_id": 0, **kwargs}
    with pytest.raises(exc, match=match) as info:
        BucketedBatches(**args)
    assert "\n" not in str(info.value)


def test_epoch_and_shard_errors():
    batches = BucketedBatches(dataset(), 4, pad_id=0)
    with pytest.raises(ValueError, match="epoch >= 0, got -1"):
        batches.set_epoch(-1)
    with pytest.raises(ValueError, match="batch_size=4 to be divisible by world_size=3"):
        batches.shard(0, 3)
    with pytest.raises(ValueError, match=r"0 <= rank < world_size=2, got rank=5"):
        batches.shard(5, 2)
