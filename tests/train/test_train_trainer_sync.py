"""The trainer's steady state reads nothing back from the device: losses and gradient norms stay tensors until a
read every ``log_every`` steps, and the numbers it logs are those of a hand loop that reads every step."""

import collections
import csv
import io
import math

import pytest
import torch
from torch import nn

from unrolled.train import Callback, StepResult, TrainConfig, Trainer, TrainingDiverged, load_checkpoint
from unrolled.train import trainer as trainer_module
from unrolled.train.optim import build_optimizer

READS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__", "cpu", "numpy")


def config(**kwargs):
    base = dict(epochs=1, lr=0.05, optimizer="sgd", progress=False, plot=False, device="cpu")
    base.update(kwargs)
    return TrainConfig(**base)


def batches(n, rows=5, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(rows, 3, generator=generator), torch.randn(rows, 2, generator=generator)) for _ in range(n)]


def objective(model, batch, state):
    x, y = batch
    return StepResult(((model(x) - y) ** 2).mean(), y.numel())


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))


@pytest.fixture
def reads(monkeypatch):
    """Counts the calls that copy a tensor's value to the host (each one a synchronisation on a GPU)."""
    counts = collections.Counter()
    for name in READS:
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _original=original, _name=name, **kwargs):
            counts[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counting)
    return counts


# --------------------------------------------------------------------------- the same numbers as a hand loop


def hand_loop(model, cfg, train, valid):
    """The trainer's logging done the obvious way: read the loss and the gradient norm every step."""
    opt = build_optimizer(list(model.parameters()), cfg)
    rows, steps, history = [], [], []
    step, interval_sum, interval_count = 0, 0.0, 0  # logging intervals run across epochs
    for epoch in range(1, cfg.epochs + 1):
        epoch_sum, epoch_count = 0.0, 0
        for batch in train:
            model.train()
            opt.zero_grad(set_to_none=True)
            result = objective(model, batch, None)
            loss = result.loss.item()
            result.loss.backward()
            norm = float(nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm))
            opt.step()
            step += 1
            epoch_sum += loss * result.count
            interval_sum += loss * result.count
            epoch_count += result.count
            interval_count += result.count
            steps.append((step, loss, norm, result.count))
            if step % cfg.log_every == 0:
                rows.append((step, epoch, "train", interval_sum / interval_count, norm))
                interval_sum, interval_count = 0.0, 0
        model.eval()
        with torch.no_grad():
            valid_sum, valid_count = 0.0, 0
            for batch in valid:
                result = objective(model, batch, None)
                valid_sum += result.loss.item() * result.count
                valid_count += result.count
        rows.append((step, epoch, "valid", valid_sum / valid_count, None))
        rows.append((step, epoch, "train_epoch", epoch_sum / epoch_count, None))
        history.append(epoch_sum / epoch_count)
    return rows, steps, history


class Steps(Callback):
    def __init__(self):
        self.metrics = []

    def on_step_end(self, trainer, step, metrics):
        self.metrics.append(metrics)


def test_metrics_file_bar_and_epoch_losses_equal_a_hand_loop_reading_every_step(tmp_path, monkeypatch):
    cfg = config(epochs=3, log_every=7, clip_norm=0.5, seed=3, progress=True)
    train, valid = batches(23), batches(4, seed=1)
    expected_rows, expected_steps, expected_history = hand_loop(mlp(), cfg, train, valid)

    postfixes = []  # the progress bar's numbers: refreshed every step here, so one step per window
    monkeypatch.setattr(trainer_module, "_BAR_REFRESH_S", 0.0)
    monkeypatch.setattr(trainer_module, "format_postfix", lambda *args: postfixes.append(args) or {})
    steps = Steps()
    trainer = Trainer(mlp(), objective, cfg, run_dir=tmp_path, callbacks=[steps], progress_file=io.StringIO())
    result = trainer.fit(train, valid)

    with (tmp_path / "metrics.csv").open() as f:
        rows = [
            (
                int(r["step"]),
                int(r["epoch"]),
                r["split"],
                float(r["loss"]),
                float(r["grad_norm"]) if r["grad_norm"] else None,
            )
            for r in csv.DictReader(f)
        ]
    assert rows == expected_rows  # exact: the same sums in the same order
    assert result.train_losses == expected_history
    assert [(m["step"], m["loss"], m["grad_norm"], m["count"]) for m in steps.metrics] == expected_steps
    bar = [((0.0 + loss * n) / n, norm) for _, loss, norm, n in expected_steps]  # a window of one step
    assert [(args[0], args[4]) for args in postfixes] == bar


def test_a_resumed_run_logs_the_same_numbers(tmp_path):
    cfg = config(epochs=2, log_every=4, clip_norm=0.5, checkpoint_every=5)
    train = batches(9)
    whole = Trainer(mlp(), objective, cfg, run_dir=tmp_path / "a").fit(train)
    stopped = config(epochs=2, log_every=4, clip_norm=0.5, checkpoint_every=5, max_steps=7)
    assert Trainer(mlp(), objective, stopped, run_dir=tmp_path / "b").fit(train).steps == 7
    resumed = Trainer(mlp(), objective, cfg, run_dir=tmp_path / "b").fit(train, resume=True)
    assert resumed.train_losses == whole.train_losses
    a = (tmp_path / "a" / "metrics.csv").read_text().splitlines()
    b = (tmp_path / "b" / "metrics.csv").read_text().splitlines()
    column = a[0].split(",").index("loss")
    assert [line.split(",")[column] for line in a] == [line.split(",")[column] for line in b]


