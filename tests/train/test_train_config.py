import json
import math

import pytest
import torch

from unrolled.train import (
    OPTIMIZERS,
    SCHEDULES,
    StepResult,
    TrainConfig,
    build_optimizer,
    build_schedule,
    metric_value,
)
from unrolled.train.ntasgd import NTASGD


def test_round_trip_through_json_is_identity():
    cfg = TrainConfig(
        epochs=13,
        max_steps=1000,
        lr=1.0,
        optimizer="sgd",
        momentum=0.9,
        betas=(0.8, 0.95),
        clip_norm=5.0,
        clip_value=1.0,
        l1=1e-5,
        l2=1e-4,
        schedule="step",
        lr_decay=2.0,
        lr_decay_start=4,
        early_stopping_patience=3,
        carry_state=True,
        eval_every=100,
        checkpoint_every=50,
        metric="ppl",
        metrics_format="jsonl",
        device="cpu",
    )
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert again.betas == (0.8, 0.95) and isinstance(again.betas, tuple)
    assert TrainConfig.from_dict({}) == TrainConfig()


def test_from_dict_rejects_unknown_key_naming_it_and_listing_valid_ones():
    with pytest.raises(
        ValueError, match=r"unknown TrainConfig key 'learning_rate'; valid keys: epochs, max_steps, max_time, lr,"
    ):
        TrainConfig.from_dict({"learning_rate": 0.1})
    with pytest.raises(TypeError, match="expected a mapping, got list"):
        TrainConfig.from_dict([("lr", 0.1)])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, r"TrainConfig.epochs: expected an int >= 1, got 0"),
        ({"epochs": 2.0}, r"TrainConfig.epochs: expected an int >= 1, got 2.0"),
        ({"max_steps": 0}, r"TrainConfig.max_steps: expected an int >= 1"),
        ({"lr": 0}, r"TrainConfig.lr: expected a finite number > 0.0, got 0"),
        ({"lr": math.nan}, r"TrainConfig.lr: expected a finite number > 0.0, got nan"),
        ({"lr": True}, r"TrainConfig.lr: expected a finite number"),
        ({"optimizer": "lbfgs"}, r"TrainConfig.optimizer: expected one of sgd, adam, adamw, adagrad, rmsprop"),
        ({"momentum": -0.1}, r"TrainConfig.momentum: expected a finite number >= 0.0"),
        ({"betas": (0.9,)}, r"TrainConfig.betas: expected two numbers in \[0, 1\)"),
        ({"betas": (0.9, 1.0)}, r"TrainConfig.betas: expected two numbers in \[0, 1\)"),
        ({"clip_norm": 0.0}, r"TrainConfig.clip_norm: expected a finite number > 0.0"),
        ({"clip_value": -1}, r"TrainConfig.clip_value: expected a finite number > 0.0"),
        ({"l1": -1e-3}, r"TrainConfig.l1: expected a finite number >= 0.0"),
        ({"l2": "0.1"}, r"TrainConfig.l2: expected a finite number"),
        ({"schedule": "linear"}, r"TrainConfig.schedule: expected one of constant, step, cosine, plateau"),
        ({"lr_decay": 1.0}, r"TrainConfig.lr_decay: expected a finite number > 1.0"),
        ({"lr_step_epochs": 0}, r"TrainConfig.lr_step_epochs: expected an int >= 1"),
        ({"lr_decay_start": -1}, r"TrainConfig.lr_decay_start: expected an int >= 0"),
        ({"lr_patience": -1}, r"TrainConfig.lr_patience: expected an int >= 0"),
        ({"min_lr": 1.0, "lr": 0.1}, r"TrainConfig.min_lr: expected at most lr=0.1, got 1.0"),
        ({"early_stopping_patience": 0}, r"TrainConfig.early_stopping_patience: expected an int >= 1"),
        ({"seed": -1}, r"TrainConfig.seed: expected an int >= 0"),
        ({"carry_state": 1}, r"TrainConfig.carry_state: expected true or false, got 1"),
        ({"log_every": 0}, r"TrainConfig.log_every: expected an int >= 1"),
        ({"eval_every": "step"}, r"TrainConfig.eval_every: expected 'epoch' or an int >= 1, got 'step'"),
        ({"checkpoint_every": 0}, r"TrainConfig.checkpoint_every: expected an int >= 1"),
        ({"metric": "acc"}, r"TrainConfig.metric: expected one of loss, ppl, bpc, got 'acc'"),
        ({"metrics_format": "tsv"}, r"TrainConfig.metrics_format: expected one of csv, jsonl"),
        ({"progress": "yes"}, r"TrainConfig.progress: expected true or false"),
        ({"device": "gpu"}, r"TrainConfig.device: expected cpu, cuda, cuda:N or auto, got 'gpu'"),
    ],
)
def test_invalid_fields_give_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        TrainConfig(**kwargs)
    assert "\n" not in str(info.value)


