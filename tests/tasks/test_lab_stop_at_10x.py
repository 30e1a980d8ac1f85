"""``LabConfig.stop_at_10x``: a lab run stops at its first validation below chance / 10 (issue 11's full grid)."""

from __future__ import annotations

import pytest

from unrolled.tasks.lab import run as lab_run
from unrolled.tasks.lab.run import LabConfig, _FirstBelow, run_lab


class _FakeTrainer:
    def __init__(self):
        self.reasons: list[str] = []

    def request_stop(self, reason: str = "requested") -> None:
        self.reasons.append(reason)


@pytest.mark.parametrize("stop", [True, False])
def test_first_below_records_the_first_step_and_stops_only_when_asked(stop):
    cb, trainer = _FirstBelow(0.1, stop=stop), _FakeTrainer()
    for step, loss in ((50, 0.5), (100, 0.1), (150, 0.0999), (200, 0.01)):
        cb.on_eval(trainer, step, {"loss": loss})
    assert cb.step == 150  # 0.1 is not below 0.1; 0.0999 is, and 0.01 later does not move it
    assert trainer.reasons == (["reached_10x"] if stop else [])


def _cfg(tmp_path, name, stop):
    return LabConfig(
        task="parity",
        cell="lstm",
        length=3,
        steps=6,
        batch_size=4,
        hidden=4,
        valid_batches=1,
        stop_at_10x=stop,
        out=str(tmp_path / name),
    )


def test_run_stops_at_the_first_validation_below_the_threshold(tmp_path, monkeypatch):
    monkeypatch.setattr(lab_run, "TEN_X", 1e9)  # every validation loss is "below chance / 10": the first one stops
    stopped = run_lab(_cfg(tmp_path, "a", True))
    full = run_lab(_cfg(tmp_path, "b", False))
    assert (stopped["steps"], stopped["steps_to_10x"], stopped["stopped"]) == (1, 1, "reached_10x")
    assert (full["steps"], full["steps_to_10x"], full["stopped"]) == (6, 1, "max_steps")
    assert stopped["seconds_to_10x"] is not None


def test_stop_at_10x_must_be_a_bool():
    with pytest.raises(ValueError, match="LabConfig.stop_at_10x: expected True or False, got 1"):
        LabConfig(stop_at_10x=1)
