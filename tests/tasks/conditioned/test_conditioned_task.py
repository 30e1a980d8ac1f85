"""The conditioned task through the command line (train, evaluate, predict, info on tiny data), the scores against
a token-by-token hand computation, a model that overfits two labels exactly, seeds, and the one-line errors."""

from __future__ import annotations

import io
import json
import math
import sys

import pytest
import torch

from unrolled.cli import main
from unrolled.tasks.conditioned.run import generate_for, load_run, own_split, score_split

SEQS = {"A": "abba", "B": "baab"}  # the same characters: only the label tells which sequence follows
TINY = ["--hidden", "16", "--embed", "8", "--label-dim", "8", "--lr", "0.05", "--batch-size", "5", "--no-progress",
        "--set", "train.plot=false"]  # fmt: skip


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(code, err, text):
    return code != 0 and text in err and len(err.strip().splitlines()) == 1


def folder(root, seqs=SEQS, copies=6):
    root.mkdir()
    for label, text in seqs.items():
        (root / f"{label}.txt").write_text((text + "\n") * copies, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("conditioned")
    data = folder(root / "names")
    run_dir = root / "run"
    code = main(["train", "conditioned", "--data", str(data), "--conditioning", "init", *TINY, "--epochs", "30",
                 "--run-dir", str(run_dir)])  # fmt: skip
    assert code == 0
    return run_dir, data


def test_train_writes_a_conditioned_run(run):
    run_dir, _ = run
    config = json.loads((run_dir / "config.json").read_text())
    assert config["task"] == "conditioned" and config["labels"] == ["A", "B"]
    # 6 copies per label, round(0.1 * 6) = 1 held out of each: 5 + 5 train, 1 + 1 valid
    assert config["label_counts"] == [5, 5] and config["source"]["train"] == 10 and config["source"]["valid"] == 2
    assert config["max_tokens"] == 4 and config["data"]["tokenizer"] == "char"
    assert (run_dir / "vocab.json").is_file() and (run_dir / "best" / "model.safetensors").is_file()


def test_each_label_generates_its_own_sequence_exactly(run, capsys, tmp_path, monkeypatch):
    run_dir, _ = run
    code, out, _ = cli(capsys, "predict", run_dir, "A", "--temperature", "0")
    assert code == 0 and out == "A\tabba\n"
    labels = tmp_path / "labels.txt"
    labels.write_text("B\n\nA\nB\n", encoding="utf-8")
    code, out, _ = cli(capsys, "predict", run_dir, labels, "--temperature", "0", "--samples", "2")
    assert code == 0 and out.splitlines() == ["B\tbaab"] * 2 + ["A\tabba"] * 2 + ["B\tbaab"] * 2
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"B\nA\n")))
    code, out, _ = cli(capsys, "predict", run_dir, "-", "--temperature", "0")
    assert code == 0 and out.splitlines() == ["B\tbaab", "A\tabba"]


def test_evaluate_numbers_of_an_overfit_model(run, capsys):
    # p(x | other label) ~ 0: the label mixture with prior (1/2, 1/2) gives each held-out sequence half its
    # conditioned probability, spread over its 5 predicted tokens (4 characters and <eos>): log(2) / 5 nats per token
    run_dir, _ = run
    code, out, _ = cli(capsys, "evaluate", run_dir, "--json")
    assert code == 0
    m = json.loads(out)
    assert m["task"] == "conditioned" and m["data"] == "validation split"
    assert m["sequences"] == 2 and m["tokens"] == 10
    assert m["conditioned_loss"] < 0.05
    assert m["conditioned_perplexity"] == pytest.approx(math.exp(m["conditioned_loss"]))
    assert m["unconditioned_loss"] == pytest.approx(m["conditioned_loss"] + math.log(2) / 5, abs=0.005)
    assert m["shuffled_loss"] > 0.5 and m["label_accuracy"] == 1.0
    assert m["label_gain_nats_per_token"] == pytest.approx(m["unconditioned_loss"] - m["conditioned_loss"])
    code, out, _ = cli(capsys, "evaluate", run_dir)
    assert code == 0 and "validation split (2 sequences, 10 tokens" in out and "the label buys" in out


@torch.no_grad()
def _hand_logprob(model, label: int, ids: list[int]) -> float:
    """log p(x | label), one token at a time through the decoding step (no padding, no batching)."""
    state = model.start(torch.tensor([label]))
    total = 0.0
    for prev, nxt in zip(ids[:-1], ids[1:]):
        logits, state = model.step(torch.tensor([prev]), state)
        total += float(torch.log_softmax(logits.double(), -1)[0, nxt])
    return total


