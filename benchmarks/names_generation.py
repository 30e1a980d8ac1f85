"""A name given its language: the ``conditioned`` task on ``names/`` (one file per language, a name per line),
10% of every language held out with a fixed seed. Prints the held-out per-character perplexity of the model given
the language, of the same model without it (the label mixture with the training prior, and the labels shuffled),
and of a separately trained unconditioned model of the same size on the same split (every name under one label),
then a few sampled names per language.

Every model gets the same number of optimizer steps (``--steps``), so the figures do not depend on the machine's
load; the script trains through the command line's own path (``unrolled train conditioned``).

    python benchmarks/names_generation.py                        # 1500 steps per model, a few minutes
    python benchmarks/names_generation.py --steps 6000 --hidden 256 --conditioning every_step
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import machine, set_threads  # noqa: E402
from unrolled.cli import main as cli  # noqa: E402
from unrolled.data.labelled import read_class_folder, stratified_split  # noqa: E402
from unrolled.tasks.conditioned.run import generate_for, load_run, read_split, score_split  # noqa: E402

DATA = Path("/work/shared/data/names")


def write_tsv(path: Path, data, label: str | None = None) -> None:
    path.write_text("".join(f"{label or lab[0]}\t{text}\n" for text, lab in zip(data.texts, data.labels)), "utf-8")


def train(folder: Path, name: str, train_tsv: Path, valid_tsv: Path, args) -> tuple[Path, float]:
    run_dir = folder / name
    argv = ["train", "conditioned", "--data", train_tsv, "--valid", valid_tsv, "--conditioning", args.conditioning,
            "--cell", args.cell, "--hidden", args.hidden, "--embed", args.embed, "--label-dim", args.label_dim,
            "--max-steps", args.steps, "--epochs", 1000, "--lr", args.lr, "--batch-size", 32, "--seed", args.seed,
            "--eval-every", args.steps, "--no-progress", "--set", "train.plot=false", "--run-dir", run_dir]  # fmt: skip
    cpu = time.process_time()
    code = cli([str(a) for a in argv])
    if code != 0:
        raise SystemExit(f"training {name} failed (exit {code})")
    return run_dir, time.process_time() - cpu


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--steps", type=int, default=1500, help="optimizer steps per model (default 1500)")
    p.add_argument("--conditioning", choices=["init", "every_step"], default="init")
    p.add_argument("--cell", default="lstm")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--embed", type=int, default=32)
    p.add_argument("--label-dim", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, default=3, help="sampled names per language (default 3)")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-baseline", action="store_true", help="skip the separately trained unconditioned model")
    args = p.parse_args(argv)
    set_threads(args.threads)
    print(machine())
    data = read_class_folder(args.data)
    train_part, valid_part = stratified_split(data, 0.1, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_tsv(folder / "train.tsv", train_part)
        write_tsv(folder / "valid.tsv", valid_part)
        print(f"{args.data}: {len(data):,} names, {len(data.classes)} languages; {len(train_part):,} train, "
              f"{len(valid_part):,} held out (10% of every language, seed {args.seed}); characters; {args.cell} "
              f"H={args.hidden} E={args.embed} label width {args.label_dim}, {args.conditioning} conditioning; "
              f"{args.steps} steps of batch 32 per model")  # fmt: skip
        run_dir, cpu = train(folder, "conditioned", folder / "train.tsv", folder / "valid.tsv", args)
        run = load_run(run_dir)
        m = score_split(run, read_split(run, str(folder / "valid.tsv")))
        rows = [
            ("given the language", m["conditioned_loss"]),
            ("same model, language mixed out (training prior)", m["unconditioned_loss"]),
            ("same model, languages shuffled (expectation)", m["shuffled_loss"]),
        ]
        if not args.no_baseline:
            write_tsv(folder / "train_all.tsv", train_part, label="all")
            write_tsv(folder / "valid_all.tsv", valid_part, label="all")
            all_train, all_valid = folder / "train_all.tsv", folder / "valid_all.tsv"
            base_dir, base_cpu = train(folder, "unconditioned", all_train, all_valid, args)
            base = load_run(base_dir)
            b = score_split(base, read_split(base, str(folder / "valid_all.tsv")))
            rows.append(("separate unconditioned model, same size and steps", b["conditioned_loss"]))
        print(f"\nheld-out {m['sequences']:,} names, {m['tokens']:,} characters incl. <eos>; training CPU {cpu:.0f} s"
              + ("" if args.no_baseline else f" (+ {base_cpu:.0f} s for the unconditioned model)"))  # fmt: skip
        print(f"{'model':52s} {'nats/char':>9s} {'perplexity':>10s}")
        for name, loss in rows:
            print(f"{name:52s} {loss:9.4f} {math.exp(loss):10.3f}")
        print(f"language accuracy from argmax p(language) p(name | language): {m['label_accuracy']:.3f}")
        print(f"\n{args.samples} samples per language (temperature {args.temperature}, seed {args.seed}), then greedy:")
        torch.manual_seed(args.seed)
        samples = generate_for(run, run.labels, args.samples, args.temperature, seed=args.seed)
        greedy = generate_for(run, run.labels, 1, 0.0)
        for label, names, best in zip(run.labels, samples, greedy):
            print(f"{label:12s} {', '.join(names)}  | greedy: {best[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
