import itertools

import pytest
import torch

from unrolled.data import StreamBatches, batchify


def test_batchify_hand_example():
    out = batchify(torch.arange(10), 3)
    assert out.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert batchify(torch.arange(4), 2).tolist() == [[0, 1], [2, 3]]


def test_batchify_rows_are_contiguous_segments():
    ids = torch.randint(0, 50, (103,), generator=torch.Generator().manual_seed(0))
    out = batchify(ids, 4)
    assert out.shape == (4, 25)
    for b in range(4):
        assert torch.equal(out[b], ids[b * 25 : (b + 1) * 25])


def test_batchify_errors():
    with pytest.raises(ValueError, match=r"at least 2\*batch_size=6 tokens to batchify into 3 rows, got 5"):
        batchify(torch.arange(5), 3)
    with pytest.raises(ValueError, match="batch_size >= 1, got 0"):
        batchify(torch.arange(5), 0)
    with pytest.raises(TypeError, match="batch_size to be an int, got bool"):
        batchify(torch.arange(5), True)
    with pytest.raises(TypeError, match="integer token ids, got dtype torch.float32"):
        batchify(torch.ones(8), 2)
    with pytest.raises(ValueError, match=r"ids to be 1-D, got shape \(2, 4\)"):
        batchify(torch.zeros(2, 4, dtype=torch.long), 2)
    with pytest.raises(TypeError, match="torch.Tensor of token ids, got list"):
        batchify([1, 2, 3, 4], 2)


def test_stream_chunks_hand_example():
    batches = StreamBatches(batchify(torch.arange(20), 2), bptt=4)  # rows 0..9, 10..19; 9 targets per row
    assert len(batches) == 3
    chunks = list(batches)
    assert chunks[0].inputs.tolist() == [[0, 1, 2, 3], [10, 11, 12, 13]]
    assert chunks[0].targets.tolist() == [[1, 2, 3, 4], [11, 12, 13, 14]]
    assert chunks[1].inputs.tolist() == [[4, 5, 6, 7], [14, 15, 16, 17]]
    assert chunks[2].inputs.tolist() == [[8], [18]]
    assert chunks[2].targets.tolist() == [[9], [19]]
    assert [(c.start, c.loss_start, c.carry, c.save_at) for c in chunks] == [
        (0, 0, False, 4),
        (4, 0, True, 4),
        (8, 0, True, 1),
    ]
    assert batches.num_targets == 18 and batches.batch_size == 2