# --------------------------------------------------------------------------- synchronisations


@pytest.mark.parametrize("clip_norm", [None, 1.0])
def test_steady_state_reads_the_device_once_per_log_interval(reads, clip_norm):
    class Sampler(Callback):  # like the LM task's sample printer: looks at the step, not at the loss
        def on_step_end(self, trainer, step, metrics):
            assert metrics["step"] == step and metrics["count"] == 10

    cfg = config(log_every=50, clip_norm=clip_norm)
    Trainer(nn.Linear(3, 2), objective, cfg, callbacks=[Sampler()]).fit(batches(100))
    assert sum(reads.values()) == 2, dict(reads)  # steps 50 and 100: one device-to-host copy each
    reads.clear()
    Trainer(nn.Linear(3, 2), objective, config(log_every=50, clip_norm=clip_norm)).fit(batches(200))
    assert sum(reads.values()) == 4, dict(reads)

    # the counter sees what a loop reading every step does
    reads.clear()
    model = nn.Linear(3, 2)
    for batch in batches(100):
        objective(model, batch, None).loss.item()
    assert reads["item"] == 100


def test_a_callback_reading_the_loss_reads_it_when_it_asks(reads):
    class LossReader(Callback):
        def __init__(self):
            self.losses = []

        def on_step_end(self, trainer, step, metrics):
            if step % 10 == 0:
                self.losses.append(metrics["loss"])

    reader = LossReader()
    Trainer(nn.Linear(3, 2), objective, config(log_every=1000), callbacks=[reader]).fit(batches(100))
    assert sum(reads.values()) == 10 and len(reader.losses) == 10
    assert all(isinstance(loss, float) for loss in reader.losses)


# --------------------------------------------------------------------------- divergence found at the next read


def nan_at(step, base=objective):
    calls = []

    def poisoned(model, batch, state):
        calls.append(1)
        result = base(model, batch, state)
        if len(calls) == step:
            result.loss = result.loss * math.nan
        return result

    return poisoned


def test_a_nan_loss_is_reported_with_the_step_where_it_first_occurred():
    trainer = Trainer(nn.Linear(3, 2), nan_at(12), config(log_every=10))
    with pytest.raises(TrainingDiverged, match=r"^training diverged: loss is nan at step 12 \(epoch 1, batch 12\); "):
        trainer.fit(batches(30))
    assert trainer.step == 20  # found at the read of step 20, not later

    def inf_gradient(model, batch, state):
        w = model.weight
        return StepResult(torch.sqrt(w - w.detach()).sum(), 1)  # value 0, gradient inf

    trainer = Trainer(nn.Linear(3, 2), inf_gradient, config(clip_norm=1.0, log_every=5))
    with pytest.raises(TrainingDiverged, match=r"gradient norm is inf at step 1 \(epoch 1, batch 1\); no checkpoint"):
        trainer.fit(batches(10))
    assert trainer.step == 5

    trainer = Trainer(nn.Linear(3, 2), nan_at(3), config(log_every=1000))
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 3 \(epoch 1, batch 3\)"):
        trainer.fit(batches(4))  # no log step: found at the end of the epoch


def test_no_checkpoint_or_best_weights_are_written_after_a_bad_step(tmp_path):
    trainer = Trainer(nn.Linear(3, 2), nan_at(6), config(log_every=1000, checkpoint_every=4), run_dir=tmp_path / "c")
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 6 .*last good checkpoint kept at "):
        trainer.fit(batches(10))
    assert trainer.step == 8  # the checkpoint of step 8 read the losses first and was not written
    assert load_checkpoint(tmp_path / "c", nn.Linear(3, 2), ("progress",))[1]["progress"]["step"] == 4

    trainer = Trainer(nn.Linear(3, 2), nan_at(3), config(log_every=1000, eval_every=5), run_dir=tmp_path / "v")
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 3 "):
        trainer.fit(batches(10), batches(2))
    assert trainer.step == 5 and not (tmp_path / "v" / "best").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_no_synchronisation_between_reads_on_cuda():
    """On a GPU, torch itself flags every synchronising call between two reads as an error."""

    class Strict(Callback):
        def on_step_end(self, trainer, step, metrics):
            torch.cuda.set_sync_debug_mode("error" if 3 <= step < 40 else "default")

    device = torch.device("cuda")
    data = [tuple(t.to(device) for t in batch) for batch in batches(50)]
    cfg = config(device="cuda", log_every=1000, clip_norm=1.0)
    try:
        result = Trainer(nn.Linear(3, 2), objective, cfg, callbacks=[Strict()]).fit(data)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert result.steps == 50 and math.isfinite(result.train_losses[0])


def test_read_scalars_keeps_every_value_exact_and_in_order():
    third = torch.tensor(1 / 3)
    tensors = [third, torch.tensor(1 / 3, dtype=torch.float64), torch.tensor(1 / 3, dtype=torch.bfloat16)]
    assert trainer_module._read_scalars(tensors) == [t.item() for t in tensors]
    assert trainer_module._read_scalars([]) == []
    if torch.cuda.is_available():  # scalars on two devices: one copy each, order kept
        mixed = [third, third.cuda() * 2, third * 3, third.cuda() * 4]
        assert trainer_module._read_scalars(mixed) == [t.item() for t in mixed]
