import copy
import csv
import io
import json
import math
import sys
from dataclasses import dataclass

import pytest
import torch
from _train_testkit import Recorder, Stream, TinyGRU, make_stream, mse_objective, params_of
from torch import nn

from unrolled.train import (
    Callback,
    CheckpointError,
    StepResult,
    TrainConfig,
    Trainer,
    TrainingDiverged,
    load_checkpoint,
    load_model_weights,
    weight_penalty,
)
from unrolled.train.batches import move_to_device


def config(**kwargs):
    base = dict(epochs=1, lr=0.05, optimizer="sgd", progress=False, plot=False, device="cpu")
    base.update(kwargs)
    return TrainConfig(**base)


def linear_batches(n=3, rows=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(rows, 3, generator=generator), torch.randn(rows, 2, generator=generator)) for _ in range(n)]


def linear_objective(model, batch, state):
    x, y = batch
    return StepResult(((model(x) - y) ** 2).mean(), y.numel())


class Scripted:
    """Evaluation objective returning scripted losses, one per call."""

    def __init__(self, losses):
        self.losses = list(losses)
        self.calls = 0

    def __call__(self, model, batch, state):
        loss = self.losses[self.calls]
        self.calls += 1
        return StepResult(torch.tensor(loss, dtype=torch.float64), 1)


class GradTaker(Callback):
    def __init__(self):
        self.grads = []
        self.params = []
        self.metrics = []

    def on_step_end(self, trainer, step, metrics):
        self.grads.append({n: p.grad.clone() for n, p in trainer.model.named_parameters()})
        self.params.append(params_of(trainer.model))
        self.metrics.append(metrics)


def manual_grads(model, batch, objective=linear_objective, state=None):
    model = copy.deepcopy(model)
    model.zero_grad()
    objective(model, batch, state).loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters()}


# --------------------------------------------------------------------------- clipping and penalties


def test_clip_norm_rescales_to_the_expected_global_norm_and_reports_the_unclipped_norm():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    batch = linear_batches(1)[0]
    before = params_of(model)
    g = manual_grads(model, batch)
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in g.values()])).item()
    assert norm > 0.1
    taker = GradTaker()
    Trainer(model, linear_objective, config(lr=1.0, clip_norm=0.1), callbacks=[taker]).fit([batch])
    update = {n: before[n] - model.state_dict()[n] for n in before}
    update_norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in update.values()]))
    assert update_norm.item() == pytest.approx(0.1, rel=1e-5)
    for n in g:
        torch.testing.assert_close(update[n], g[n] * (0.1 / norm), rtol=1e-5, atol=1e-7)
    assert taker.metrics[0]["grad_norm"] == pytest.approx(norm, rel=1e-6)


def test_clip_norm_above_the_norm_leaves_gradients_untouched_and_clip_value_clamps_elementwise():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    batch = linear_batches(1)[0]
    g = manual_grads(model, batch)
    taker = GradTaker()
    Trainer(model, linear_objective, config(lr=1.0, clip_norm=1e6), callbacks=[taker]).fit([batch])
    for n in g:
        assert torch.equal(taker.grads[0][n], g[n])

    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    g = manual_grads(model, batch)
    limit = 0.5 * max(t.abs().max().item() for t in g.values())
    before = params_of(model)
    taker = GradTaker()
    Trainer(model, linear_objective, config(lr=1.0, clip_value=limit), callbacks=[taker]).fit([batch])
    for n in g:
        expected = g[n].clamp(-limit, limit)
        assert torch.equal(taker.grads[0][n], expected)
        assert torch.equal(model.state_dict()[n], before[n] - expected)
    assert any((t.abs() > limit).any() for t in g.values())  # the clamp did something