def test_optimizer_registry_builds_each_class_with_the_config_values():
    params = [torch.nn.Parameter(torch.zeros(2, 2))]
    expected = {
        "sgd": (torch.optim.SGD, {"lr": 0.5, "momentum": 0.9, "weight_decay": 0.01}),
        "adam": (torch.optim.Adam, {"lr": 0.5, "betas": (0.8, 0.9), "weight_decay": 0.01}),
        "adamw": (torch.optim.AdamW, {"lr": 0.5, "betas": (0.8, 0.9), "weight_decay": 0.01}),
        "adagrad": (torch.optim.Adagrad, {"lr": 0.5, "weight_decay": 0.01}),
        "rmsprop": (torch.optim.RMSprop, {"lr": 0.5, "alpha": 0.9, "momentum": 0.9, "weight_decay": 0.01}),
        "ntasgd": (NTASGD, {"lr": 0.5, "weight_decay": 0.01, "averaging": False}),
    }
    assert set(expected) == set(OPTIMIZERS)
    for name, (cls, values) in expected.items():
        cfg = TrainConfig(optimizer=name, lr=0.5, momentum=0.9, weight_decay=0.01, betas=(0.8, 0.9))
        optimizer = build_optimizer(params, cfg)
        assert type(optimizer) is cls
        for key, value in values.items():
            assert optimizer.param_groups[0][key] == value, (name, key)


def _lrs_after_epochs(cfg, epochs):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    schedule = build_schedule(optimizer, cfg)
    lrs = []
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # no gradients: a no-op, but keeps torch's "step before scheduler" check quiet
        schedule.on_epoch_end()
    return lrs


def test_step_schedule_follows_zaremba_small_config():
    # lr 1 for 4 epochs, then halved after every epoch (Zaremba et al. 2014, small PTB model)
    cfg = TrainConfig(lr=1.0, schedule="step", lr_decay=2.0, lr_decay_start=4, lr_step_epochs=1)
    assert _lrs_after_epochs(cfg, 7) == [1.0, 1.0, 1.0, 1.0, 0.5, 0.25, 0.125]
    # default start = lr_step_epochs, like torch StepLR(step_size=2, gamma=1/4)
    cfg = TrainConfig(lr=1.0, schedule="step", lr_decay=4.0, lr_step_epochs=2)
    assert _lrs_after_epochs(cfg, 6) == [1.0, 1.0, 0.25, 0.25, 0.0625, 0.0625]
    cfg = TrainConfig(lr=1.0, schedule="step", lr_decay=2.0, min_lr=0.3)
    assert _lrs_after_epochs(cfg, 4) == [1.0, 0.5, 0.3, 0.3]


def test_cosine_schedule_matches_the_formula():
    cfg = TrainConfig(lr=2.0, schedule="cosine", epochs=4, min_lr=0.5)
    expected = [0.5 + 1.5 * (1 + math.cos(math.pi * c / 4)) / 2 for c in range(4)]
    assert _lrs_after_epochs(cfg, 4) == pytest.approx(expected, rel=1e-12)


def test_constant_schedule_ignores_hooks_and_registry_is_complete():
    assert set(SCHEDULES) == {"constant", "step", "cosine", "plateau"}
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
    schedule = build_schedule(optimizer, TrainConfig(lr=0.3))
    schedule.on_epoch_end()
    schedule.on_eval(1.0)
    assert optimizer.param_groups[0]["lr"] == 0.3 and schedule.state_dict() == {}


def test_metrics():
    assert metric_value("loss", 1.5) == 1.5
    assert metric_value("ppl", math.log(100.0)) == pytest.approx(100.0, rel=1e-14)
    assert metric_value("bpc", 2 * math.log(2.0)) == pytest.approx(2.0, rel=1e-15)
    assert metric_value("ppl", 1e6) == math.inf
    with pytest.raises(ValueError, match="unknown metric 'acc'; expected one of loss, ppl, bpc"):
        metric_value("acc", 1.0)


def test_step_result_validates():
    with pytest.raises(TypeError, match=r"StepResult.loss: expected a scalar \(0-dim\) tensor, got \(2,\)"):
        StepResult(loss=torch.zeros(2), count=2)
    with pytest.raises(TypeError, match="got float"):
        StepResult(loss=1.0, count=2)
    with pytest.raises(ValueError, match="StepResult.count: expected an int >= 1.*got 0"):
        StepResult(loss=torch.tensor(1.0), count=0)
    with pytest.raises(ValueError, match="got True"):
        StepResult(loss=torch.tensor(1.0), count=True)
