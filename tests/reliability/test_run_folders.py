"""Run folders under hostile but realistic use: real child processes, real signals (each test a few seconds).

Each test reproduces a defect found by trying the language-model runs as such a user would: two processes on one
folder, SIGTERM mid-run, kill -9 before the first checkpoint, a swapped vocabulary, NaN weights, a resume from
another working directory. The fixes live in the shared run machinery (``unrolled.tasks.runs`` / ``session``), so
every task inherits them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and flock")

SRC = str(Path(__file__).resolve().parents[2] / "src")
TINY = ["--hidden", "8", "--embed", "4", "--layers", "1", "--batch-size", "2", "--bptt", "8", "--no-progress"]
QUIET = ["--sample-length", "0"]


def _text(lines: int) -> str:
    return "".join(f"line {i % 7} of a text, with number {i % 11}.\n" for i in range(lines))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("UNROLLED_DEBUG", None)
    return env


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "unrolled", *args],
        cwd=cwd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "unrolled", *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout
    )


def _wait_for(predicate, what: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the child ended ({proc.returncode}) before {what}: {out[-500:]} {err[-500:]}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture()
def long_text(tmp_path: Path) -> Path:
    """A text whose first epoch takes seconds with the tiny model (so a kill lands before its first checkpoint)."""
    path = tmp_path / "long.txt"
    path.write_text(_text(3000), encoding="utf-8")
    return path


def test_two_processes_on_one_folder_the_second_names_the_holder_then_sigterm_saves(tmp_path, long_text, capsys):
    run = tmp_path / "race"
    first = _start(["train", "lm", "--data", str(long_text), "--run-dir", str(run), "--epochs", "50", *TINY, *QUIET],
                   tmp_path)  # fmt: skip
    _wait_for(lambda: (run / "metrics.csv").is_file(), "the first process starts training", first)
    code, _, err = _main(capsys, ["train", "lm", "--data", str(long_text), "--run-dir", str(run), "--epochs", "1",
                                  *TINY])  # fmt: skip
    assert code == 2, err
    assert err == (
        f"unrolled: error: run folder {run} is in use by process {first.pid} (another 'unrolled train' writes it); "
        "wait for it to finish or stop it, or choose another --run-dir\n"
    )
    code, _, err = _main(capsys, ["train", "lm", "--resume", str(run)])  # two writers of one run: also refused
    assert code == 2 and f"in use by process {first.pid}" in err
    first.send_signal(signal.SIGTERM)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 128 + signal.SIGTERM, err
    assert "terminated (SIGTERM) at epoch 1" in err and "checkpoint saved to" in err, err
    assert "stopped: interrupted after" in out
    progress = json.loads((run / "checkpoint" / "progress.json").read_text())["tree"]
    assert progress["step"] > 0
    code, out, err = _main(capsys, ["train", "lm", "--resume", str(run), "--max-steps", str(progress["step"] + 2)])
    assert code == 0, err
    assert f"stopped: max_steps after {progress['step'] + 2} steps" in out


def test_kill_before_the_first_checkpoint_then_resume_starts_again(tmp_path, long_text, capsys):
    run = tmp_path / "early"
    proc = _start(["train", "lm", "--data", str(long_text), "--run-dir", str(run), "--epochs", "1", *TINY, *QUIET],
                  tmp_path)  # fmt: skip
    _wait_for(lambda: (run / "config.json").is_file(), "training starts", proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert not (run / "checkpoint").exists() and (run / "config.json").is_file()
    code, _, err = _main(capsys, ["train", "lm", "--data", str(long_text), "--run-dir", str(run), *TINY])
    assert code == 2 and f"pass --resume {run} to continue that run" in err
    code, out, err = _main(capsys, ["train", "lm", "--resume", str(run), "--max-steps", "3"])
    assert code == 0, err
    assert "stopped before its first checkpoint: training it again from the start" in out
    assert "stopped: max_steps after 3 steps" in out


def test_ctrl_c_exits_130_with_a_checkpoint(tmp_path, long_text):
    run = tmp_path / "int"
    proc = _start(["train", "lm", "--data", str(long_text), "--run-dir", str(run), "--epochs", "50", *TINY, *QUIET],
                  tmp_path)  # fmt: skip
    _wait_for(lambda: (run / "metrics.csv").is_file(), "training starts", proc)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted at epoch 1" in err and (run / "checkpoint" / "model.safetensors").is_file()


def _main(capsys, argv: list[str]) -> tuple[int, str, str]:
    """``unrolled ARGV`` in this process (the tests below need no signal: no process start to pay for)."""
    from unrolled.cli import main

    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def _trained_once(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("trained")
    (root / "t.txt").write_text(_text(40), encoding="utf-8")
    here = os.getcwd()
    os.chdir(root)  # the text is given relative: the run must record it absolute
    try:
        from unrolled.cli import main

        assert main(["train", "lm", "--data", "t.txt", "--run-dir", "run", "--epochs", "1", *TINY, *QUIET]) == 0
    finally:
        os.chdir(here)
    return root


@pytest.fixture()
def trained(_trained_once: Path, tmp_path: Path) -> Path:
    """A fresh copy of one small trained run (and its text, ``tmp_path / "t.txt"``)."""
    shutil.copy(_trained_once / "t.txt", tmp_path / "t.txt")
    shutil.copytree(_trained_once / "run", tmp_path / "run")
    return tmp_path / "run"


def test_a_swapped_vocabulary_is_refused(trained, tmp_path, capsys):
    vocab_path = trained / "vocab.json"
    vocab = json.loads(vocab_path.read_text())
    tokens = vocab["tokens"] if isinstance(vocab, dict) else vocab
    i, j = len(tokens) - 2, len(tokens) - 1
    tokens[i], tokens[j] = tokens[j], tokens[i]
    vocab_path.write_text(json.dumps(vocab), encoding="utf-8")
    code, _, err = _main(capsys, ["evaluate", str(trained), "--data", str(tmp_path / "t.txt")])
    assert code == 2 and "vocab.json: its content changed since it was written" in err and err.count("\n") == 1


def test_nan_weights_and_a_flipped_bit_are_refused(trained, tmp_path, capsys):
    best = trained / "best" / "model.safetensors"
    tensors = load_file(str(best))
    name = next(iter(tensors))
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    save_file(tensors, str(best))
    (trained / "best" / "digests.json").unlink()  # even without the digest, NaN weights are caught
    code, _, err = _main(capsys, ["evaluate", str(trained), "--data", str(tmp_path / "t.txt")])
    assert code == 2 and "holds NaN or infinite values" in err
    ckpt = trained / "checkpoint" / "model.safetensors"
    data = bytearray(ckpt.read_bytes())
    data[-3] ^= 0x01  # one flipped bit in the weights' bytes
    ckpt.write_bytes(bytes(data))
    code, _, err = _main(capsys, ["train", "lm", "--resume", str(trained), "--epochs", "2"])
    assert code == 2 and "model.safetensors: its content changed since it was written" in err


def test_progress_json_that_parses_but_is_wrong_is_refused(trained, capsys):
    path = trained / "checkpoint" / "progress.json"
    for bad, what in (("step", -5), ("batch", None)):
        data = json.loads(path.read_text())
        data["tree"][bad] = what
        path.write_text(json.dumps(data), encoding="utf-8")
        (trained / "checkpoint" / "digests.json").unlink(missing_ok=True)  # the value check itself must catch it
        code, _, err = _main(capsys, ["train", "lm", "--resume", str(trained), "--epochs", "2"])
        assert code == 2 and f"{bad} must be an integer >= 0, got {what!r}" in err


def test_resume_from_another_working_directory(trained, tmp_path, capsys, monkeypatch):
    saved = json.loads((trained / "config.json").read_text())
    assert Path(saved["data"]["path"]).is_absolute()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    saved["data"]["path"] = str(tmp_path / "t.txt")  # this copy's text (the recorded one is the original's)
    (trained / "config.json").write_text(json.dumps(saved), encoding="utf-8")
    code, out, err = _main(capsys, ["train", "lm", "--resume", str(trained), "--epochs", "2"])
    assert code == 0, err
    assert "stopped: completed" in out


def test_a_resume_that_trains_nothing_leaves_the_config_as_it_was(trained, capsys):
    before = (trained / "config.json").read_bytes()
    code, out, _ = _main(capsys, ["train", "lm", "--resume", str(trained), "--max-steps", "2"])
    assert code == 0 and "nothing to do" in out
    assert (trained / "config.json").read_bytes() == before


def test_a_device_file_as_data_is_refused(tmp_path, capsys):
    code, _, err = _main(capsys, ["train", "lm", "--data", "/dev/zero", "--run-dir", str(tmp_path / "z"), *TINY])
    assert code == 2 and "is not a regular file" in err
    assert not (tmp_path / "z").exists()


def test_missing_best_weights_are_said_not_silently_replaced(trained, capsys):
    (trained / "best" / "model.safetensors").unlink()
    code, out, _ = _main(capsys, ["info", str(trained)])
    assert code == 0 and "best/model.safetensors) are missing: commands use the latest checkpoint" in out
    code, out, err = _main(capsys, ["generate", str(trained), "--length", "5"])
    assert code == 0 and "has no best validation weights (best/): using the latest checkpoint" in err
    shutil.rmtree(trained / "checkpoint")
    code, _, err = _main(capsys, ["generate", str(trained), "--last"])
    assert code == 2 and "has no weights yet" in err