def test_l1_and_l2_penalties_add_exactly_lambda_sign_w_and_2_lambda_w_to_weight_matrices_only():
    torch.manual_seed(0)
    batch = linear_batches(1)[0]

    def zero_objective(model, batch, state):  # data gradient exactly zero
        return StepResult((model(batch[0]) * 0.0).sum(), 1)

    for l1, l2 in ((0.01, 0.0), (0.0, 0.02)):
        model = nn.Linear(3, 2)
        w = model.weight.detach().clone()
        taker = GradTaker()
        Trainer(model, zero_objective, config(l1=l1, l2=l2), callbacks=[taker]).fit([batch])
        expected = l1 * torch.sign(w) if l1 else 2 * l2 * w
        assert torch.equal(taker.grads[0]["weight"], expected)
        assert torch.equal(taker.grads[0]["bias"], torch.zeros(2))  # vectors are not penalised
        assert taker.metrics[0]["loss"] == 0.0  # reported loss excludes the penalty

    # with a real data loss, the penalty gradient adds to the data gradient
    model = nn.Linear(3, 2)
    data_grad = manual_grads(model, batch)
    w = model.weight.detach().clone()
    taker = GradTaker()
    Trainer(model, linear_objective, config(l1=0.01, l2=0.02), callbacks=[taker]).fit([batch])
    torch.testing.assert_close(
        taker.grads[0]["weight"], data_grad["weight"] + 0.01 * torch.sign(w) + 0.04 * w, rtol=0, atol=1e-7
    )
    assert torch.equal(taker.grads[0]["bias"], data_grad["bias"])


def test_weight_penalty_value():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 0.0]]))
        model[1].weight.copy_(torch.tensor([[-3.0, 1.0]]))
    assert weight_penalty(model, 0.0, 0.0) is None
    assert weight_penalty(model, 0.5, 0.0).item() == 0.5 * (3.5 + 4.0)
    assert weight_penalty(model, 0.0, 0.25).item() == 0.25 * (1 + 4 + 0.25 + 9 + 1)


# --------------------------------------------------------------------------- schedules and stopping


def lrs_used(result):
    return [entry["lr"] for entry in result.history]


def test_plateau_divides_lr_by_lr_decay_exactly_after_each_non_improving_validation():
    cfg = config(epochs=6, lr=1.0, schedule="plateau", lr_decay=4.0)
    trainer = Trainer(nn.Linear(3, 2), linear_objective, cfg, eval_objective=Scripted([3, 2, 2.5, 1, 1.5, 1.6]))
    result = trainer.fit(linear_batches(2), valid_data=[None])
    assert lrs_used(result) == [1.0, 1.0, 1.0, 0.25, 0.25, 0.0625]
    assert trainer.lr == 0.015625
    assert result.valid_losses == [3, 2, 2.5, 1, 1.5, 1.6]

    cfg = config(epochs=5, lr=1.0, schedule="plateau", lr_decay=4.0, lr_patience=1)
    trainer = Trainer(nn.Linear(3, 2), linear_objective, cfg, eval_objective=Scripted([3, 2, 2.5, 2.6, 2.7]))
    assert lrs_used(trainer.fit(linear_batches(2), valid_data=[None])) == [1.0, 1.0, 1.0, 1.0, 0.25]

    cfg = config(epochs=3, lr=1.0, schedule="plateau", lr_decay=2.0, min_delta=0.5)
    trainer = Trainer(nn.Linear(3, 2), linear_objective, cfg, eval_objective=Scripted([3, 2.6, 2.0]))
    trainer.fit(linear_batches(2), valid_data=[None])
    assert trainer.lr == 0.5  # 2.6 is not better than 3 by more than 0.5; 2.0 is