def test_scores_equal_a_token_by_token_hand_computation(run, tmp_path):
    run_dir, _ = run
    data = tmp_path / "mixed.tsv"  # sequences of different lengths: padding must not count
    data.write_text("A\tab\nB\tbaaba\nA\tabbab\nB\tb\nB\tba\n", encoding="utf-8")
    loaded = load_run(run_dir)
    from unrolled.tasks.conditioned.run import read_split

    split = read_split(loaded, str(data))
    m = score_split(loaded, split)
    logp = [[_hand_logprob(loaded.model, c, s.tolist()) for c in range(2)] for s in split.ids]
    y = split.targets.tolist()
    tokens = sum(len(s) - 1 for s in split.ids)
    prior = [0.5, 0.5]  # the training label counts are 5 and 5
    q = [y.count(0) / len(y), y.count(1) / len(y)]
    cond = -sum(row[t] for row, t in zip(logp, y)) / tokens
    uncond = -sum(math.log(sum(p * math.exp(v) for p, v in zip(prior, row))) for row in logp) / tokens
    shuffled = -sum(qc * v for row in logp for qc, v in zip(q, row)) / tokens
    accuracy = sum(max(range(2), key=lambda c, r=row: r[c]) == t for row, t in zip(logp, y)) / len(y)
    assert m["tokens"] == tokens == 5 * 1 + (2 + 5 + 5 + 1 + 2)
    assert m["conditioned_loss"] == pytest.approx(cond, rel=1e-6)
    assert m["unconditioned_loss"] == pytest.approx(uncond, rel=1e-6)
    assert m["shuffled_loss"] == pytest.approx(shuffled, rel=1e-6)
    assert m["label_accuracy"] == accuracy


def test_same_seed_same_samples(run, capsys):
    run_dir, _ = run
    args = ["predict", run_dir, "A", "--samples", "6", "--temperature", "10"]
    first, second = cli(capsys, *args, "--seed", "3"), cli(capsys, *args, "--seed", "3")
    other = cli(capsys, *args, "--seed", "4")
    assert first[0] == 0 and first == second and len(first[1].splitlines()) == 6
    assert other[1] != first[1]  # at temperature 10 the draws are near uniform: another seed gives others
    loaded = load_run(run_dir)
    assert generate_for(loaded, ["A", "B"], 3, 1.0, seed=7) == generate_for(loaded, ["A", "B"], 3, 1.0, seed=7)


def test_own_split_is_the_recorded_held_out_split(run):
    loaded = load_run(run[0])
    split, where = own_split(loaded)
    assert where == "validation split" and sorted(split.targets.tolist()) == [0, 1] and len(split.ids) == 2


def test_info(run, capsys):
    run_dir, _ = run
    code, out, _ = cli(capsys, "info", run_dir, "--json")
    info = json.loads(out)
    assert code == 0 and info["task"] == "conditioned" and info["labels"] == ["A", "B"]
    assert "lstm decoder" in info["description"] and "conditioned on 2 labels" in info["description"]
    code, out, _ = cli(capsys, "info", run_dir)
    assert code == 0 and "conditioned" in out


def test_tsv_data_with_word_tokens_every_step(tmp_path, capsys):
    data = tmp_path / "captions.tsv"
    data.write_text("".join(f"{lab}\t{text}\n" for lab, text in [("cat", "a small cat"), ("dog", "a big dog")] * 4),
                    encoding="utf-8")  # fmt: skip
    run_dir = tmp_path / "run"
    code, out, _ = cli(capsys, "train", "conditioned", "--data", data, "--tokenizer", "word", "--conditioning",
                       "every_step", *TINY, "--epochs", "1", "--run-dir", run_dir)  # fmt: skip
    assert code == 0 and "6 train / 2 valid sequences, 2 labels, vocabulary 9 word tokens" in out
    code, out, _ = cli(capsys, "predict", run_dir, "dog", "--max-length", "3", "--seed", "1")
    assert code == 0 and out.startswith("dog\t") and len(out.split("\t")[1].split()) <= 3


def test_one_line_errors(run, capsys, tmp_path):
    run_dir, _ = run
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli(capsys, "train", "conditioned", "--data", empty, *TINY, "--run-dir", tmp_path / "r1")
    assert one_line_error(code, err, "is empty; expected one file or sub-folder per class")
    bad = folder(tmp_path / "bad")
    (bad / "C.txt").write_bytes(b"ok\n\xff\xfe\n")
    code, _, err = cli(capsys, "train", "conditioned", "--data", bad, *TINY, "--run-dir", tmp_path / "r2")
    assert one_line_error(code, err, "C.txt:2: not valid UTF-8")
    one = tmp_path / "one.tsv"
    one.write_text("A\tabba\nbaab\n", encoding="utf-8")
    code, _, err = cli(capsys, "train", "conditioned", "--data", one, *TINY, "--run-dir", tmp_path / "r3")
    assert one_line_error(code, err, "one.tsv:2: has 1 columns, expected at least 2")
    code, _, err = cli(capsys, "train", "conditioned", *TINY, "--run-dir", tmp_path / "r4")
    assert one_line_error(code, err, "conditioned needs --data PATH")
    code, _, err = cli(capsys, "train", "conditioned", "--data", bad, "--set", "model.label_dim=0")
    assert one_line_error(code, err, "model.label_dim must be a positive integer, got 0")
    code, _, err = cli(capsys, "predict", run_dir, "C")
    assert one_line_error(code, err, "unknown label 'C'; the run knows 2 labels: A, B")
    labels = tmp_path / "labels.txt"
    labels.write_text("A\nZ\n", encoding="utf-8")
    code, _, err = cli(capsys, "predict", run_dir, labels)
    assert one_line_error(code, err, "labels.txt line 2: unknown label 'Z'; the run knows 2 labels: A, B")
    code, _, err = cli(capsys, "predict", run_dir)
    assert one_line_error(code, err, "predict needs INPUT")
    code, _, err = cli(capsys, "predict", run_dir, "A", "--samples", "0")
    assert one_line_error(code, err, "samples must be a positive integer, got 0")
    code, _, err = cli(capsys, "evaluate", run_dir, "--data", one)
    assert one_line_error(code, err, "has 1 columns")
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r3").exists()
