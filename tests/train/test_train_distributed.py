"""Two gloo processes on the CPU train like one process on the full batch (DistributedDataParallel)."""

import dataclasses
import json
import socket

import pytest
import torch
import torch.multiprocessing as mp
from _train_testkit import (
    Recorder,
    Stream,
    TinyGRU,
    ddp_config,
    ddp_stop_worker,
    ddp_worker,
    make_stream,
    mse_objective,
)
from safetensors.torch import load_file

from unrolled.train import DistributedContext, Trainer, find_checkpoint, load_checkpoint


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_one_process_on_the_global_batch(tmp_path):
    mp.spawn(ddp_worker, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    params = [load_file(tmp_path / f"rank{r}.safetensors") for r in range(2)]

    # both ranks hold bit-identical parameters and report the same (all-reduced) losses
    assert params[0].keys() == params[1].keys()
    for name in params[0]:
        assert torch.equal(params[0][name], params[1][name]), name
    assert ranks[0] == ranks[1]

    # one process on the full batch (B=4 instead of 2 x 2) follows the same trajectory
    model = TinyGRU(seed=0, dropout=0.0)
    recorder = Recorder()
    result = Trainer(model, mse_objective, ddp_config(), callbacks=[recorder]).fit(
        Stream(make_stream(seed=1)), Stream(make_stream(batches=2, seed=7))
    )
    ddp_steps = ranks[0]["steps"]
    assert [s for s, _ in ddp_steps] == [s for s, _ in recorder.steps] == list(range(1, 13))
    assert [loss for _, loss in ddp_steps] == pytest.approx([loss for _, loss in recorder.steps], rel=1e-5)
    assert [loss for _, loss in ranks[0]["evals"]] == pytest.approx([loss for _, loss in recorder.evals], rel=1e-5)
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(params[0][name], tensor, rtol=1e-5, atol=1e-6)
    assert ranks[0]["history"][-1]["train_loss"] == pytest.approx(result.history[-1]["train_loss"], rel=1e-5)

    # only rank 0 wrote the run folder; the checkpoint holds one RNG / state entry per rank
    run_dir = tmp_path / "run"
    assert len((run_dir / "metrics.csv").read_text().splitlines()) == 1 + 12 + 2 + 2
    _, parts = load_checkpoint(find_checkpoint(run_dir), TinyGRU(seed=5), ("rng", "state", "progress"))
    assert len(parts["rng"]) == 2 and len(parts["state"]) == 2 and parts["progress"]["step"] == 12


def test_distributed_context_validation_and_env():
    assert DistributedContext.from_env({"WORLD_SIZE": "1"}) is None
    assert DistributedContext.from_env({}) is None
    ctx = DistributedContext.from_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"})
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.is_main) == (3, 4, 1, False)
    with pytest.raises(ValueError, match=r"environment variable WORLD_SIZE: expected an integer, got 'two'"):
        DistributedContext.from_env({"WORLD_SIZE": "two"})
    with pytest.raises(ValueError, match=r"DistributedContext.rank: expected an int in \[0, 2\), got 2"):
        DistributedContext(rank=2, world_size=2)
    with pytest.raises(ValueError, match=r"DistributedContext.backend: expected gloo, nccl or None, got 'mpi'"):
        DistributedContext(rank=0, world_size=2, backend="mpi")


def test_distributed_training_needs_shardable_data(monkeypatch):
    from unrolled.train import batches

    with pytest.raises(TypeError, match=r"distributed training needs train data with a shard\(rank, world\) method"):
        batches.shard_data([1, 2], 0, 2, "train")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("MASTER_PORT", raising=False)
    with pytest.raises(ValueError, match=r"init_method env:// needs MASTER_ADDR and MASTER_PORT set"):
        Trainer(TinyGRU(), mse_objective, ddp_config(), distributed=DistributedContext(rank=0, world_size=2))


# --------------------------------------------------------------------------- which device each rank takes


@pytest.fixture
def gpus(monkeypatch):
    """Pretend this machine has ``n`` GPUs (0: no CUDA at all)."""

    def set_gpus(n):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)

    return set_gpus


