"""Settings a forecasting model cannot use are refused in one line, naming the flag (or key) and the model: training
flags for the models fitted in closed form or by EM (ar, esn, lds), another family's settings; given on the command
line, in --config or by --set, never the defaults. Without them every family still trains."""

from __future__ import annotations

import numpy as np
import pytest

from unrolled.cli import main
from unrolled.tasks.forecast.config import inapplicable_keys

QUIET = ["--set", "train.progress=false", "--set", "train.plot=false"]  # display settings: accepted by every model


@pytest.fixture()
def csv_file(tmp_path):
    x = np.sin(np.arange(120) / 4.0) + 0.1 * np.cos(np.arange(120) / 1.7)
    path = tmp_path / "s.csv"
    path.write_text("x\n" + "\n".join(f"{v:.8f}" for v in x) + "\n", encoding="utf-8")
    return path


def train(capsys, tmp_path, csv_file, *argv):
    run = tmp_path / "run"
    code = main(["train", "forecast", "--data", str(csv_file), "--window", "8", "--run-dir", str(run), *argv, *QUIET])
    out = capsys.readouterr()
    return code, out.out, out.err.strip(), run


# the models' own settings, kept small so that each fit takes milliseconds
OWN = {
    "ar": ["--ar-order", "2"],
    "esn": ["--units", "20", "--set", "model.washout=10"],
    "lds": ["--set", "model.em_iters=2"],
}
HOW = {
    "ar": "fit in closed form",
    "esn": "a fixed reservoir and a ridge readout fit in closed form",
    "lds": "fit by EM",
}


@pytest.mark.parametrize("family", ["ar", "esn", "lds"])
@pytest.mark.parametrize("flag", [["--lr", "0.1"], ["--optimizer", "sgd"], ["--batch-size", "8"], ["--clip", "1"]])
def test_training_flag_refused_for_fitted_models(tmp_path, csv_file, capsys, family, flag):
    code, _, err, run = train(capsys, tmp_path, csv_file, "--model", family, *OWN[family], *flag)
    assert code != 0 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.endswith(f"{flag[0]} does not apply to --model {family} ({HOW[family]}); remove it")
    assert not (run / "model.safetensors").exists()


def test_several_flags_named_together_and_hints(tmp_path, csv_file, capsys):
    code, _, err, _ = train(capsys, tmp_path, csv_file, "--model", "ar", "--epochs", "3", "--lr", "0.1", "--seed", "1")
    assert code != 0 and err.endswith(
        "--epochs, --lr, --seed do not apply to --model ar (fit in closed form); remove them"
    )
    code, _, err, _ = train(capsys, tmp_path, csv_file, "--model", "esn", "--units", "20", "--l2", "0.1")
    assert code != 0 and err.endswith("remove it (the readout's penalty is --ridge)") and "--l2 does not" in err
    code, _, err, _ = train(capsys, tmp_path, csv_file, "--model", "lds", "--epochs", "4")
    assert code != 0 and err.endswith("(fit by EM); remove it (EM iterations are --set model.em_iters=N)")


def test_set_and_config_file_keys_are_refused_by_key(tmp_path, csv_file, capsys):
    code, _, err, _ = train(capsys, tmp_path, csv_file, "--model", "ar", "--set", "train.momentum=0.9")
    assert code != 0 and err.endswith("train.momentum does not apply to --model ar (fit in closed form); remove it")
    conf = tmp_path / "c.toml"
    conf.write_text('[model]\nmodel = "lds"\n\n[train]\nlr = 0.01\n', encoding="utf-8")
    code, _, err, _ = train(capsys, tmp_path, csv_file, "--config", str(conf))
    assert code != 0 and err.endswith("train.lr does not apply to --model lds (fit by EM); remove it")


def test_network_refuses_fitted_settings(tmp_path, csv_file, capsys):
    code, _, err, _ = train(capsys, tmp_path, csv_file, "--model", "gru", "--units", "20", "--ar-order", "2")
    assert code != 0 and len(err.splitlines()) == 1
    assert err.endswith(
        "--ar-order, --units do not apply to --model gru (a recurrent network; --ar-order, --units are for --model "
        "ar / esn); remove them"
    )


@pytest.mark.parametrize("family", ["ar", "esn", "lds"])
def test_fitted_models_still_train_without_training_flags(tmp_path, csv_file, capsys, family):
    seed = ["--seed", "3"] if family != "ar" else []  # the seed draws the reservoir / EM's start
    code, out, err, run = train(capsys, tmp_path, csv_file, "--model", family, *OWN[family], *seed)
    assert code == 0 and (run / "model.safetensors").is_file() and "validation:" in out, err


def test_inapplicable_keys_table():
    given = {
        "train.lr",
        "train.seed",
        "train.progress",
        "model.units",
        "model.hidden",
        "data.batch_size",
        "data.window",
    }
    assert inapplicable_keys("ar", given) == [
        "data.batch_size",
        "model.hidden",
        "model.units",
        "train.lr",
        "train.seed",
    ]
    assert inapplicable_keys("esn", given) == ["data.batch_size", "model.hidden", "train.lr"]
    assert inapplicable_keys("lds", given) == ["data.batch_size", "model.hidden", "model.units", "train.lr"]
    assert inapplicable_keys("lstm", given) == ["model.units"]
    assert inapplicable_keys("ar", {"model.ar_order", "model.imputer", "train.plot", "data.horizon"}) == []
