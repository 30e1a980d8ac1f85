"""kill -9 at random moments, then resume: does the resumed run equal the uninterrupted one, and how much is lost?

One uninterrupted reference run of a small character LM (fixed seed, a checkpoint every ``--checkpoint-every``
steps) gives the losses of every step (``metrics.csv``) and the final weights. Then, N times: start the same run
in a fresh folder, SIGKILL it at a random moment, resume it (``unrolled train lm --resume``) until it ends, and
compare its losses row for row and its final weights bit for bit with the reference. The work lost per kill is the
steps (and seconds) between the last checkpoint and the kill. A kill before the first checkpoint restarts the run
from its saved config (the run machinery does that on resume).

    python benchmarks/kill_resume.py              # 20 kills (default)
    python benchmarks/kill_resume.py --kills 5

Targets: N of N resumed runs equal the reference; lost work per kill at most one checkpoint interval.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from safetensors.torch import load_file

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


def _argv(data: Path, run: Path, steps: int, every: int) -> list[str]:
    return [
        sys.executable, "-m", "unrolled", "train", "lm", "--data", str(data), "--run-dir", str(run),
        "--hidden", "32", "--embed", "16", "--layers", "1", "--batch-size", "8", "--bptt", "32",
        "--max-steps", str(steps), "--epochs", "100", "--sample-length", "0", "--no-progress",
        "--eval-every", str(every), "--set", f"train.checkpoint_every={every}", "--seed", "3",
    ]  # fmt: skip


def _losses(run: Path) -> list[tuple[str, str, str]]:
    with open(run / "metrics.csv", newline="", encoding="utf-8") as f:
        return [(r["split"], r["step"], r["loss"]) for r in csv.DictReader(f)]


def _weights(run: Path) -> dict:
    return load_file(str(run / "checkpoint" / "model.safetensors"))


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--checkpoint-every", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = root / "text.txt"
        data.write_text("".join(f"line {i % 13}: the quick brown fox {i % 7} jumps.\n" for i in range(1500)))
        ref = root / "ref"
        proc = subprocess.Popen(_argv(data, ref, args.steps, args.checkpoint_every), env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        t0 = time.perf_counter()
        while not (ref / "metrics.csv").is_file():  # training starts (imports and data preparation done)
            time.sleep(0.01)
        t1 = time.perf_counter()
        proc.wait()
        train_time = time.perf_counter() - t1
        ref_losses, ref_weights = _losses(ref), _weights(ref)
        print(f"reference: start-up {t1 - t0:.1f} s, then {args.steps} steps in {train_time:.1f} s")
        ref_time = train_time
        matched, lost_steps, lost_s = 0, [], []
        for k in range(args.kills):
            run = root / f"kill{k}"
            proc = subprocess.Popen(_argv(data, run, args.steps, args.checkpoint_every), env=_env(),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            while not (run / "metrics.csv").is_file() and proc.poll() is None:
                time.sleep(0.01)
            delay = rng.uniform(0.0, ref_time * 0.95)  # a random moment of the training
            time.sleep(delay)
            progress = run / "metrics.csv"
            steps_done = 0
            if progress.is_file():  # the last logged step before the kill (train rows are logged every few steps)
                rows = [r for r in _losses(run) if r[0] == "train"]
                steps_done = int(rows[-1][1]) if rows else 0
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            saved = 0
            ckpt = run / "checkpoint" / "progress.json"
            if ckpt.is_file():
                saved = json.loads(ckpt.read_text())["tree"]["step"]
            lost = 0 if proc.returncode == 0 else max(0, steps_done - saved)
            lost_steps.append(lost)
            lost_s.append(lost * ref_time / args.steps)
            subprocess.run([sys.executable, "-m", "unrolled", "train", "lm", "--resume", str(run), "--no-progress"],
                           env=_env(), check=True, capture_output=True)  # fmt: skip
            same = _losses(run) == ref_losses and _same(_weights(run), ref_weights)
            matched += same
            verdict = "equals" if same else "DIFFERS FROM"
            print(f"kill {k + 1:2d} at {delay:5.2f} s of training: checkpoint at step {saved:3d}, lost {lost:3d} "
                  f"steps, resumed run {verdict} the reference")  # fmt: skip
        print(
            f"\n{matched} of {args.kills} resumed runs equal the uninterrupted run (losses row for row, final weights "
            f"bit for bit); lost work per kill: median {statistics.median(lost_steps):.0f} steps "
            f"({statistics.median(lost_s):.2f} s), max {max(lost_steps)} steps ({max(lost_s):.2f} s); checkpoint "
            f"interval {args.checkpoint_every} steps"
        )


if __name__ == "__main__":
    main()