def test_early_stopping_stops_at_the_expected_epoch_and_keeps_the_best_weights(tmp_path):
    cfg = config(epochs=10, early_stopping_patience=3)
    recorder = Recorder()

    class SaveParams(Callback):
        snapshots = {}

        def on_epoch_end(self, trainer, epoch, metrics):
            self.snapshots[epoch] = params_of(trainer.model)

    saver = SaveParams()
    model = nn.Linear(3, 2)
    trainer = Trainer(
        model,
        linear_objective,
        cfg,
        run_dir=tmp_path,
        eval_objective=Scripted([3, 2, 2.5, 2.4, 2.3, 1.0]),
        callbacks=[recorder, saver],
    )
    result = trainer.fit(linear_batches(2), valid_data=[None])
    assert result.stopped == "early_stopping"
    assert result.epochs == 5 and len(result.history) == 5 and result.steps == 10
    assert result.best_valid == 2 and result.best_step == 4
    best = nn.Linear(3, 2)
    load_model_weights(best, tmp_path / "best" / "model.safetensors")
    for name, tensor in best.state_dict().items():
        assert torch.equal(tensor, saver.snapshots[2][name])
    assert json.loads((tmp_path / "best" / "meta.json").read_text()) == {"step": 4, "epoch": 2, "valid_loss": 2}

    # min_delta: improvements smaller than it count as bad evaluations
    cfg = config(epochs=10, early_stopping_patience=2, min_delta=0.1)
    trainer = Trainer(nn.Linear(3, 2), linear_objective, cfg, eval_objective=Scripted([3, 2, 1.95, 1.9, 0.1]))
    result = trainer.fit(linear_batches(2), valid_data=[None])
    assert (result.stopped, result.epochs, result.best_valid) == ("early_stopping", 4, 2)


def test_eval_every_steps_and_early_stopping_mid_epoch():
    cfg = config(epochs=5, eval_every=2, early_stopping_patience=2)
    recorder = Recorder()
    trainer = Trainer(
        nn.Linear(3, 2), linear_objective, cfg, eval_objective=Scripted([5, 4, 4.5, 4.6]), callbacks=[recorder]
    )
    result = trainer.fit(linear_batches(3), valid_data=[None])
    assert [step for step, _ in recorder.evals] == [2, 4, 6, 8]
    assert result.stopped == "early_stopping" and result.steps == 8 and result.epochs == 2
    assert result.history[0]["valid_loss"] == 5 and result.history[1]["valid_loss"] == 4.5


def test_max_steps_and_request_stop():
    result = Trainer(nn.Linear(3, 2), linear_objective, config(epochs=5, max_steps=4)).fit(linear_batches(3))
    assert (result.stopped, result.steps, result.epochs) == ("max_steps", 4, 1)
    # reaching max_steps on an epoch's last batch still closes the epoch
    result = Trainer(nn.Linear(3, 2), linear_objective, config(epochs=5, max_steps=6)).fit(linear_batches(3))
    assert (result.stopped, result.steps, result.epochs, len(result.history)) == ("max_steps", 6, 2, 2)

    class StopAt3(Callback):
        events = []

        def on_fit_start(self, trainer):
            self.events.append("start")

        def on_step_end(self, trainer, step, metrics):
            if step == 3:
                trainer.request_stop()

        def on_fit_end(self, trainer, result):
            self.events.append(result.stopped)

    stopper = StopAt3()
    result = Trainer(nn.Linear(3, 2), linear_objective, config(epochs=5), callbacks=[stopper]).fit(linear_batches(2))
    assert (result.stopped, result.steps) == ("requested", 3)
    assert stopper.events == ["start", "requested"]


# --------------------------------------------------------------------------- divergence


def test_nan_loss_raises_at_the_next_read_naming_its_step_and_keeps_the_last_good_checkpoint(tmp_path):
    calls = []

    def objective(model, batch, state):
        calls.append(1)
        result = linear_objective(model, batch, state)
        if len(calls) == 5:
            result.loss = result.loss * math.nan
        return result

    taker = GradTaker()
    model = nn.Linear(3, 2)
    trainer = Trainer(model, objective, config(epochs=3), run_dir=tmp_path, callbacks=[taker])
    with pytest.raises(TrainingDiverged, match=r"training diverged: loss is nan at step 5 \(epoch 2, batch 2\); ") as e:
        trainer.fit(linear_batches(3))
    assert "last good checkpoint kept at" in str(e.value) and str(tmp_path / "checkpoint") in str(e.value)
    assert "\n" not in str(e.value)
    # the losses are read at the end of the epoch (no per-step synchronisation): steps 5 and 6 were taken
    assert trainer.step == 6 and len(taker.params) == 6
    assert all(torch.isnan(tensor).all() for tensor in model.state_dict().values())
    restored = nn.Linear(3, 2)
    _, parts = load_checkpoint(tmp_path, restored, ("progress",))
    assert parts["progress"]["step"] == 3  # the epoch-1 checkpoint, not overwritten
    for name, tensor in restored.state_dict().items():
        assert torch.equal(tensor, taker.params[2][name])


