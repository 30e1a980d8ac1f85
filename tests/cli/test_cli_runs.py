"""The ``unrolled`` command on run folders: resume rules, refused flags, corrupt runs, exact evaluation, help."""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys

import pytest
from _cli_testkit import SMALL, TEXT, run_cli

from unrolled.cli import main, resolve_train_config
from unrolled.config_io import ConfigError
from unrolled.tasks.lm.task import BUILTIN_BUDGET_S, BUILTIN_EPOCHS, BUILTIN_SAMPLE_EVERY


def _train(capsys, corpus, run, *extra):
    argv = ["train", "lm", "--data", str(corpus), "--run-dir", str(run), "--sample-length", "0", *SMALL, *extra]
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    return out


def _one_line(capsys, argv, match):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and match in err, err
    return err


def _valid_losses(run):
    with (run / "metrics.csv").open() as f:
        return [(row["step"], row["loss"]) for row in csv.DictReader(f) if row["split"] == "valid"]


@pytest.fixture()
def trained(tmp_path, corpus, capsys):
    run = tmp_path / "run"
    _train(capsys, corpus, run, "--epochs", "1")
    return run


def test_resume_continues_with_the_losses_of_an_uninterrupted_run(tmp_path, corpus, capsys, trained):
    _train(capsys, corpus, tmp_path / "full", "--epochs", "2")
    code, out, _ = run_cli(capsys, "train", "lm", "--resume", str(trained), "--epochs", "2")
    assert code == 0 and "stopped: completed after" in out
    assert _valid_losses(trained) == _valid_losses(tmp_path / "full") and len(_valid_losses(trained)) == 2
    assert json.loads((trained / "config.json").read_text())["train"]["epochs"] == 2  # the extension is saved
    code, out, _ = run_cli(capsys, "train", "lm", "--resume", str(trained))
    assert code == 0 and f"nothing to do: {trained} has reached epochs = 2 (pass --epochs N to train longer)" in out


def test_resume_refuses_flags_that_change_the_model_or_data(capsys, trained):
    err = _one_line(capsys, ["train", "lm", "--resume", str(trained), "--hidden", "20", "--set", "train.lr=1"], "")
    assert f"--resume continues {trained} with its saved configuration; --hidden, --set train.lr would change" in err
    _one_line(capsys, ["train", "lm", "--resume", str(trained), "--config", "x.toml"], "--config would change")


def test_resume_refuses_a_changed_text_and_accepts_the_same_text_elsewhere(tmp_path, corpus, capsys, trained):
    corpus.write_text(TEXT + "one more line\n", encoding="utf-8")
    _one_line(capsys, ["train", "lm", "--resume", str(trained), "--epochs", "2"], "changed since the run started")
    moved = tmp_path / "moved.txt"
    moved.write_text(TEXT, encoding="utf-8")
    code, _, err = run_cli(capsys, "train", "lm", "--resume", str(trained), "--epochs", "2", "--data", str(moved))
    assert code == 0, err


def test_max_time_is_a_budget_per_session(tmp_path, corpus, capsys):
    run = tmp_path / "run"
    out = _train(capsys, corpus, run, "--epochs", "50", "--max-time", "1")
    assert "stopped: max_time after" in out and f"'unrolled train lm --resume {run}' trains another 1 s" in out
    steps = int(out.split("stopped: max_time after ")[1].split()[0])
    code, out, _ = run_cli(capsys, "train", "lm", "--resume", str(run))
    assert code == 0 and int(out.split("stopped: max_time after ")[1].split()[0]) > steps


