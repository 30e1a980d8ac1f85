"""The forecasting task through ``unrolled.cli.main``: train (network, esn, ar, lds), evaluate, predict, forecast,
impute, info on tiny data; numbers checked against the models used directly; one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from unrolled.cli import main
from unrolled.data.series import noisy_sines
from unrolled.models.ar import ARModel

QUIET = ["--set", "train.progress=false", "--set", "train.plot=false"]


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def csv_file(tmp_path):
    x = np.sin(np.arange(160) / 4.0)
    rows = ["t,x,c"] + [f"{i},{'' if 60 <= i < 64 else f'{v:.8f}'},{i % 5}" for i, v in enumerate(x)]
    path = tmp_path / "s.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_ar_run_every_command_and_numbers(tmp_path, capsys):
    run = tmp_path / "ar"
    code, out, _ = cli(capsys, "train", "forecast", "--data", "sine", "--length", "200", "--horizon", "2",
                       "--window", "8", "--model", "ar", "--ar-order", "3", "--run-dir", run, *QUIET)  # fmt: skip
    assert code == 0 and "AR(3)" in out and (run / "model.safetensors").is_file()
    code, out, _ = cli(capsys, "evaluate", run, "--json")
    metrics = json.loads(out)
    assert metrics["task"] == "forecast" and metrics["windows"] == 40 - 2 + 1 and len(metrics["rmse_by_step"]) == 2
    assert metrics["rmse"] == pytest.approx(np.sqrt(metrics["mse"]))
    # the same numbers from the model used directly: AR(3) by OLS on the standardised training part (140 steps)
    x = noisy_sines(200, seed=0)
    mu, sd = x[:140].mean(), x[:140].std()
    ar = ARModel.fit((x[:140] - mu) / sd, 3)
    preds, actual = [], []
    for t in range(160, 199):
        preds.append(ar.forecast(2, history=(x[:t] - mu) / sd).mean * sd + mu)
        actual.append(x[t : t + 2])
    assert metrics["mse"] == pytest.approx(float(np.mean((np.array(preds) - np.array(actual)) ** 2)), rel=1e-9)
    code, out, _ = cli(capsys, "predict", run)
    lines = out.strip().splitlines()
    assert lines[0] == "step\tmean\tlower\tupper" and len(lines) == 3
    f = ar.forecast(2, history=(x - mu) / sd)
    assert float(lines[1].split("\t")[1]) == pytest.approx(f.mean[0] * sd + mu, rel=1e-5)
    png = tmp_path / "f.png"
    code, out, err = cli(capsys, "forecast", run, "--horizon", "5", "--plot", png)
    assert code == 0 and len(out.strip().splitlines()) == 6 and png.stat().st_size > 1000
    code, out, _ = cli(capsys, "info", run)
    assert code == 0 and "AR(3)" in out


def test_network_direct_gaussian_with_covariate_gaps_and_imputer(tmp_path, csv_file, capsys):
    run = tmp_path / "gru"
    code, out, _ = cli(capsys, "train", "forecast", "--data", csv_file, "--time-column", "t", "--target", "x",
                       "--covariate", "c", "--fill", "linear", "--strategy", "direct", "--gaussian", "--horizon", "3",
                       "--window", "8", "--model", "gru", "--hidden", "8", "--epochs", "1", "--imputer",
                       "--run-dir", run, *QUIET)  # fmt: skip
    assert code == 0 and "4 gaps filled linearly" in out and (run / "best" / "model.safetensors").is_file()
    code, out, _ = cli(capsys, "forecast", run)
    rows = [line.split("\t") for line in out.strip().splitlines()[1:]]
    assert len(rows) == 3 and all(float(lo) < float(m) < float(hi) for _, m, lo, hi in rows)
    code, out, _ = cli(capsys, "evaluate", run, "--data", csv_file, "--json")
    assert json.loads(out)["windows"] == 160 - 8 - 3 + 1
    for method in ("rnn", "linear"):
        dest = tmp_path / f"{method}.csv"
        code, _, _ = cli(capsys, "impute", run, "--data", csv_file, "--output", dest, "--method", method)
        filled = np.loadtxt(dest, delimiter=",", skiprows=1)
        assert filled.shape == (160, 2) and np.isfinite(filled).all()
        np.testing.assert_allclose(filled[:60, 0], np.sin(np.arange(60) / 4.0), atol=1e-7)  # observed kept
    code, _, err = cli(capsys, "forecast", run, "--horizon", "5")
    assert code != 0 and "exactly 3 steps" in err and "Traceback" not in err


def test_esn_and_lds_runs(tmp_path, csv_file, capsys):
    esn = tmp_path / "esn"
    code, out, _ = cli(capsys, "train", "forecast", "--data", "mackey-glass", "--length", "600", "--horizon", "1",
                       "--model", "esn", "--units", "60", "--run-dir", esn, *QUIET)  # fmt: skip
    assert code == 0
    code, out, _ = cli(capsys, "evaluate", esn, "--json")
    assert json.loads(out)["nrmse"] < 0.1  # one step ahead on Mackey-Glass
    lds = tmp_path / "lds"
    code, out, _ = cli(capsys, "train", "forecast", "--data", csv_file, "--target", "x", "--fill", "linear",
                       "--model", "lds", "--window", "8", "--run-dir", lds, *QUIET)  # fmt: skip
    assert code == 0
    code, out, _ = cli(capsys, "impute", lds, "--data", csv_file)  # auto: the Kalman smoother
    filled = np.loadtxt(out.splitlines()[1:], delimiter=",")
    assert np.isfinite(filled).all() and filled.shape == (160,)


def test_errors_are_one_line(tmp_path, csv_file, capsys):
    code, _, err = cli(capsys, "train", "forecast", "--data", csv_file, "--target", "x", "--run-dir", tmp_path / "a",
                       *QUIET)  # fmt: skip
    assert code != 0 and "missing value(s) (first at row 60)" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli(capsys, "train", "forecast", "--data", "nope.csv", "--run-dir", tmp_path / "b", *QUIET)
    assert code != 0 and "neither a file nor a generated series" in err
    code, _, err = cli(capsys, "train", "forecast", "--data", csv_file, "--target", "y", "--run-dir",
                       tmp_path / "c", *QUIET)  # fmt: skip
    assert code != 0 and "'y'" in err and "Traceback" not in err
    code, _, err = cli(capsys, "train", "forecast", "--data", "sine", "--length", "30", "--window", "40",
                       "--run-dir", tmp_path / "d", *QUIET)  # fmt: skip
    assert code != 0 and "too short" in err


def test_shared_training_options_and_settings_help(capsys):
    from unrolled.tasks.forecast.task import TASK
    from unrolled.tasks.resolve import resolve_config

    cfg = resolve_config(TASK, given={"clip": 1.0, "patience": 3, "schedule": "step"})
    assert (cfg.train.clip_norm, cfg.train.early_stopping_patience, cfg.train.schedule) == (1.0, 3, "step")
    assert (cfg.train.epochs, cfg.train.lr) == (10, 3e-3)  # the task's own defaults
    with pytest.raises(SystemExit) as exit_:
        main(["train", "forecast", "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "--clip-value" in out and "--tensorboard" in out
    assert out.count("settings (--set SECTION.KEY=VALUE") == 1
