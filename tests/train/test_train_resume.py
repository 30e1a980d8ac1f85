"""A run stopped at any point and resumed equals the uninterrupted run: same losses, bit-identical parameters."""

import csv
import io
import json
import os
import signal

import pytest
from _train_testkit import FailAt, Recorder, Stream, TinyGRU, assert_same_params, make_stream, mse_objective
from torch.utils.data import DataLoader, TensorDataset

from unrolled.train import Callback, TrainConfig, Trainer

TRAIN = make_stream(batches=6, seed=1)
VALID = make_stream(batches=2, seed=7)


def config(**kwargs):
    base = dict(
        epochs=3,
        lr=0.02,
        optimizer="adam",
        carry_state=True,
        checkpoint_every=4,
        log_every=2,
        schedule="step",
        lr_decay=2.0,
        seed=3,
        progress=False,
        plot=False,
        device="cpu",
        checkpoint_on_error=False,  # FailAt's errors play a crash that kills the process before it can save
    )
    base.update(kwargs)
    return TrainConfig(**base)


def run(run_dir, cfg, callbacks=(), resume=False, model_seed=0, objective=mse_objective, data=None, stream=None):
    model = TinyGRU(seed=model_seed)
    recorder = Recorder()
    trainer = Trainer(
        model, objective, cfg, run_dir=run_dir, callbacks=[recorder, *callbacks], progress_file=stream or io.StringIO()
    )
    result = trainer.fit(data if data is not None else Stream(TRAIN), Stream(VALID), resume=resume)
    return model, recorder, result


def metric_rows(run_dir):
    with (run_dir / "metrics.csv").open() as f:
        return [{k: v for k, v in row.items() if k not in ("time", "tokens_per_s")} for row in csv.DictReader(f)]


def assert_resumed_equals_reference(reference, resumed, first_step):
    ref_model, ref_recorder, ref_result = reference
    model, recorder, result = resumed
    assert recorder.steps == ref_recorder.steps[first_step:]
    assert recorder.steps[0][0] == first_step + 1
    assert result.history == ref_result.history
    assert (result.best_valid, result.best_step, result.steps, result.stopped) == (
        ref_result.best_valid,
        ref_result.best_step,
        ref_result.steps,
        ref_result.stopped,
    )
    assert_same_params(model, ref_model)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    cache = {}

    def get(schedule="step"):
        if schedule not in cache:
            run_dir = tmp_path_factory.mktemp(f"ref-{schedule}")
            cache[schedule] = (*run(run_dir, config(schedule=schedule)), run_dir)
        return cache[schedule]

    return get


def test_reference_is_reproducible_and_nontrivial(reference, tmp_path):
    model, recorder, result, _ = reference()
    again = run(tmp_path, config())
    assert again[1].steps == recorder.steps and again[2].history == result.history
    assert_same_params(again[0], model)
    assert len({loss for _, loss in recorder.steps}) == 18  # dropout and updates make every step different
    assert [entry["lr"] for entry in result.history] == [0.02, 0.01, 0.005]


def test_resume_at_an_epoch_boundary(reference, tmp_path):
    *ref, ref_dir = reference()
    with pytest.raises(RuntimeError, match="crash"):
        run(tmp_path, config(), callbacks=[FailAt(7, RuntimeError("crash"))])
    resumed = run(tmp_path, config(), resume=True, model_seed=99)  # weights come from the checkpoint
    assert_resumed_equals_reference(ref, resumed, first_step=6)
    assert metric_rows(tmp_path) == metric_rows(ref_dir)


@pytest.mark.parametrize("schedule", ["step", "plateau"])
def test_resume_mid_epoch_from_checkpoint_every(reference, tmp_path, schedule):
    *ref, ref_dir = reference(schedule)
    with pytest.raises(RuntimeError, match="crash"):
        run(tmp_path, config(schedule=schedule), callbacks=[FailAt(10, RuntimeError("crash"))])
    resumed = run(tmp_path, config(schedule=schedule), resume=True, model_seed=99)
    assert_resumed_equals_reference(ref, resumed, first_step=8)  # checkpoint at step 8 = epoch 2, batch 2
    assert metric_rows(tmp_path) == metric_rows(ref_dir)  # rows written after the checkpoint were dropped


def test_keyboard_interrupt_saves_at_the_current_step_and_resumes_exactly(reference, tmp_path):
    *ref, _ = reference()
    stream = io.StringIO()
    model, recorder, result = run(tmp_path, config(), callbacks=[FailAt(9, KeyboardInterrupt())], stream=stream)
    assert result.stopped == "interrupted" and result.steps == 9
    assert result.checkpoint == tmp_path / "checkpoint"
    message = stream.getvalue().strip()
    assert message == (
        f"interrupted at epoch 2, batch 3 (step 9); checkpoint saved to {tmp_path / 'checkpoint'}; "
        "resume with fit(..., resume=True)"
    )
    resumed = run(tmp_path, config(), resume=True, model_seed=99)
    assert_resumed_equals_reference(ref, resumed, first_step=9)


