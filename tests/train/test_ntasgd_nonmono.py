"""NT-ASGD's non-monotone interval n as a config option: checked, passed to the optimizer, changes when it fires."""

import pytest
import torch
from torch import nn

from unrolled.tasks.lm.config import build_run_config
from unrolled.tasks.lm.task import TRAIN_OPTIONS
from unrolled.train import TrainConfig
from unrolled.train.ntasgd import NONMONO
from unrolled.train.optim import build_optimizer

# validation losses: improving for 5 passes, then a rise above the best of all but the last 2 (but not 3) passes
LOSSES = (5.0, 4.0, 3.0, 2.9, 2.8, 3.05)


def _fires_at(nonmono: int) -> list[int]:
    cfg = TrainConfig(optimizer="ntasgd", lr=0.1, nonmono=nonmono)
    opt = build_optimizer([nn.Parameter(torch.zeros(1))], cfg)
    assert opt.param_groups[0]["nonmono"] == nonmono
    return [k for k, v in enumerate(LOSSES) if opt.observe(v)]


def test_default_is_the_papers_five():
    assert TrainConfig().nonmono == NONMONO == 5
    assert TrainConfig.from_dict(TrainConfig(nonmono=3).to_dict()).nonmono == 3


def test_the_window_decides_when_averaging_starts():
    # at the last loss 3.05, history (5.0, 4.0, 3.0, 2.9, 2.8): the trigger compares with min(history[:-n])
    # n = 1: min(5.0 .. 2.9) = 2.9 < 3.05 -> fires; n = 2: min(5.0, 4.0, 3.0) = 3.0 < 3.05 -> fires
    assert _fires_at(1) == [5] and _fires_at(2) == [5]
    # n = 3: min(5.0, 4.0) = 4.0 > 3.05 -> no; n = 4: min(5.0) -> no; n = 5 (the default): too few passes seen
    assert _fires_at(3) == [] and _fires_at(4) == [] and _fires_at(5) == []


@pytest.mark.parametrize("bad", [0, -1, 2.5, "5", True, None])
def test_bad_values_are_one_line_errors(bad):
    with pytest.raises(ValueError, match=r"^TrainConfig.nonmono: expected an int >= 1, got ") as info:
        TrainConfig(nonmono=bad)
    assert "\n" not in str(info.value)


def test_lm_config_and_flag_set_it():
    assert build_run_config({"train": {"optimizer": "ntasgd", "nonmono": 2}}).train.nonmono == 2
    flag = [o for o in TRAIN_OPTIONS if getattr(o, "flag", None) == "--nonmono"]
    assert len(flag) == 1 and flag[0].key == "train.nonmono"