def test_auto_under_torchrun_takes_one_gpu_per_local_process(gpus, monkeypatch):
    from unrolled.train import resolve_device

    gpus(2)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert resolve_device("auto", local_rank=0) == torch.device("cuda", 0)
    assert resolve_device("auto", local_rank=1) == torch.device("cuda", 1)
    assert resolve_device("cuda", local_rank=1, local_world_size=2) == torch.device("cuda", 1)
    assert resolve_device("auto") == torch.device("cuda", 0)  # a single process: the current device
    gpus(8)  # more GPUs than processes is fine
    assert resolve_device("auto", local_rank=3, local_world_size=4) == torch.device("cuda", 3)


def test_auto_under_torchrun_refuses_more_processes_than_gpus_in_one_line(gpus, monkeypatch):
    from unrolled.train import resolve_device

    gpus(1)
    expected = (
        "4 processes on this node but 1 GPU: run torchrun --nproc-per-node 1, or pass --device cpu for gloo on the CPU"
    )
    for rank in (0, 3):  # every rank says the same, rank 0 included (it has a GPU but its peers do not)
        with pytest.raises(ValueError) as err:
            resolve_device("auto", local_rank=rank, local_world_size=4)
        assert str(err.value) == expected
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "3")  # torchrun's environment when the caller does not say
    gpus(2)
    with pytest.raises(ValueError, match=r"^3 processes on this node but 2 GPUs: run torchrun --nproc-per-node 2,"):
        resolve_device("cuda", local_rank=0)
    with pytest.raises(ValueError, match=r"resolves to cuda:2 but this machine has 2 GPUs \(cuda:0 to cuda:1\)"):
        resolve_device("cuda:2")

    # through the Trainer: refused before any process group is joined
    ctx = DistributedContext(rank=0, world_size=3, local_rank=0, local_world_size=3)
    with pytest.raises(ValueError, match=r"^3 processes on this node but 2 GPUs"):
        Trainer(TinyGRU(), mse_objective, dataclasses.replace(ddp_config(), device="auto"), distributed=ctx)


def test_cpu_under_torchrun_is_the_cpu_whatever_gpus_exist(gpus):
    from unrolled.train import resolve_device

    for n in (0, 1):
        gpus(n)
        assert resolve_device("cpu", local_rank=3, local_world_size=4) == torch.device("cpu")
    gpus(0)
    assert resolve_device("auto", local_rank=3, local_world_size=4) == torch.device("cpu")  # no CUDA: gloo
    with pytest.raises(ValueError, match=r"device='cuda' but CUDA is not available"):
        resolve_device("cuda", local_rank=0, local_world_size=2)


def test_distributed_context_reads_the_local_world_size():
    env = {"WORLD_SIZE": "8", "RANK": "5", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "4"}
    ctx = DistributedContext.from_env(env)
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.local_world_size) == (5, 8, 1, 4)
    assert DistributedContext.from_env({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"}).local_world_size is None
    with pytest.raises(ValueError, match=r"local_world_size: expected None or an int > local_rank=2, got 2"):
        DistributedContext(rank=2, world_size=4, local_rank=2, local_world_size=2)


def test_a_stop_asked_on_one_rank_is_agreed_at_the_next_read_point_without_per_step_reads(tmp_path):
    # 30 epochs of 6 steps, log_every 1000: the ranks read every 32 steps; rank 1 (not the main one) asks to stop
    # at step 40
    mp.spawn(ddp_stop_worker, args=(2, free_port(), str(tmp_path), 1, 40), nprocs=2, join=True)
    ranks = [json.loads((tmp_path / f"stop{r}.json").read_text()) for r in range(2)]
    for r in ranks:
        assert r["stopped"] == "requested" and r["steps"] == 64  # the read point after step 40
        # read points at steps 32 and 64 (the stop agreement and the losses: 2 reads each), the epoch ends at
        # steps 6, 12, ..., 60 (one read each: 10) and the end of fit (nothing left to read): 14 in 64 steps,
        # where the old trainer read every step (64 reads and more)
        assert r["reads"] == 2 * 2 + 10, r["reads"]
    assert ranks[0]["history"] == ranks[1]["history"] and len(ranks[0]["history"]) == 10
