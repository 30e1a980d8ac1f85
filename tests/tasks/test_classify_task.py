"""The classify task through the command line: train (CSV, folder per class, multi-label, vectors), evaluate,
predict, info, neighbours, and the one-line errors."""

from __future__ import annotations

import io
import json
import sys

import pytest

from unrolled.cli import main

POS, NEG, FILL = ["good", "great", "fine"], ["bad", "awful", "poor"], ["the", "film", "was", "a", "plot"]
TINY = ["--hidden", "8", "--embed", "6", "--epochs", "3", "--lr", "0.02", "--batch-size", "8", "--no-progress"]


def reviews(n=48):
    rows = ["id,review,sentiment"]
    for i in range(n):
        word = (POS if i % 2 else NEG)[i % 3]
        rows.append(f"{i},{FILL[i % 5]} {word} {FILL[(i + 2) % 5]},{'pos' if i % 2 else 'neg'}")
    return "\n".join(rows) + "\n"


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify")
    data = root / "reviews.csv"
    data.write_text(reviews(), encoding="utf-8")
    run_dir = root / "run"
    code = main(["train", "classify", "--data", str(data), "--text-column", "review", "--label-column", "sentiment",
                 *TINY, "--epochs", "6", "--run-dir", str(run_dir)])  # fmt: skip
    assert code == 0
    return run_dir, data


def test_train_writes_a_classification_run(run):
    run_dir, _ = run
    config = json.loads((run_dir / "config.json").read_text())
    assert config["task"] == "classify" and config["labels"] == ["neg", "pos"] and config["head"] == "binary"
    assert config["source"]["train"] + config["source"]["valid"] == 48 and config["source"]["valid"] == 4
    assert config["model"]["embed_dim"] == 6
    assert (run_dir / "vocab.json").is_file() and (run_dir / "best" / "model.safetensors").is_file()


def test_evaluate_json_and_confusion_png(run, capsys, tmp_path):
    run_dir, data = run
    png = tmp_path / "c.png"
    code, out, _ = cli(capsys, "evaluate", run_dir, "--data", data, "--json", "--confusion", png)
    assert code == 0
    report = json.loads(out)
    assert report["task"] == "classify" and report["labels"] == ["neg", "pos"]
    cm = report["confusion"]
    assert sum(map(sum, cm)) == 48 and [r["support"] for r in report["per_class"]] == [24, 24]
    assert report["accuracy"] == pytest.approx((cm[0][0] + cm[1][1]) / 48)
    assert report["accuracy"] >= 0.9  # the sentiment word decides the label
    assert png.read_bytes()[:4] == b"\x89PNG"
    code, out, _ = cli(capsys, "evaluate", run_dir)  # its own validation split, PNG into the run folder
    assert code == 0 and "validation split (4 examples)" in out and (run_dir / "confusion.png").is_file()


def test_predict_file_and_stdin(run, capsys, tmp_path, monkeypatch):
    run_dir, _ = run
    texts = tmp_path / "texts.txt"
    texts.write_text("the film was good\n\na plot was awful\n", encoding="utf-8")
    code, out, _ = cli(capsys, "predict", run_dir, texts)
    lines = out.splitlines()
    assert code == 0 and [line.split("\t")[0] for line in lines] == ["pos", "neg"]
    assert all(0.5 <= float(line.split("\t")[1]) <= 1 for line in lines)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"great plot\n")))
    code, out, _ = cli(capsys, "predict", run_dir, "-")
    assert code == 0 and out.startswith("pos\t")


def test_info_and_neighbours(run, capsys):
    run_dir, _ = run
    code, out, _ = cli(capsys, "info", run_dir, "--json")
    info = json.loads(out)
    assert code == 0 and info["task"] == "classify" and "lstm classifier" in info["description"]
    code, out, _ = cli(capsys, "neighbours", run_dir, "good", "--k", "3")
    rows = [line.split("\t") for line in out.splitlines()]
    assert code == 0 and len(rows) == 3 and "good" not in [w for w, _ in rows]
    assert not any(w.startswith("<") for w, _ in rows)
    sims = [float(s) for _, s in rows]
    assert sims == sorted(sims, reverse=True) and all(-1 <= s <= 1 for s in sims)
    code, _, err = cli(capsys, "neighbours", run_dir, "zebra")
    assert code != 0 and "'zebra' is not in the vocabulary" in err and len(err.strip().splitlines()) == 1


