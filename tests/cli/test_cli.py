"""The ``unrolled`` command: a smoke run of every command on tiny data, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from _cli_testkit import SMALL, TEXT, run_cli

from unrolled.cli import main


def test_every_command_on_tiny_data(tmp_path, corpus, capsys):
    run = tmp_path / "run"
    code, out, _ = run_cli(
        capsys,
        "train",
        "lm",
        "--data",
        str(corpus),
        "--run-dir",
        str(run),
        "--epochs",
        "1",
        "--sample-length",
        "10",
        *SMALL,
    )
    assert code == 0 and "sample" in out and f"unrolled generate {run}" in out
    code, out, _ = run_cli(capsys, "generate", str(run), "--prime", "row", "--length", "20", "--seed", "1")
    assert code == 0 and out.startswith("row")
    again = run_cli(capsys, "generate", str(run), "--prime", "row", "--length", "20", "--seed", "1")[1]
    assert again == out
    code, out, _ = run_cli(capsys, "evaluate", str(run), "--data", str(corpus), "--json")
    result = json.loads(out)
    assert code == 0 and result["tokens"] == len(TEXT) - 1 and result["perplexity"] > 1
    code, out, _ = run_cli(capsys, "info", str(run))
    assert code == 0 and "rnn lstm, 1 x 12" in out
    code, out, _ = run_cli(capsys, "info", str(run), "--json")
    assert json.loads(out)["model"]["hidden"] == 12


# each family gets only the flags it uses (the others are refused, see test_flags_of_another_family_are_refused)
BASELINE_FLAGS = {
    "ngram": ["--order", "3", "--sample-length", "0", "--no-progress"],
    "fixed_window": ["--context", "4", "--epochs", "1", "--sample-length", "0", "--hidden", "12", "--embed", "6"]
    + ["--batch-size", "4", "--bptt", "12", "--no-progress"],
}


@pytest.mark.parametrize("family", ["ngram", "fixed_window"])
def test_baselines_train_and_evaluate(tmp_path, corpus, capsys, family):
    run = tmp_path / family
    code, _, _ = run_cli(
        capsys,
        "train",
        "lm",
        "--data",
        str(corpus),
        "--run-dir",
        str(run),
        "--model",
        family,
        *BASELINE_FLAGS[family],
    )
    assert code == 0
    code, out, _ = run_cli(capsys, "evaluate", str(run), "--data", str(corpus))
    assert code == 0 and "perplexity" in out


def test_config_file_flags_and_set_precedence(tmp_path, corpus, capsys):
    cfg = tmp_path / "lm.toml"
    cfg.write_text(
        f'[data]\npath = "{corpus}"\nbptt = 10\n[model]\nhidden = 10\nlayers = 1\nembed_dim = 6\n'
        "[train]\nepochs = 1\nprogress = false\n[sample]\nlength = 0\n",
        encoding="utf-8",
    )
    run = tmp_path / "run"
    code, _, _ = run_cli(
        capsys,
        "train",
        "lm",
        "--config",
        str(cfg),
        "--hidden",
        "14",
        "--set",
        "data.bptt=9",
        "--batch-size",
        "4",
        "--run-dir",
        str(run),
    )
    assert code == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["model"]["hidden"] == 14  # flag beats file
    assert saved["data"]["bptt"] == 9  # --set beats file
    assert saved["model"]["embed_dim"] == 6  # file beats default
    assert saved["train"]["lr"] == 2e-3  # the LM default survives a partial [train] table


def test_generate_defaults_to_latest_run(tmp_path, corpus, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["train", "lm", "--data", str(corpus), "--epochs", "1", "--sample-length", "0", *SMALL]
    assert run_cli(capsys, *argv)[0] == 0
    code, out, _ = run_cli(capsys, "generate", "--length", "5", "--prime", "row")
    assert code == 0 and out.startswith("row")


def _one_line_error(capsys, argv, match):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and "\n" not in err and match in err, err


def test_bad_flags_give_one_line_errors(capsys):
    _one_line_error(capsys, ["train", "lm", "--layers", "x"], "invalid int value")
    _one_line_error(capsys, ["train", "lm", "--tokenizer", "bpe"], "invalid choice")
    _one_line_error(capsys, ["trian"], "invalid choice")
    _one_line_error(capsys, ["evaluate"], "RUN")  # --data is optional: the run's own held-out split by default


@pytest.mark.parametrize(
    "argv, match",
    [
        (["train", "lm", "--layers", "0"], "model.layers must be a positive integer"),
        (["train", "lm", "--set", "model.nope=1"], "unknown key 'model.nope'"),
        (["train", "lm", "--set", "oops"], "key.sub=value"),
        (["train", "lm", "--cell", "transformer"], "model.cell must be one of"),
        (["train", "lm", "--config", "missing.toml"], "config file not found"),
        (["generate", "no/such/run"], "does not exist"),
        (["info", "no/such/run"], "does not exist"),
    ],
)
def test_bad_values_give_one_line_errors(capsys, argv, match):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and match in err, err


def test_bad_data_files(tmp_path, capsys):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9 ".encode("latin-1") * 100)
    code, _, err = run_cli(capsys, "train", "lm", "--data", str(bad), *SMALL)
    assert code == 2 and "latin1.txt" in err and "UTF-8" in err and err.count("\n") == 1
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    code, _, err = run_cli(capsys, "train", "lm", "--data", str(empty), *SMALL)
    assert code == 2 and "empty" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, "train", "lm", "--data", str(tmp_path / "nope.txt"), *SMALL)
    assert code == 2 and "nope.txt" in err


def test_python_dash_m_and_help_have_examples():
    out = subprocess.run(
        [sys.executable, "-m", "unrolled", "train", "lm", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "examples:" in out and "--resume" in out
    for cmd in ("generate", "evaluate", "info"):
        text = subprocess.run(
            [sys.executable, "-m", "unrolled", cmd, "--help"], capture_output=True, text=True, check=True
        ).stdout
        assert "examples:" in text


def test_shipped_config_files_resolve():
    import argparse
    from pathlib import Path

    from unrolled.cli import resolve_train_config

    folder = Path(__file__).resolve().parents[2] / "configs"
    files = sorted(folder.glob("lm_*"))
    assert files
    for path in files:
        args = argparse.Namespace(config=str(path), set=[], no_progress=True)
        cfg = resolve_train_config("lm", args)
        assert cfg.model.family in ("rnn", "ngram", "fixed_window")