@pytest.mark.parametrize(("n", "bptt"), [(2, 1), (7, 3), (13, 4), (13, 12), (13, 40)])
def test_disjoint_chunks_reproduce_the_stream(n, bptt):
    data = torch.randint(0, 100, (3, n), generator=torch.Generator().manual_seed(n))
    chunks = list(StreamBatches(data, bptt))
    assert len(chunks) == -(-(n - 1) // bptt)
    for c in chunks:
        t = c.inputs.size(1)
        assert 1 <= t <= bptt and c.loss_start == 0 and c.save_at == t
        assert torch.equal(c.targets[:, :-1], c.inputs[:, 1:])  # targets are inputs shifted by one
        assert torch.equal(c.targets[:, -1], data[:, c.start + t])
    assert torch.equal(torch.cat([c.inputs for c in chunks], dim=1), data[:, :-1])
    assert torch.equal(torch.cat([c.targets for c in chunks], dim=1), data[:, 1:])


@pytest.mark.parametrize(("n", "k1", "k2"), [(30, 2, 5), (23, 3, 7), (10, 1, 4), (9, 4, 20), (17, 5, 5)])
def test_overlapping_windows_score_every_target_exactly_once(n, k1, k2):
    data = torch.arange(n).unsqueeze(0).repeat(2, 1)
    data[1] += 1000
    batches = StreamBatches(data, bptt=k1, k2=k2)
    chunks = list(batches)
    scored = []
    for i, c in enumerate(chunks):
        t = c.inputs.size(1)
        assert t <= k2 and c.start + c.loss_start == i * k1
        assert torch.equal(c.inputs, data[:, c.start : c.start + t])
        assert torch.equal(c.targets, data[:, c.start + 1 : c.start + t + 1])
        assert c.carry == (c.start > 0)
        assert 1 <= c.save_at <= t
        if i + 1 < len(chunks) and chunks[i + 1].carry:
            assert c.start + c.save_at == chunks[i + 1].start  # the saved state is where the next one starts
        scored.extend(c.targets[0, c.loss_start :].tolist())
    assert scored == list(range(1, n))


@pytest.mark.parametrize(("k1", "k2"), [(3, 3), (3, 7), (2, 5)])
def test_documented_state_carrying_matches_a_full_run(k1, k2):
    torch.manual_seed(0)
    emb = torch.nn.Embedding(50, 4)
    rnn = torch.nn.RNN(4, 5, batch_first=True)
    data = torch.randint(0, 50, (2, 23), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full, _ = rnn(emb(data[:, :-1]))
        outputs, saved = [], None
        for chunk in StreamBatches(data, bptt=k1, k2=k2):
            h = saved if chunk.carry else torch.zeros(1, 2, 5)
            out, h_mid = rnn(emb(chunk.inputs[:, : chunk.save_at]), h)
            saved = h_mid
            if chunk.save_at < chunk.inputs.size(1):
                out_b, _ = rnn(emb(chunk.inputs[:, chunk.save_at :]), h_mid)
                out = torch.cat([out, out_b], dim=1)
            outputs.append(out[:, chunk.loss_start :])
    torch.testing.assert_close(torch.cat(outputs, dim=1), full)


def test_shard_rows_concatenate_back():
    data = torch.arange(6 * 11).view(6, 11)
    batches = StreamBatches(data, 4, k2=6)
    shards = [batches.shard(r, 3) for r in range(3)]
    assert torch.equal(torch.cat([s.data for s in shards]), data)
    for i, parts in enumerate(zip(*shards)):
        whole = batches[i]
        assert len({len(s) for s in shards}) == 1
        assert torch.equal(torch.cat([p.inputs for p in parts]), whole.inputs)
        assert torch.equal(torch.cat([p.targets for p in parts]), whole.targets)
        meta = (whole.loss_start, whole.carry, whole.start, whole.save_at)
        assert all((p.loss_start, p.carry, p.start, p.save_at) == meta for p in parts)


def test_shard_errors():
    batches = StreamBatches(torch.zeros(6, 5, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="batch size B=6 to be divisible by world_size=4"):
        batches.shard(0, 4)
    with pytest.raises(ValueError, match=r"0 <= rank < world_size=2, got rank=2"):
        batches.shard(2, 2)
    with pytest.raises(ValueError, match="world_size >= 1, got 0"):
        batches.shard(0, 0)


def test_iter_from_resumes_and_set_epoch_is_a_no_op():
    batches = StreamBatches(batchify(torch.arange(40), 2), 3, k2=5)
    everything = list(batches)
    batches.set_epoch(7)
    for n in (0, 2, len(everything)):
        resumed = list(batches.iter_from(n))
        assert len(resumed) == len(everything) - n
        for a, b in zip(resumed, everything[n:]):
            assert torch.equal(a.inputs, b.inputs) and (a.start, a.loss_start) == (b.start, b.loss_start)
    assert list(itertools.islice(batches, 1))[0].start == 0


def test_stream_errors():
    data = batchify(torch.arange(20), 2)
    with pytest.raises(ValueError, match=r"k2 >= bptt \(k1\) = 4, got k2=3"):
        StreamBatches(data, 4, k2=3)
    with pytest.raises(ValueError, match="bptt >= 1, got 0"):
        StreamBatches(data, 0)
    with pytest.raises(ValueError, match=r"data to be 2-D, got shape \(20,\)"):
        StreamBatches(torch.arange(20), 4)
    with pytest.raises(ValueError, match=r"shape \(B >= 1, N >= 2\), got \(3, 1\)"):
        StreamBatches(torch.zeros(3, 1, dtype=torch.long), 4)
    batches = StreamBatches(data, 4)
    with pytest.raises(ValueError, match=r"0 <= n <= 3 \(the number of chunks\), got 4"):
        list(batches.iter_from(4))
    with pytest.raises(IndexError, match=r"chunk index in \[0, 3\), got 3"):
        batches[3]
    with pytest.raises(TypeError, match="int chunk index"):
        batches["0"]
    with pytest.raises(ValueError, match="epoch >= 0, got -1"):
        batches.set_epoch(-1)