def test_infinite_gradient_norm_raises_when_clipping():
    def objective(model, batch, state):
        w = model.weight
        return StepResult(torch.sqrt(w - w.detach()).sum(), 1)  # value 0, gradient inf

    trainer = Trainer(nn.Linear(3, 2), objective, config(clip_norm=1.0))
    with pytest.raises(TrainingDiverged, match=r"gradient norm is inf at step 1 \(epoch 1, batch 1\); no checkpoint"):
        trainer.fit(linear_batches(1))


# --------------------------------------------------------------------------- truncated BPTT


class StateSpy:
    """Objective wrapper that records the state passed in and the state returned."""

    def __init__(self, objective=mse_objective):
        self.objective = objective
        self.inputs = []
        self.outputs = []

    def __call__(self, model, batch, state):
        self.inputs.append(state)
        result = self.objective(model, batch, state)
        self.outputs.append(result.state)
        return result


@dataclass
class FlaggedBatch:
    x: torch.Tensor
    y: torch.Tensor
    carry: bool = True


def flagged_objective(model, batch, state):
    return mse_objective(model, (batch.x, batch.y), state)


def test_carry_state_passes_the_detached_state_and_resets_each_epoch_and_on_carry_false():
    chunks = make_stream(batches=3)
    spy = StateSpy()
    Trainer(TinyGRU(dropout=0.0), spy, config(epochs=2, carry_state=True)).fit(Stream(chunks))
    assert spy.inputs[0] is None and spy.inputs[3] is None  # each epoch starts from zeros
    for k in (1, 2, 4, 5):
        assert spy.inputs[k].grad_fn is None and not spy.inputs[k].requires_grad
        assert torch.equal(spy.inputs[k], spy.outputs[k - 1].detach())
        assert spy.outputs[k - 1].grad_fn is not None
    spy = StateSpy()
    Trainer(TinyGRU(dropout=0.0), spy, config(epochs=1, carry_state=False)).fit(Stream(chunks))
    assert spy.inputs == [None, None, None]

    spy = StateSpy(flagged_objective)
    batches = [FlaggedBatch(c[..., :2], c[..., 2:], carry) for c, carry in zip(chunks, (True, True, False))]
    Trainer(TinyGRU(dropout=0.0), spy, config(carry_state=True)).fit(batches)
    assert spy.inputs[0] is None and spy.inputs[1] is not None and spy.inputs[2] is None


def test_gradient_of_batch_two_stops_at_the_batch_boundary():
    chunks = make_stream(batches=2)
    model = TinyGRU(dropout=0.0)
    hook_calls = []

    def objective(model, batch, state):
        result = mse_objective(model, batch, state)
        result.state.register_hook(lambda grad: hook_calls.append(grad))
        return result

    taker = GradTaker()
    Trainer(model, objective, config(carry_state=True), callbacks=[taker]).fit(Stream(chunks))
    assert hook_calls == []  # no gradient ever reached a returned (batch-1) state
    # the gradient of batch 2 is exactly the gradient from the detached state with the step-1 parameters
    before_step_2 = TinyGRU(dropout=0.0)
    before_step_2.load_state_dict(taker.params[0])
    x1 = chunks[0][..., :2]
    h1 = TinyGRU(dropout=0.0).rnn(x1)[1].detach()  # batch 1 ran with the initial parameters
    expected = manual_grads(before_step_2, (chunks[1][..., :2], chunks[1][..., 2:]), mse_objective, h1)
    for name, grad in expected.items():
        assert torch.equal(taker.grads[1][name], grad), name
    # control: without the detach the same backward would reach the batch-1 state
    h1_graph = TinyGRU(dropout=0.0).rnn(x1)[1]
    h1_graph.register_hook(lambda grad: hook_calls.append(grad))
    mse_objective(before_step_2, (chunks[1][..., :2], chunks[1][..., 2:]), h1_graph).loss.backward()
    assert len(hook_calls) == 1


