"""The tag task through the command line: train (CoNLL with CRF and characters, CoNLL-U, vectors), evaluate,
predict (CoNLL, text, stdin), info, and the one-line errors."""

from __future__ import annotations

import io
import json
import random
import sys

import pytest

from unrolled.cli import main
from unrolled.data.conll import parse_conll
from unrolled.metrics.entities import entity_scores

KIND = {"John": "PER", "Mary": "PER", "Paris": "LOC", "Rome": "LOC", "Acme": "ORG", "Globex": "ORG"}
TINY = ["--hidden", "16", "--embed", "12", "--epochs", "12", "--lr", "0.03", "--batch-size", "8", "--dropout", "0",
        "--no-progress"]  # fmt: skip


def conll(n: int, seed: int) -> str:
    """CoNLL-2003-like sentences: token, a POS-like column, BIO tag; -DOCSTART- first."""
    rng = random.Random(seed)
    out = ["-DOCSTART- -X- O", ""]
    for _ in range(n):
        a, b = rng.sample(sorted(KIND), 2)
        rows = [(a, "NNP", f"B-{KIND[a]}"), (rng.choice(["visited", "saw"]), "VBD", "O"), (b, "NNP", f"B-{KIND[b]}")]
        if KIND[a] == "PER" and rng.random() < 0.5:
            rows.insert(1, ("Smith", "NNP", "I-PER"))
        out += [" ".join(r) for r in rows] + ["", ""][:1]
    return "\n".join(out) + "\n"


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tag")
    train, dev = root / "train.conll", root / "dev.conll"
    train.write_text(conll(40, 0), encoding="utf-8")
    dev.write_text(conll(10, 1), encoding="utf-8")
    run_dir = root / "run"
    code = main(["train", "tag", "--data", str(train), "--valid", str(dev), "--test", str(dev), "--columns", "0,2",
                 "--crf", "--char-encoder", *TINY, "--run-dir", str(run_dir)])  # fmt: skip
    assert code == 0
    return run_dir, train, dev


def test_train_writes_a_tagging_run(run):
    run_dir, _, _ = run
    config = json.loads((run_dir / "config.json").read_text())
    assert config["task"] == "tag" and config["scheme"] == "bio"
    assert config["tags"] == ["O", "B-LOC", "B-ORG", "B-PER", "I-PER"]
    assert config["source"]["train"] == 40 and config["model"]["crf"] and config["model"]["char_encoder"]
    assert (run_dir / "words.json").is_file() and (run_dir / "chars.json").is_file()
    assert (run_dir / "best" / "model.safetensors").is_file()


