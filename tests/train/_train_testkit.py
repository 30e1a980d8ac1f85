"""Tiny models, objectives and data sources shared by the tests of unrolled.train."""

from __future__ import annotations

import torch
from torch import nn

from unrolled.train import Callback, StepResult


class TinyGRU(nn.Module):
    """GRU(2 -> 4) + dropout + Linear(4 -> 1): a regression model with recurrent state and randomness."""

    def __init__(self, seed: int = 0, dropout: float = 0.25) -> None:
        super().__init__()
        generator_state = torch.get_rng_state()
        torch.manual_seed(seed)
        self.rnn = nn.GRU(2, 4, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(4, 1)
        torch.set_rng_state(generator_state)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        y, h = self.rnn(x, h)
        return self.out(self.drop(y)), h


def mse_objective(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], state: object) -> StepResult:
    x, y = batch
    prediction, state = model(x, state)
    return StepResult(loss=((prediction - y) ** 2).mean(), count=y.numel(), state=state)


def make_stream(batches: int = 6, streams: int = 4, steps: int = 5, seed: int = 1) -> torch.Tensor:
    """(N, B, T, 3) chunks: inputs in [..., :2], targets in [..., 2:]."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batches, streams, steps, 3, generator=generator)


class Stream:
    """Sequential chunks of B parallel streams (truncated BPTT order), with iter_from, len and shard."""

    def __init__(self, chunks: torch.Tensor) -> None:
        self.chunks = chunks
        self.epochs_seen: list[int] = []

    def __len__(self) -> int:
        return len(self.chunks)

    def set_epoch(self, epoch: int) -> None:
        self.epochs_seen.append(epoch)

    def __iter__(self):
        return self.iter_from(0)

    def iter_from(self, n: int):
        for chunk in self.chunks[n:]:
            yield chunk[..., :2], chunk[..., 2:]

    def shard(self, rank: int, world: int) -> Stream:
        per = self.chunks.shape[1] // world
        return Stream(self.chunks[:, rank * per : (rank + 1) * per])


class Recorder(Callback):
    """Records the loss of every step, every validation and every epoch."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, float]] = []
        self.evals: list[tuple[int, float]] = []
        self.epochs: list[dict] = []

    def on_step_end(self, trainer, step, metrics):
        self.steps.append((step, metrics["loss"]))

    def on_eval(self, trainer, step, metrics):
        self.evals.append((step, metrics["loss"]))

    def on_epoch_end(self, trainer, epoch, metrics):
        self.epochs.append(metrics)


class FailAt(Callback):
    """Raises ``error`` at the end of step ``step`` (a crash or a Ctrl-C at a known point)."""

    def __init__(self, step: int, error: BaseException) -> None:
        self.step = step
        self.error = error

    def on_step_end(self, trainer, step, metrics):
        if step == self.step:
            raise self.error


def params_of(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.state_dict().items()}


def assert_same_params(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for name in sa:
        assert torch.equal(sa[name], sb[name]), name


def ddp_worker(rank: int, world: int, port: int, out_dir: str) -> None:
    """Entry point of the spawned processes of the distributed test: trains, then saves losses and parameters."""
    import json
    import os
    from pathlib import Path

    from safetensors.torch import save_file

    from unrolled.train import DistributedContext, Trainer

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    model = TinyGRU(seed=0, dropout=0.0)
    recorder = Recorder()
    context = DistributedContext(rank=rank, world_size=world, backend="gloo")
    with Trainer(
        model, mse_objective, ddp_config(), run_dir=Path(out_dir) / "run", callbacks=[recorder], distributed=context
    ) as trainer:
        result = trainer.fit(Stream(make_stream(seed=1)), Stream(make_stream(batches=2, seed=7)))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{out_dir}/rank{rank}.safetensors")
    summary = {"steps": recorder.steps, "evals": recorder.evals, "history": result.history, "stopped": result.stopped}
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(summary))


def ddp_config():
    from unrolled.train import TrainConfig

    return TrainConfig(
        epochs=2,
        lr=0.1,
        optimizer="sgd",
        momentum=0.9,
        carry_state=True,
        log_every=1,
        progress=False,
        plot=False,
        device="cpu",
        clip_norm=1.0,
    )


def ddp_stop_worker(rank: int, world: int, port: int, out_dir: str, stop_rank: int, stop_step: int) -> None:
    """Distributed run in which one rank asks to stop at ``stop_step``; counts the host reads of tensor values
    (``tolist`` / ``item``) the trainer makes, and saves where each rank stopped."""
    import collections
    import json
    import os
    from pathlib import Path

    from unrolled.train import DistributedContext, TrainConfig, Trainer

    class StopAt(Callback):
        def on_step_end(self, trainer, step, metrics):
            assert metrics["step"] == step  # looks at the step only: no read
            if rank == stop_rank and step == stop_step:
                trainer.request_stop()

    reads = collections.Counter()
    originals = {name: getattr(torch.Tensor, name) for name in ("tolist", "item")}

    def counting(name):
        def read(self, *args, **kwargs):
            reads[name] += 1
            return originals[name](self, *args, **kwargs)

        return read

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    cfg = TrainConfig(
        epochs=30, lr=0.05, optimizer="sgd", log_every=1000, progress=False, plot=False, device="cpu", clip_norm=1.0
    )
    context = DistributedContext(rank=rank, world_size=world, backend="gloo")
    with Trainer(TinyGRU(seed=0, dropout=0.0), mse_objective, cfg, callbacks=[StopAt()], distributed=context) as t:
        for name in originals:
            setattr(torch.Tensor, name, counting(name))
        try:
            result = t.fit(Stream(make_stream(batches=6, seed=1)))
        finally:
            for name, fn in originals.items():
                setattr(torch.Tensor, name, fn)
    summary = {
        "steps": result.steps,
        "stopped": result.stopped,
        "reads": sum(reads.values()),
        "history": result.history,
    }
    Path(out_dir, f"stop{rank}.json").write_text(json.dumps(summary))
