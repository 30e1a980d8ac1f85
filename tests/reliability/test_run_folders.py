"""Run folders under hostile but realistic use: real child processes, real signals (each test a few seconds).

Each test reproduces a defect found by trying the language-model runs as such a user would: two processes on one
folder, SIGTERM mid-run, kill -9 before the first checkpoint, a swapped vocabulary, NaN weights, a resume from
another working directory. The fixes live in the shared run machinery (``unrolled.tasks.runs`` / ``session``), so
every task inherits them.
"""

from __future__ import annotations

import json
import os
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


def test_two_processes_on_one_folder_the_second_names_the_holder_then_sigterm_saves(tmp_path, long_text):
    run = tmp_path / "race"
    first = _start(["train", "lm", "--data", str(long_text), "--run-dir", str(run), "--epochs", "50", *TINY, *QUIET],
                   tmp_path)  # fmt: skip
    _wait_for(lambda: (run / "config.json").is_file(), "the first process starts training", first)
    second = _run(["train", "lm", "--data", str(long_text), "--run-dir", str(run), "--epochs", "1", *TINY], tmp_path)
    assert second.returncode == 2, second.stderr
    assert second.stderr == (
        f"unrolled: error: run folder {run} is in use by process {first.pid} (another 'unrolled train' writes it); "
        "wait for it to finish or stop it, or choose another --run-dir\n"
    )
    resumed = _run(["train", "lm", "--resume", str(run)], tmp_path)  # two writers of one run: also refused
    assert resumed.returncode == 2 and f"in use by process {first.pid}" in resumed.stderr
    first.send_signal(signal.SIGTERM)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 128 + signal.SIGTERM, err
    assert "terminated (SIGTERM) at epoch 1" in err and "checkpoint saved to" in err, err
    assert "stopped: interrupted after" in out
    progress = json.loads((run / "checkpoint" / "progress.json").read_text())["tree"]
    assert progress["step"] > 0
    again = _run(["train", "lm", "--resume", str(run), "--max-steps", str(progress["step"] + 2)], tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"stopped: max_steps after {progress['step'] + 2} steps" in again.stdout


def test_kill_before_the_first_checkpoint_then_resume_starts_again(tmp_path, long_text):
    run = tmp_path / "early"
    proc = _start(["train", "lm", "--data", str(long_text), "--run-dir", str(run), "--epochs", "1", *TINY, *QUIET],
                  tmp_path)  # fmt: skip
    _wait_for(lambda: (run / "config.json").is_file(), "training starts", proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert not (run / "checkpoint").exists() and (run / "config.json").is_file()
    again = _run(["train", "lm", "--data", str(long_text), "--run-dir", str(run), *TINY], tmp_path)
    assert again.returncode == 2 and f"pass --resume {run} to continue that run" in again.stderr
    resumed = _run(["train", "lm", "--resume", str(run), "--max-steps", "3"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "stopped before its first checkpoint: training it again from the start" in resumed.stdout
    assert "stopped: max_steps after 3 steps" in resumed.stdout


def test_ctrl_c_exits_130_with_a_checkpoint(tmp_path, long_text):
    run = tmp_path / "int"
    proc = _start(["train", "lm", "--data", str(long_text), "--run-dir", str(run), "--epochs", "50", *TINY, *QUIET],
                  tmp_path)  # fmt: skip
    _wait_for(lambda: (run / "config.json").is_file(), "training starts", proc)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted at epoch 1" in err and (run / "checkpoint" / "model.safetensors").is_file()


@pytest.fixture()
def trained(tmp_path: Path) -> Path:
    text = tmp_path / "t.txt"
    text.write_text(_text(40), encoding="utf-8")
    run = tmp_path / "run"
    done = _run(["train", "lm", "--data", "t.txt", "--run-dir", "run", "--epochs", "1", *TINY, *QUIET], tmp_path)
    assert done.returncode == 0, done.stderr
    return run


def test_a_swapped_vocabulary_is_refused(trained, tmp_path):
    vocab_path = trained / "vocab.json"
    vocab = json.loads(vocab_path.read_text())
    tokens = vocab["tokens"] if isinstance(vocab, dict) else vocab
    i, j = len(tokens) - 2, len(tokens) - 1
    tokens[i], tokens[j] = tokens[j], tokens[i]
    vocab_path.write_text(json.dumps(vocab), encoding="utf-8")
    out = _run(["evaluate", str(trained), "--data", str(tmp_path / "t.txt")], tmp_path)
    assert out.returncode == 2 and "vocab.json: its content changed since it was written" in out.stderr
    assert out.stderr.count("\n") == 1


def test_nan_weights_and_a_flipped_bit_are_refused(trained, tmp_path):
    best = trained / "best" / "model.safetensors"
    tensors = load_file(str(best))
    name = next(iter(tensors))
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    save_file(tensors, str(best))
    (trained / "best" / "digests.json").unlink()  # even without the digest, NaN weights are caught
    out = _run(["evaluate", str(trained), "--data", str(tmp_path / "t.txt")], tmp_path)
    assert out.returncode == 2 and "holds NaN or infinite values" in out.stderr
    ckpt = trained / "checkpoint" / "model.safetensors"
    data = bytearray(ckpt.read_bytes())
    data[-3] ^= 0x01  # one flipped bit in the weights' bytes
    ckpt.write_bytes(bytes(data))
    out = _run(["train", "lm", "--resume", str(trained), "--epochs", "2"], tmp_path)
    assert out.returncode == 2 and "model.safetensors: its content changed since it was written" in out.stderr


def test_progress_json_that_parses_but_is_wrong_is_refused(trained, tmp_path):
    path = trained / "checkpoint" / "progress.json"
    for bad, what in (("step", -5), ("batch", None)):
        data = json.loads(path.read_text())
        data["tree"][bad] = what
        path.write_text(json.dumps(data), encoding="utf-8")
        (trained / "checkpoint" / "digests.json").unlink(missing_ok=True)  # the value check itself must catch it
        out = _run(["train", "lm", "--resume", str(trained), "--epochs", "2"], tmp_path)
        assert out.returncode == 2 and f"{bad} must be an integer >= 0, got {what!r}" in out.stderr


def test_resume_from_another_working_directory(trained, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = _run(["train", "lm", "--resume", str(trained), "--epochs", "2"], elsewhere)
    assert out.returncode == 0, out.stderr
    saved = json.loads((trained / "config.json").read_text())
    assert Path(saved["data"]["path"]).is_absolute()


def test_a_resume_that_trains_nothing_leaves_the_config_as_it_was(trained, tmp_path):
    before = (trained / "config.json").read_bytes()
    out = _run(["train", "lm", "--resume", str(trained), "--max-steps", "2"], tmp_path)
    assert out.returncode == 0 and "nothing to do" in out.stdout
    assert (trained / "config.json").read_bytes() == before


def test_a_device_file_as_data_is_refused(tmp_path):
    out = _run(["train", "lm", "--data", "/dev/zero", "--run-dir", str(tmp_path / "z"), *TINY], tmp_path, timeout=60)
    assert out.returncode == 2 and "is not a regular file" in out.stderr
    assert not (tmp_path / "z").exists()
