"""NT-ASGD: SGD steps, the non-monotone trigger, the running average, evaluation and best weights with it."""

import pytest
import torch
from torch import nn

from unrolled.train import StepResult, TrainConfig, Trainer
from unrolled.train.checkpoint import load_model_weights
from unrolled.train.ntasgd import NTASGD, AveragedEvaluation


def test_trigger_fires_on_a_non_monotone_rise():
    opt = NTASGD([nn.Parameter(torch.zeros(1))], lr=0.1, nonmono=2)
    # fires when more than n losses were seen and the new one exceeds min of all but the last n
    assert [opt.observe(v) for v in (5.0, 4.0, 3.0)] == [False, False, False]
    assert not opt.observe(3.5)  # 3.5 > min(5.0) is False
    assert not opt.averaging
    assert opt.observe(4.5)  # history [5, 4, 3, 3.5]: min(5, 4) = 4 < 4.5
    assert opt.averaging and not opt.observe(9.0)  # fires once


def test_steps_are_sgd_then_averages_of_the_iterates():
    p = nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = NTASGD([p], lr=0.5)
    grads = [torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0]), torch.tensor([2.0, 2.0])]
    p.grad = grads[0]
    opt.step()
    torch.testing.assert_close(p.detach(), torch.tensor([0.5, -2.0]))
    assert opt.averaged() == []
    for g in opt.param_groups:
        g["averaging"] = True
    iterates = []
    for g in grads[1:]:
        p.grad = g
        opt.step()
        iterates.append(p.detach().clone())
    torch.testing.assert_close(p.detach(), torch.tensor([-0.5, -4.0]))
    torch.testing.assert_close(opt.averaged()[0][1], torch.stack(iterates).mean(0))
    state = opt.state_dict()
    again = NTASGD([nn.Parameter(p.detach().clone())], lr=0.5)
    again.load_state_dict(state)
    assert again.averaging and again.param_groups[0]["history"] == []


class _Quadratic(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([3.0]))


def _objective(model, batch, state):
    target = batch  # (1,)
    return StepResult(loss=((model.w - target) ** 2).sum(), count=1)


def _valid_objective(model, batch, state):
    return StepResult(loss=(model.w**2).sum() * 0 + model.w.abs().sum(), count=1)


def test_trainer_switches_and_validates_with_the_averaged_weights(tmp_path):
    """The trainer validates after each epoch; once the trigger fires, validation, the best weights and the
    training weights are as the algorithm says."""
    torch.manual_seed(0)
    model = _Quadratic()
    seen = []

    class Record:
        def on_eval(self, trainer, step, metrics):
            seen.append((metrics["loss"], trainer.model.w.item()))

    cb = AveragedEvaluation()
    # targets alternate around 0: SGD oscillates, so |w| stops improving and the trigger fires
    train = [torch.tensor([2.0]), torch.tensor([-2.0])]
    cfg = TrainConfig(epochs=12, lr=0.4, optimizer="ntasgd", progress=False, plot=False)
    trainer = Trainer(
        model, _objective, cfg, run_dir=tmp_path, callbacks=[cb, Record()], eval_objective=cb.wrap(_valid_objective)
    )
    result = trainer.fit(train, [torch.tensor([0.0])])
    opt = trainer.optimizer
    assert isinstance(opt, NTASGD) and opt.averaging
    history = opt.param_groups[0]["history"]
    assert [v for v, _ in seen] == history  # every validation fed the trigger
    fired = [k for k in range(6, len(history)) if history[k] > min(history[: k - 5])]
    assert fired  # the rule of Merity et al. 2018 (n = 5) holds at some validation
    average = opt.averaged()[0][1].item()
    # the last validation scored |average|, while the model (after on_eval) holds the trained weights
    assert seen[-1][0] == pytest.approx(abs(average))
    assert model.w.item() != pytest.approx(average)
    assert result.best_valid == pytest.approx(min(v for v, _ in seen))
    best = _Quadratic()
    load_model_weights(best, tmp_path / "best" / "model.safetensors")
    assert abs(best.w.item()) == pytest.approx(result.best_valid)  # best weights are the ones validated


def test_other_optimizers_are_left_alone():
    model = _Quadratic()
    cb = AveragedEvaluation()
    cfg = TrainConfig(epochs=1, lr=0.1, optimizer="sgd", progress=False, plot=False)
    trainer = Trainer(model, _objective, cfg, callbacks=[cb], eval_objective=cb.wrap(_valid_objective))
    trainer.fit([torch.tensor([1.0])], [torch.tensor([0.0])])
    assert cb.optimizer is None