def test_one_chunk_covering_the_sequence_equals_full_bptt():
    chunks = make_stream(batches=1, steps=12)
    model = TinyGRU(dropout=0.0)
    full = manual_grads(model, (chunks[0][..., :2], chunks[0][..., 2:]), mse_objective)
    taker = GradTaker()
    Trainer(model, mse_objective, config(carry_state=True), callbacks=[taker]).fit(Stream(chunks))
    for name, grad in full.items():
        assert torch.equal(taker.grads[0][name], grad), name
    # and splitting the same sequence into two carried chunks gives a different (truncated) gradient
    halves = torch.stack([chunks[0][:, :6], chunks[0][:, 6:]])
    taker_split = GradTaker()
    Trainer(TinyGRU(dropout=0.0), mse_objective, config(lr=1e-30, carry_state=True), callbacks=[taker_split]).fit(
        Stream(halves)
    )
    summed = taker_split.grads[0]["rnn.weight_hh_l0"] / 2 + taker_split.grads[1]["rnn.weight_hh_l0"] / 2
    assert not torch.allclose(summed, full["rnn.weight_hh_l0"], atol=1e-6)


# --------------------------------------------------------------------------- evaluation


def test_evaluate_is_the_exact_count_weighted_mean_in_eval_mode_without_grad():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.5))
    batches = [(torch.randn(rows, 3), torch.randn(rows, 2)) for rows in (1, 4, 7)]
    seen = []

    def objective(model, batch, state):
        seen.append((model.training, torch.is_grad_enabled()))
        return linear_objective(model, batch, state)

    trainer = Trainer(model, objective, config())
    loss = trainer.evaluate(batches)
    model.eval()
    with torch.no_grad():
        parts = [(((model(x) - y) ** 2).mean().item(), y.numel()) for x, y in batches]
    assert loss == sum(value * count for value, count in parts) / sum(count for _, count in parts)
    assert seen == [(False, False)] * 3
    with pytest.raises(ValueError, match="evaluate: expected data with at least one batch, got none"):
        trainer.evaluate([])


def test_one_shot_iterators_are_refused_in_the_second_epoch():
    trainer = Trainer(nn.Linear(3, 2), linear_objective, config(epochs=2))
    with pytest.raises(ValueError, match=r"train data yielded no batches in epoch 2; expected a re-iterable"):
        trainer.fit(iter(linear_batches(2)))
    assert trainer.step == 2 and trainer.epoch == 1


def test_objective_must_return_a_step_result():
    trainer = Trainer(nn.Linear(3, 2), lambda m, b, s: 1.0, config())
    with pytest.raises(TypeError, match=r"objective must return a StepResult\(loss, count, state\), got float"):
        trainer.fit(linear_batches(1))


def test_objective_evaluate_batch_is_used_for_validation():
    class WithEval:
        def __call__(self, model, batch, state):
            return linear_objective(model, batch, state)

        def evaluate_batch(self, model, batch, state):
            return StepResult(torch.tensor(42.0), 1)

    assert Trainer(nn.Linear(3, 2), WithEval(), config()).evaluate(linear_batches(2)) == 42.0


# --------------------------------------------------------------------------- outputs