def test_evaluate_json_equals_scores_of_the_predictions(run, capsys, tmp_path):
    run_dir, _, dev = run
    code, out, _ = cli(capsys, "evaluate", run_dir, "--data", dev, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["task"] == "tag" and report["sentences"] == 10
    # predict the same file and score its appended column against the gold one: the same figures
    code, out, _ = cli(capsys, "predict", run_dir, dev)
    assert code == 0
    gold = parse_conll(dev.read_text(), (0, 2))
    pred = parse_conll(out, (0, 3))
    assert [s.tokens for s in pred] == [s.tokens for s in gold]
    want = entity_scores([list(s.tags) for s in gold], [list(s.tags) for s in pred]).to_dict()
    assert report["micro"] == want["micro"] and report["per_type"] == want["per_type"]
    assert report["accuracy"] == pytest.approx(want["accuracy"])
    assert report["accuracy"] > 0.9 and report["micro"]["f1"] > 0.8  # the names decide the tags
    code, out, _ = cli(capsys, "evaluate", run_dir)  # its own test file
    assert code == 0 and "on test data" in out and "entity F1" in out and "PER" in out


def test_predict_text_stdin_and_unknown_words(run, capsys, tmp_path, monkeypatch):
    run_dir, _, _ = run
    texts = tmp_path / "s.txt"
    texts.write_text("John Smith visited Paris\n\nMary saw Zorbla Acme\n", encoding="utf-8")
    code, out, _ = cli(capsys, "predict", run_dir, texts)
    assert code == 0
    blocks = [b.splitlines() for b in out.strip().split("\n\n")]
    assert [[line.split("\t")[0] for line in b] for b in blocks] == [
        ["John", "Smith", "visited", "Paris"],
        ["Mary", "saw", "Zorbla", "Acme"],
    ]
    tags = [line.split("\t")[1] for b in blocks for line in b]
    assert tags[:4] == ["B-PER", "I-PER", "O", "B-LOC"]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Rome saw Globex\n")))
    code, out, _ = cli(capsys, "predict", run_dir, "-", "--input-format", "text")
    assert code == 0 and [line.split("\t")[1] for line in out.splitlines()] == ["B-LOC", "O", "B-ORG"]


def test_info(run, capsys):
    run_dir, _, _ = run
    code, out, _ = cli(capsys, "info", run_dir, "--json")
    info = json.loads(out)
    assert code == 0 and info["task"] == "tag" and "CRF over 5 tags (scheme bio)" in info["description"]


def test_conllu_pos_run_with_vectors(capsys, tmp_path):
    rows = []
    for k in range(12):
        rows += [f"# sent_id = {k}", "1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_",
                 "1\tdo\tdo\tAUX\tVBP\t_\t0\troot\t_\t_", "2\tn't\tnot\tPART\tRB\t_\t1\tadvmod\t_\t_",
                 f"3\t{['go', 'run', 'eat'][k % 3]}\tx\tVERB\tVB\t_\t1\tx\t_\t_", ""]  # fmt: skip
    data = tmp_path / "t.conllu"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    vectors = tmp_path / "v.txt"
    vectors.write_text("do 0.1 0.2 0.3\ngo 0.3 0.2 0.1\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    code, out, _ = cli(capsys, "train", "tag", "--data", data, "--valid", data, "--format", "conllu", "--tagset",
                       "xpos", "--vectors", vectors, "--freeze", "--epochs", "12", "--lr", "0.03", "--dropout", "0",
                       "--hidden", "8", "--batch-size", "8", "--no-progress", "--run-dir", run_dir)  # fmt: skip
    assert code == 0 and "scheme none" in out and "(frozen)" in out
    config = json.loads((run_dir / "config.json").read_text())
    assert config["tags"] == ["RB", "VB", "VBP"] and config["scheme"] == "none"
    assert config["model"]["embed_dim"] == 3 and config["vectors"]["found"] == 2
    code, out, _ = cli(capsys, "evaluate", run_dir, "--json")
    report = json.loads(out)
    assert code == 0 and "micro" not in report and report["accuracy"] == 1.0 and report["tokens"] == 36
    code, out, _ = cli(capsys, "predict", run_dir, data)
    lines = out.splitlines()
    assert code == 0 and lines[1] == "1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_" and lines[2].endswith("\troot\t_\t_\tVBP")


def test_one_line_errors(run, capsys, tmp_path):
    run_dir, train, dev = run
    bad = tmp_path / "bad.conll"
    bad.write_text("John NNP B-PER\nvisited VBD B-EVENT\n", encoding="utf-8")
    cases = [
        (("evaluate", run_dir, "--data", bad), "bad.conll:2: unknown tag 'B-EVENT' in the evaluation data"),
        (("train", "tag", "--data", train, "--valid", dev, "--columns", "0,5", "--run-dir", tmp_path / "r1"),
         "train.conll:3: expected a tag column 5, got 3 column(s)"),
        (("train", "tag", "--data", train, "--columns", "0,2", "--run-dir", tmp_path / "r2"), "tag needs --valid"),
        (("train", "tag", "--data", train, "--valid", dev, "--columns", "x", "--run-dir", tmp_path / "r3"),
         "data.columns must be 'TOKEN,TAG'"),
    ]  # fmt: skip
    ill = tmp_path / "ill.conll"
    ill.write_text("John NNP O\nSmith NNP I-PER\n", encoding="utf-8")
    cases.append(
        (("train", "tag", "--data", ill, "--valid", ill, "--columns", "0,2", "--scheme", "bio", "--run-dir",
          tmp_path / "r4"), "ill.conll:1: sentence at this line: 'I-PER' cannot follow 'O' in BIO")
    )  # fmt: skip
    empty = tmp_path / "empty.conll"
    empty.write_text("\n\n", encoding="utf-8")
    cases.append((("evaluate", run_dir, "--data", empty), "no sentences"))
    latin = tmp_path / "latin.conll"
    latin.write_bytes(b"caf\xe9 NNP O\n")
    cases.append((("evaluate", run_dir, "--data", latin), "not valid UTF-8"))
    cases.append((("predict", run_dir, tmp_path / "missing.txt"), "does not exist"))
    for argv, message in cases:
        code, _, err = cli(capsys, *argv)
        assert code != 0 and message in err, (argv, err)
        assert len(err.strip().splitlines()) == 1, err


def test_shared_training_flags_set_the_train_section():
    from unrolled.tasks.resolve import resolve_config
    from unrolled.tasks.tag.task import TASK

    given = {"schedule": "cosine", "clip_value": 1.0, "l2": 0.01, "eval_every": 5, "metrics_format": "jsonl"}
    t = resolve_config(TASK, given=given).train
    assert (t.schedule, t.clip_value, t.l2, t.eval_every, t.metrics_format) == ("cosine", 1.0, 0.01, 5, "jsonl")
    assert (t.epochs, t.lr, t.clip_norm) == (10, 2e-3, 5.0)  # the task's own defaults stay
    assert {"train.max_time", "train.log_every"} <= set(TASK.resume_keys)