def test_folder_per_class_char_bidirectional_attention_balanced(tmp_path, capsys):
    names = tmp_path / "names"
    names.mkdir()
    (names / "Greek.txt").write_text("\n".join(f"{s}opoulos" for s in "abcdefghijkl") + "\n", encoding="utf-8")
    (names / "Irish.txt").write_text("\n".join(f"O'{s}ill" for s in "abcdef") + "\n", encoding="utf-8")
    (names / "Dutch.txt").write_text("\n".join(f"van {s}ijk" for s in "abcdef") + "\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    code, out, _ = cli(capsys, "train", "classify", "--data", names, "--tokenizer", "char", "--cell", "gru",
                       "--bidirectional", "--pooling", "attention", "--class-weights", "balanced", *TINY,
                       "--run-dir", run_dir)  # fmt: skip
    assert code == 0 and "3 labels (multiclass)" in out
    config = json.loads((run_dir / "config.json").read_text())
    assert config["labels"] == ["Dutch", "Greek", "Irish"]
    assert config["class_weights"] == pytest.approx(
        [21 / (3 * 5), 21 / (3 * 11), 21 / (3 * 5)]
    )  # N / (C n_c), train split
    texts = tmp_path / "t.txt"
    texts.write_text("xopoulos\n", encoding="utf-8")
    code, out, _ = cli(capsys, "predict", run_dir, texts)
    assert code == 0 and out.split("\t")[0] in config["labels"]


def test_multi_label_with_frozen_vectors(tmp_path, capsys):
    data = tmp_path / "tags.tsv"
    rows = ["text\ttags"]
    for i in range(30):
        tags = ",".join(t for t, on in (("sport", i % 2), ("money", i % 3 == 0)) if on) or "other"
        words = " ".join(w for w, on in (("goal", i % 2), ("bank", i % 3 == 0), ("news", True)) if on)
        rows.append(f"{words}\t{tags}")
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    vectors = tmp_path / "vec.txt"
    vectors.write_text("3 4\ngoal 1 0 0 0\nbank 0 1 0 0\nnews 0 0 1 0\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    code, out, _ = cli(capsys, "train", "classify", "--data", data, "--text-column", "text", "--label-column", "tags",
                       "--multi-label", "--vectors", vectors, "--freeze", *TINY[:2], *TINY[4:],
                       "--run-dir", run_dir)  # fmt: skip
    assert code == 0 and "(multilabel)" in out and "cover 3/3 vocabulary words (100.0%)" in out and "(frozen)" in out
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["embed_dim"] == 4 and config["vectors"]["found"] == 3
    assert config["labels"] == ["money", "other", "sport"]
    code, out, _ = cli(capsys, "evaluate", run_dir, "--data", data, "--json")
    report = json.loads(out)
    assert code == 0 and report["confusion"] is None and len(report["per_class"]) == 3


def test_one_line_errors(run, capsys, tmp_path):
    run_dir, data = run
    bad = tmp_path / "bad.csv"
    bad.write_text("review,sentiment\nso good,pos\nmeh,neutral\n", encoding="utf-8")
    code, _, err = cli(capsys, "evaluate", run_dir, "--data", bad)
    assert code != 0 and "bad.csv:3: unknown label 'neutral'" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli(capsys, "train", "classify", "--data", data, "--text-column", "review",
                       "--label-column", "stars", *TINY, "--run-dir", tmp_path / "r1")  # fmt: skip
    assert code != 0 and "no column 'stars' for the label column" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r1" / "config.json").exists()
    code, _, err = cli(capsys, "train", "classify", *TINY, "--run-dir", tmp_path / "r2")
    assert code != 0 and "needs --data" in err
    code, _, err = cli(capsys, "train", "classify", "--data", data, "--freeze", *TINY, "--run-dir", tmp_path / "r3")
    assert code != 0 and "data.freeze" in err
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    code, _, err = cli(capsys, "predict", run_dir, empty)
    assert code != 0 and "has no text" in err


def test_batches_cover_every_example_once_and_shard_by_rows():
    import torch

    from unrolled.data.labelled import LabelledData
    from unrolled.tasks.classify.data import ClassifyBatches, Split

    ids = [torch.full((n,), 4) for n in [3, 1, 2, 5, 4, 2, 1, 3]]
    split = Split(ids, torch.arange(8), LabelledData(["x"] * 8, [("a",)] * 8))
    batches = ClassifyBatches(split, 4, pad_id=1, shuffle=True, seed=0)
    seen = []
    for x, lengths, y in batches:
        assert x.shape == (len(y), int(lengths.max())) and ((x == 1).sum(1) == x.shape[1] - lengths).all()
        assert lengths.tolist() == [len(ids[i]) for i in y.tolist()]  # targets travel with their rows
        seen += y.tolist()
    assert sorted(seen) == list(range(8))
    halves = [[y.tolist() for _, _, y in batches.shard(r, 2)] for r in (0, 1)]
    whole = [y.tolist() for _, _, y in batches]
    assert [a + b for a, b in zip(*halves)] == [w[0::2] + w[1::2] for w in whole]


def test_shared_training_flags_set_the_train_section():
    from unrolled.tasks.classify.task import TASK
    from unrolled.tasks.resolve import resolve_config

    given = {"schedule": "cosine", "clip_value": 1.0, "l2": 0.01, "eval_every": 5, "metrics_format": "jsonl"}
    t = resolve_config(TASK, given=given).train
    assert (t.schedule, t.clip_value, t.l2, t.eval_every, t.metrics_format) == ("cosine", 1.0, 0.01, 5, "jsonl")
    assert (t.epochs, t.lr, t.clip_norm) == (10, 2e-3, 5.0)  # the task's own defaults stay
    assert {"train.max_time", "train.log_every"} <= set(TASK.resume_keys)