def read_rows(path):
    if path.suffix == ".csv":
        with path.open() as f:
            return list(csv.DictReader(f))
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_metrics_file_rows(tmp_path, fmt):
    recorder = Recorder()
    cfg = config(epochs=2, log_every=2, metric="ppl", metrics_format=fmt)
    extra = {"model": {"hidden": 4}, "data": {"path": "x.txt"}}
    trainer = Trainer(
        nn.Linear(3, 2), linear_objective, cfg, run_dir=tmp_path, callbacks=[recorder], extra_config=extra
    )
    result = trainer.fit(linear_batches(4), valid_data=linear_batches(2, seed=5))
    rows = read_rows(tmp_path / f"metrics.{fmt}")
    assert [(int(r["step"]), int(r["epoch"]), r["split"]) for r in rows] == [
        (2, 1, "train"),
        (4, 1, "train"),
        (4, 1, "valid"),
        (4, 1, "train_epoch"),
        (6, 2, "train"),
        (8, 2, "train"),
        (8, 2, "valid"),
        (8, 2, "train_epoch"),
    ]
    losses = [loss for _, loss in recorder.steps]
    count = 8
    expected = {
        0: (losses[0] * count + losses[1] * count) / (2 * count),
        2: recorder.evals[0][1],
        3: result.history[0]["train_loss"],
        6: recorder.evals[1][1],
    }
    for index, loss in expected.items():
        assert float(rows[index]["loss"]) == loss
        assert float(rows[index]["metric"]) == math.exp(loss)
        assert float(rows[index]["lr"]) == 0.05
    assert result.history[0]["train_loss"] == sum(loss * count for loss in losses[:4]) / (4 * count)
    assert float(rows[0]["grad_norm"]) > 0 and float(rows[0]["tokens_per_s"]) > 0
    assert rows[2]["grad_norm"] in ("", None)
    times = [float(r["time"]) for r in rows]
    assert times == sorted(times)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert TrainConfig.from_dict(saved.pop("train")) == cfg and saved == extra


def test_loss_png_written_at_epoch_end(tmp_path):
    snapshots = []

    class Peek(Callback):
        def on_epoch_end(self, trainer, epoch, metrics):
            png = tmp_path / "loss.png"
            snapshots.append(png.read_bytes() if png.exists() else None)

    cfg = config(epochs=2, log_every=1, plot=True)
    Trainer(nn.Linear(3, 2), linear_objective, cfg, run_dir=tmp_path, callbacks=[Peek()]).fit(
        linear_batches(3), linear_batches(1)
    )
    data = (tmp_path / "loss.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert snapshots[0] is None and snapshots[1][:8] == b"\x89PNG\r\n\x1a\n"  # epoch 1 drew it before epoch 2
    assert not list(tmp_path.glob("*.tmp"))
    Trainer(nn.Linear(3, 2), linear_objective, config(plot=False), run_dir=tmp_path / "b").fit(linear_batches(1))
    assert not (tmp_path / "b" / "loss.png").exists()


def test_progress_bar_shows_metric_and_is_silent_when_disabled():
    stream = io.StringIO()
    cfg = config(epochs=2, progress=True, metric="bpc", log_every=1)
    Trainer(nn.Linear(3, 2), linear_objective, cfg, progress_file=stream).fit(linear_batches(3))
    text = stream.getvalue()
    assert "epoch 1/2" in text and "epoch 2/2" in text and "3/3" in text
    assert "loss=" in text and "bpc=" in text and "tok/s=" in text and "gnorm=" in text and "lr=0.05" in text
    stream = io.StringIO()
    Trainer(nn.Linear(3, 2), linear_objective, config(), progress_file=stream).fit(linear_batches(3))
    assert stream.getvalue() == ""


def test_tensorboard_missing_gives_an_install_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # makes the import fail
    trainer = Trainer(nn.Linear(3, 2), linear_objective, config(tensorboard=True), run_dir=tmp_path)
    with pytest.raises(ImportError, match=r"tensorboard=True needs the tensorboard package: pip install tensorboard"):
        trainer.fit(linear_batches(1))


def test_trainer_argument_errors(tmp_path):
    model = nn.Linear(3, 2)
    with pytest.raises(TypeError, match="expected model to be a torch.nn.Module, got str"):
        Trainer("model", linear_objective, config())
    with pytest.raises(TypeError, match="expected objective to be callable"):
        Trainer(model, None, config())
    with pytest.raises(TypeError, match="expected config to be a TrainConfig, got dict"):
        Trainer(model, linear_objective, {"lr": 1})
    with pytest.raises(ValueError, match="extra_config must not have a 'train' section"):
        Trainer(model, linear_objective, config(), extra_config={"train": {}})
    with pytest.raises(TypeError, match="extra_config must be JSON-serializable"):
        Trainer(model, linear_objective, config(), extra_config={"model": object()})
    with pytest.raises(ValueError, match="tensorboard and checkpoint_every need a run_dir"):
        Trainer(model, linear_objective, config(checkpoint_every=5))
    frozen = nn.Linear(3, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="the model has no trainable parameters"):
        Trainer(frozen, linear_objective, config())
    with pytest.raises(ValueError, match=r"schedule='plateau' / early_stopping_patience need valid_data"):
        Trainer(model, linear_objective, config(schedule="plateau")).fit(linear_batches(1))
    with pytest.raises(ValueError, match=r"Trainer.resume: expected a run_dir"):
        Trainer(model, linear_objective, config()).resume()
    with pytest.raises(FileNotFoundError, match=r"no checkpoint in"):
        Trainer(model, linear_objective, config(), run_dir=tmp_path).fit(linear_batches(1), resume=True)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"TrainConfig.device='cuda' but CUDA is not available"):
            Trainer(model, linear_objective, config(device="cuda"))