def test_ctrl_c_signal_stops_after_the_step_and_resumes_exactly(reference, tmp_path):
    *ref, _ = reference()

    class CtrlC(Callback):
        def on_step_end(self, trainer, step, metrics):
            if step == 9:
                os.kill(os.getpid(), signal.SIGINT)

    handler_before = signal.getsignal(signal.SIGINT)
    _, _, result = run(tmp_path, config(), callbacks=[CtrlC()])
    assert signal.getsignal(signal.SIGINT) is handler_before  # restored
    assert result.stopped == "interrupted" and result.steps == 9
    resumed = run(tmp_path, config(), resume=True, model_seed=99)
    assert_resumed_equals_reference(ref, resumed, first_step=9)


def test_interrupt_inside_a_step_resumes_exactly(reference, tmp_path):
    *ref, _ = reference()
    calls = []

    def objective(model, batch, state):
        calls.append(model.training)  # validation uses this objective too
        result = mse_objective(model, batch, state)  # dropout has drawn random numbers already
        if sum(calls) == 10:
            raise KeyboardInterrupt
        return result

    _, _, result = run(tmp_path, config(), objective=objective)
    assert result.stopped == "interrupted" and result.steps == 9
    resumed = run(tmp_path, config(), resume=True, model_seed=99)
    assert_resumed_equals_reference(ref, resumed, first_step=9)


def test_resume_with_a_shuffling_dataloader_skips_to_the_same_batches(tmp_path):
    def loader():
        x, y = TRAIN.reshape(-1, 5, 3)[..., :2], TRAIN.reshape(-1, 5, 3)[..., 2:]
        return DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True)  # no set_epoch / iter_from

    cfg = config(carry_state=False)
    ref = run(tmp_path / "ref", cfg, data=loader())
    with pytest.raises(RuntimeError, match="crash"):
        run(tmp_path / "b", cfg, callbacks=[FailAt(11, RuntimeError("crash"))], data=loader())
    resumed = run(tmp_path / "b", cfg, resume=True, model_seed=99, data=loader())
    assert_resumed_equals_reference(ref, resumed, first_step=8)


def test_set_epoch_is_called_with_each_epoch_also_after_resuming(tmp_path):
    data = Stream(TRAIN)
    with pytest.raises(RuntimeError, match="crash"):
        run(tmp_path, config(), callbacks=[FailAt(10, RuntimeError("crash"))], data=data)
    assert data.epochs_seen == [0, 1]
    data = Stream(TRAIN)
    run(tmp_path, config(), resume=True, data=data)
    assert data.epochs_seen == [1, 2]


def test_resume_of_a_finished_run_does_nothing_more(reference, tmp_path):
    run(tmp_path, config())
    model, recorder, result = run(tmp_path, config(), resume=True, model_seed=99)
    ref_model, _, ref_result, _ = reference()
    assert recorder.steps == [] and result.history == ref_result.history
    assert_same_params(model, ref_model)
    # and a longer run continues from the end of the shorter one
    longer = run(tmp_path, config(epochs=4), resume=True, model_seed=99)
    assert longer[2].epochs == 4 and [s for s, _ in longer[1].steps] == list(range(19, 25))


def test_an_error_in_a_callback_saves_the_last_completed_step_and_resumes_exactly(reference, tmp_path):
    *ref, ref_dir = reference()
    stream = io.StringIO()
    with pytest.raises(RuntimeError, match="sampling failed"):
        run(
            tmp_path,
            config(checkpoint_on_error=True),
            callbacks=[FailAt(7, RuntimeError("sampling failed"))],
            stream=stream,
        )
    progress = json.loads((tmp_path / "checkpoint" / "progress.json").read_text())["tree"]
    assert (progress["step"], progress["epoch"], progress["batch"]) == (7, 1, 1)  # not the step-4/6 checkpoints
    assert "stopped by an error at epoch 2, batch 1 (step 7); checkpoint saved to" in stream.getvalue()
    resumed = run(tmp_path, config(checkpoint_on_error=True), resume=True, model_seed=99)
    assert_resumed_equals_reference(ref, resumed, first_step=7)


def test_an_error_inside_a_step_is_abandoned_and_the_previous_step_saved(reference, tmp_path):
    *ref, ref_dir = reference()
    calls = {"n": 0}

    def failing(model, batch, state):
        calls["n"] += 1
        if calls["n"] == 6:  # the 6th step raises after its dropout draws
            model(batch[0], state)
            raise RuntimeError("bad batch")
        return mse_objective(model, batch, state)

    with pytest.raises(RuntimeError, match="bad batch"):
        run(tmp_path, config(checkpoint_on_error=True, checkpoint_every=None), objective=failing)
    progress = json.loads((tmp_path / "checkpoint" / "progress.json").read_text())["tree"]
    assert progress["step"] == 5
    resumed = run(tmp_path, config(checkpoint_on_error=True, checkpoint_every=None), resume=True, model_seed=99)
    assert_resumed_equals_reference(ref, resumed, first_step=5)