def test_evaluate_reports_exact_perplexity_and_bits(capsys, corpus, trained):
    code, out, _ = run_cli(capsys, "evaluate", str(trained), "--data", str(corpus), "--json", "--batch-size", "3")
    result = json.loads(out)
    assert code == 0 and result["tokens"] == 3 * (len(TEXT) // 3 - 1)
    assert result["perplexity"] == math.exp(result["loss_nats"])
    assert result["bpc"] == result["loss_nats"] / math.log(2)


def test_word_runs_show_perplexity_not_bpc(tmp_path, corpus, capsys):
    run = tmp_path / "words"
    _train(capsys, corpus, run, "--tokenizer", "word", "--epochs", "1")
    assert json.loads((run / "config.json").read_text())["train"]["metric"] == "ppl"
    with (run / "metrics.csv").open() as f:
        row = next(r for r in csv.DictReader(f) if r["split"] == "valid")
    assert float(row["metric"]) == pytest.approx(math.exp(float(row["loss"])), rel=1e-12)
    code, out, _ = run_cli(capsys, "evaluate", str(run), "--data", str(corpus), "--json")
    result = json.loads(out)
    assert "bpc" not in result and result["bits_per_word"] == result["loss_nats"] / math.log(2)


def test_a_huge_loss_prints_an_infinite_perplexity(tmp_path, corpus, capsys):
    run = tmp_path / "huge"
    code, out, err = run_cli(
        capsys, "train", "lm", "--data", str(corpus), "--run-dir", str(run), "--epochs", "1", "--optimizer", "sgd",
        "--lr", "1e35", "--sample-length", "0", *SMALL,
    )  # fmt: skip
    assert (code == 0 and "perplexity inf" in out) or (code == 2 and err.count("\n") == 1), err


def test_generate_warns_about_unknown_prime_characters_and_echoes_the_prime(capsys, trained):
    code, out, err = run_cli(capsys, "generate", str(trained), "--prime", "row ü€", "--length", "5")
    assert code == 0 and out.startswith("row ü€") and len(out) == len("row ü€") + 5 + 1
    assert err == f"unrolled: warning: the prime has characters that {trained} never saw, read as <unk>: 'ü', '€'\n"
    code, out, err = run_cli(capsys, "generate", str(trained), "--prime", "row", "--length", "5")
    assert code == 0 and err == ""


def test_generate_rejects_bad_sampling_values_in_one_line(capsys, trained):
    _one_line(capsys, ["generate", str(trained), "--top-p", "5"], "sample.top_p must be null or a number in (0, 1]")
    _one_line(capsys, ["generate", str(trained), "--temperature", "nan"], "sample.temperature must be a finite")


@pytest.mark.parametrize("command", ["generate", "evaluate", "info"])
def test_corrupt_run_folders_give_one_line_errors(tmp_path, corpus, capsys, trained, command):
    extra = ["--data", str(corpus)] if command == "evaluate" else []
    (trained / "config.json").write_text("{not json", encoding="utf-8")
    _one_line(capsys, [command, str(trained), *extra], "config.json: not valid JSON")
    (trained / "config.json").write_text(json.dumps({"task": "lm", "model": {"hidden": "big"}}), encoding="utf-8")
    _one_line(capsys, [command, str(trained), *extra], "model.hidden: expected int, got str 'big'")
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    _one_line(capsys, [command, str(tmp_path / "file.txt"), *extra], "is a file, not a run folder")


@pytest.mark.parametrize("command", ["generate", "evaluate"])
def test_a_corrupt_vocabulary_or_meta_gives_one_line_errors(capsys, corpus, trained, command):
    extra = ["--data", str(corpus)] if command == "evaluate" else []
    (trained / "vocab.json").write_text("[]", encoding="utf-8")
    _one_line(capsys, [command, str(trained), *extra], "vocab.json: its content changed since it was written")
    (trained / "digests.json").unlink()  # a run without recorded digests: the vocabulary's own check speaks
    _one_line(capsys, [command, str(trained), *extra], "vocab.json: not an unrolled vocabulary")
    (trained / "best" / "meta.json").write_text("{", encoding="utf-8")
    _one_line(capsys, ["info", str(trained)], "meta.json: not valid JSON")


def test_reusing_a_run_folder_is_refused_and_keeps_its_files(capsys, corpus, trained):
    before = sorted(p.name for p in trained.iterdir())
    err = _one_line(capsys, ["train", "lm", "--data", str(corpus), "--run-dir", str(trained)], "already holds files")
    assert f"pass --resume {trained} to continue that run" in err
    assert sorted(p.name for p in trained.iterdir()) == before


def test_a_run_dir_that_is_a_file_and_a_folder_without_text(tmp_path, capsys, corpus):
    (tmp_path / "afile").write_text("keep me", encoding="utf-8")
    _one_line(capsys, ["train", "lm", "--data", str(corpus), "--run-dir", str(tmp_path / "afile")], "is a file")
    assert (tmp_path / "afile").read_text(encoding="utf-8") == "keep me"
    (tmp_path / "notext").mkdir()
    (tmp_path / "notext" / "a.md").write_text("# not a .txt", encoding="utf-8")
    _one_line(capsys, ["train", "lm", "--data", str(tmp_path / "notext")], "a folder holding at least one .txt file")


def test_missing_tensorboard_is_one_line_and_leaves_no_folder(tmp_path, corpus, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    run = tmp_path / "tb"
    argv = ["train", "lm", "--data", str(corpus), "--run-dir", str(run), "--set", "train.tensorboard=true", *SMALL]
    _one_line(capsys, argv, "needs the tensorboard package: pip install tensorboard")
    assert not run.exists()


@pytest.mark.parametrize(
    "argv, match",
    [
        (["train", "lm", "--set", "data=3"], "--set data=3: 'data' is a section; set one of its keys"),
        (["train", "lm", "--set", "train=5"], "'train' is a section"),
        (["train", "lm", "--model", "ngram", "--cell", "gru"], "--cell does not apply to --model ngram"),
        (["train", "lm", "--model", "ngram", "--epochs", "2"], "--epochs does not apply to --model ngram (it is fit"),
        (["train", "lm", "--model", "fixed_window", "--tie"], "--tie does not apply to --model fixed_window"),
        (["train", "lm", "--model", "fixed_window", "--no-tie", "--layers", "2"], "--layers, --tie do not apply"),
        (["train", "lm", "--max-vocab", "4"], "data.max_vocab must be an integer >= 5"),
        (["train", "lm", "--set", "model.cell_options.bogus=1"], "model.cell_options {'bogus': 1} do not fit cell"),
        (["train", "lm", "--set", "sample.top_p=5"], "sample.top_p must be null or a number in (0, 1], got 5.0"),
        (["train", "lm", "--bptt", "0", "--k2", "5"], "data.k2 must be null with data.bptt = 0"),
    ],
)
def test_bad_settings_give_one_line_errors(capsys, argv, match):
    _one_line(capsys, argv, match)


@pytest.mark.parametrize("table", ['data = "x"', "train = 5"])
def test_config_sections_that_are_not_tables(tmp_path, capsys, table):
    path = tmp_path / "bad.toml"
    path.write_text(table + "\n", encoding="utf-8")
    _one_line(capsys, ["train", "lm", "--config", str(path)], "must be a table of settings")


def test_an_unknown_flag_points_at_the_help_of_its_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "lm", "--bogus"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err == (
        "unrolled train lm: error: unrecognized arguments: --bogus (see 'unrolled train lm --help')\n"
    )
    with pytest.raises(SystemExit):
        main(["info", "RUN", "--bogus"])
    assert "(see 'unrolled info --help')" in capsys.readouterr().err


def test_debug_shows_the_traceback_and_bugs_are_not_hidden(capsys, monkeypatch):
    with pytest.raises(ConfigError, match="model.layers must be a positive integer"):
        main(["--debug", "train", "lm", "--layers", "0"])
    monkeypatch.setenv("UNROLLED_DEBUG", "1")
    with pytest.raises(ConfigError):
        main(["train", "lm", "--layers", "0"])
    monkeypatch.delenv("UNROLLED_DEBUG")

    def bug(args):
        raise TypeError("a bug, not a user error")

    monkeypatch.setitem(__import__("unrolled.cli").cli.COMMANDS, "info", bug)
    with pytest.raises(TypeError, match="a bug"):
        main(["info", "RUN"])


def test_errors_are_printed_once_under_torchrun(capsys, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    code, _, err = run_cli(capsys, "train", "lm", "--layers", "0")
    assert code == 2 and err == ""
    monkeypatch.setenv("RANK", "0")
    code, _, err = run_cli(capsys, "train", "lm", "--layers", "0")
    assert code == 2 and err.count("\n") == 1


def test_the_builtin_corpus_samples_as_it_trains_within_its_budget():
    cfg = resolve_train_config("lm", argparse.Namespace(set=[], no_progress=True))
    assert cfg.data.path is None and cfg.sample.every == BUILTIN_SAMPLE_EVERY == 100
    assert cfg.train.max_time == BUILTIN_BUDGET_S == 150.0 and cfg.train.metric == "bpc"
    assert cfg.train.epochs == BUILTIN_EPOCHS == 20  # the budget, not the epochs, ends a session: --resume goes on
    off = resolve_train_config(
        "lm", argparse.Namespace(set=["sample.every=0", "train.max_time=null"], no_progress=True)
    )
    assert off.sample.every == 0 and off.train.max_time is None
    own = resolve_train_config("lm", argparse.Namespace(data="x.txt", set=[], no_progress=True))
    assert own.sample.every == 0 and own.train.max_time is None and own.train.epochs == 3


def test_new_flags_reach_the_config():
    args = argparse.Namespace(
        set=[], no_progress=False, data="x.txt", clip_value=0.5, l1=1e-5, patience=2, metrics_format="jsonl",
        sample_temperature=0.5, lowercase=False, tie=False, bptt=0, strip_punctuation=True, eos="document",
    )  # fmt: skip
    cfg = resolve_train_config("lm", args)
    assert (cfg.train.clip_value, cfg.train.l1, cfg.train.early_stopping_patience) == (0.5, 1e-5, 2)
    assert (cfg.train.metrics_format, cfg.sample.temperature, cfg.data.bptt) == ("jsonl", 0.5, 0)
    assert (cfg.data.lowercase, cfg.model.tie_weights, cfg.data.strip_punctuation, cfg.data.eos) == (
        False,
        False,
        True,
        "document",
    )


def _help(*argv):
    """``unrolled ARGV --help`` in this process (``python -m unrolled`` itself is tested in test_cli.py)."""
    import contextlib
    import io

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "200"  # argparse wraps help to the terminal width
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as info:
            main([*argv, "--help"])
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    assert info.value.code == 0
    return out.getvalue()


def test_help_has_examples_and_lists_every_set_key():
    from unrolled.tasks.lm import LMRunConfig
    from unrolled.train.optim import OPTIMIZERS

    for argv in ((), ("train",)):
        assert "examples:" in _help(*argv)
    assert "UNROLLED_DEBUG=1" in _help() and "--debug" in _help()
    text = _help("train", "lm")
    for section in ("data", "model", "train", "sample"):
        for name in LMRunConfig.__dataclass_fields__[section].default_factory().__dataclass_fields__:
            assert f"{name}=" in text, f"{section}.{name}"
    assert "--no-tie" in text and "--no-lowercase" in text and "0 = full BPTT" in text
    assert "{" + ",".join(OPTIMIZERS) + "}" in text  # choices come from the registry
    assert "--stop-at-eos" in _help("generate")


def test_torchrun_two_processes_train_one_run_folder(tmp_path, corpus):
    """``torchrun -m unrolled train lm`` end to end on 2 CPU processes: one run folder, written by rank 0 only,
    that loads and generates; every rank passes the new-folder check although rank 0 may create it first."""
    run = tmp_path / "ddp"
    # --device cpu: gloo on the CPU whatever GPUs the machine has (auto would want one GPU per process)
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "-m", "unrolled", "train", "lm", "--data", str(corpus), "--run-dir", str(run), "--epochs", "1",
            "--sample-length", "0", "--device", "cpu", *SMALL]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("corpus:") == 1  # rank 0 alone prints
    assert (run / "config.json").is_file() and (run / "best" / "model.safetensors").is_file()
    steps = [row["step"] for row in csv.DictReader((run / "metrics.csv").open()) if row["split"] == "train"]
    assert steps == sorted(set(steps))  # one writer: no step logged twice