def test_resume_rejects_a_checkpoint_of_another_model_or_optimizer(tmp_path):
    Trainer(nn.Linear(3, 2), linear_objective, config(), run_dir=tmp_path).fit(linear_batches(1))
    with pytest.raises(CheckpointError, match=r"model.safetensors: parameter 'weight' has shape \(2, 3\) in the file"):
        Trainer(nn.Linear(4, 2), linear_objective, config(), run_dir=tmp_path).resume()
    with pytest.raises(CheckpointError, match=r"optimizer.json: saved for optimizer 'sgd', but TrainConfig.optimizer"):
        Trainer(nn.Linear(3, 2), linear_objective, config(optimizer="adam"), run_dir=tmp_path).resume()
    with pytest.raises(CheckpointError, match=r"scheduler.json: saved for schedule 'constant', but TrainConfig.sch"):
        Trainer(nn.Linear(3, 2), linear_objective, config(schedule="cosine"), run_dir=tmp_path).resume()

    class TwoGroups(nn.Module):  # same names and shapes, but two parameters instead of one per group entry
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(2, 3))
            self.bias = nn.Parameter(torch.zeros(2))

    model = TwoGroups()
    trainer = Trainer(model, linear_objective, config(), run_dir=tmp_path)
    trainer.optimizer.add_param_group({"params": [nn.Parameter(torch.zeros(1))]})
    with pytest.raises(CheckpointError, match=r"optimizer.json: does not match this optimizer \(loaded state dict"):
        trainer.resume()


def test_move_to_device_handles_containers_and_dataclasses():
    batch = {"a": (torch.ones(1), [torch.zeros(2)]), "b": FlaggedBatch(torch.ones(1), torch.ones(1), False), "c": 3}
    moved = move_to_device(batch, torch.device("cpu"))
    assert torch.equal(moved["a"][1][0], torch.zeros(2)) and moved["b"].carry is False and moved["c"] == 3


def test_move_to_device_lets_a_batch_decide_what_moves():
    from unrolled.data.padded import PaddedBatch
    from unrolled.train.batches import move_to_device

    batch = PaddedBatch(torch.tensor([[1, 2], [3, 0]]), torch.tensor([2, 1]), torch.tensor([0, 1]))
    moved = move_to_device(batch, torch.device("meta"))
    assert moved.inputs.device.type == "meta"
    assert moved.lengths.device.type == "cpu" and moved.lengths.tolist() == [2, 1]  # as pack_padded_sequence wants
    assert moved.indices.device.type == "cpu" and moved.indices.tolist() == [0, 1]


def test_resolve_device_and_checkpoint_on_error_is_checked():
    from unrolled.train import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == (torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu"))
    with pytest.raises(ValueError, match="TrainConfig.checkpoint_on_error: expected true or false, got 1"):
        TrainConfig(checkpoint_on_error=1)


def test_checkpoint_files_have_the_normal_permissions(tmp_path):
    import os

    from unrolled.train.checkpoint import save_checkpoint

    old = os.umask(0o027)
    try:
        folder = save_checkpoint(tmp_path, nn.Linear(2, 2), {"progress": {"step": torch.tensor(3)}})
    finally:
        os.umask(old)
    assert folder.stat().st_mode & 0o777 == 0o750
    assert {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()} == {
        "digests.json": 0o640,
        "model.safetensors": 0o640,
        "progress.json": 0o640,
        "progress.safetensors": 0o640,
    }
