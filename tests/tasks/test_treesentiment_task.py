"""The treesentiment task through the command line: train, evaluate (text and JSON), predict, info, errors."""

from __future__ import annotations

import json

import pytest

from unrolled.cli import main

POS, NEG, FILL = ["good", "great"], ["bad", "awful"], ["the", "film"]
TINY = ["--hidden", "8", "--epochs", "3", "--lr", "0.05", "--batch-size", "4", "--no-progress"]


def treebank(n, offset=0):
    lines = []
    for i in range(offset, offset + n):
        w = (POS if i % 2 else NEG)[i % 2 == 0 and i % 4 == 0]
        s = 3 if i % 2 else 1
        f = FILL[i % 2]
        if i % 3 == 0:  # negated: (not w) flips it
            lines.append(f"({4 - s} (2 {f}) ({4 - s} (2 not) ({s} {w})))")
        else:
            lines.append(f"({s} (2 {f}) ({s} {w}))")
    return "\n".join(lines) + "\n"


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("trees")
    paths = {}
    for name, n, off in (("train", 24, 0), ("dev", 8, 100), ("test", 8, 200)):
        paths[name] = root / f"{name}.txt"
        paths[name].write_text(treebank(n, off), encoding="utf-8")
    return root, paths


@pytest.fixture(scope="module")
def run(files):
    root, p = files
    run_dir = root / "run"
    code = main(["train", "treesentiment", "--data", str(p["train"]), "--valid", str(p["dev"]), "--test",
                 str(p["test"]), *TINY, "--run-dir", str(run_dir)])  # fmt: skip
    assert code == 0
    return run_dir


def test_train_writes_a_run(run):
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "treesentiment" and config["model"]["model"] == "tree_lstm"
    assert config["source"] == {"train": 24, "valid": 8, "test": 8}
    assert (run / "vocab.json").is_file() and (run / "best" / "model.safetensors").is_file()


def test_evaluate_text_and_json_agree_with_counts(run, files, capsys):
    _, p = files
    code, out, _ = cli(capsys, "evaluate", run, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["task"] == "treesentiment" and report["data"] == str(p["test"])
    c = report["counts"]
    assert c["root_fine"]["total"] == 8 and c["all_fine"]["total"] == sum(
        line.count("(") for line in p["test"].read_text().splitlines()
    )
    assert c["root_binary"]["total"] == 8  # no neutral roots
    for k in ("root_fine", "root_binary", "all_fine", "all_binary"):
        assert report[k] == pytest.approx(c[k]["correct"] / c[k]["total"])
    code, out, _ = cli(capsys, "evaluate", run, "--data", p["dev"])
    assert code == 0 and "root fine" in out and "all-node binary" in out and "8 trees" in out


def test_predict_labels_every_node(run, files, capsys, tmp_path):
    inp = tmp_path / "in.txt"
    inp.write_text("(X (X the) (X good))\n(X (X film) (X (X not) (X zzz-unknown)))\n", encoding="utf-8")
    code, out, _ = cli(capsys, "predict", run, inp)
    assert code == 0
    rows = [line.split("\t") for line in out.strip().splitlines()]
    assert len(rows) == 2
    for label, prob, tree in rows:
        assert label in "01234" and 0 < float(prob) <= 1
        assert tree.startswith(f"({label} ")
    assert rows[1][2].count("(") == 5 and "zzz-unknown" in rows[1][2]


def test_info_and_other_models(run, files, capsys):
    code, out, _ = cli(capsys, "info", run, "--json")
    assert code == 0 and "tree_lstm over trees" in out
    root, p = files
    for model in ("child_sum", "recursive"):
        code, _, _ = cli(capsys, "train", "treesentiment", "--data", p["train"], "--valid", p["dev"], *TINY,
                         "--epochs", "1", "--model", model, "--loss", "root", "--run-dir", root / model)  # fmt: skip
        assert code == 0


def test_one_line_errors(files, capsys, tmp_path):
    _, p = files
    bad = tmp_path / "bad.txt"
    bad.write_text("(1 (2 a) (3 b))\n(7 (2 a) (3 b))\n", encoding="utf-8")
    code, _, err = cli(capsys, "train", "treesentiment", "--data", bad, "--valid", p["dev"], *TINY,
                       "--run-dir", tmp_path / "r1")  # fmt: skip
    assert code != 0 and "tree 2: label '7'; expected an integer 0..4" in err and len(err.strip().splitlines()) == 1
    broken = tmp_path / "broken.txt"
    broken.write_text("(1 (2 a) (3 b))\n(1 (2 a) (3 b)\n", encoding="utf-8")
    code, _, err = cli(capsys, "train", "treesentiment", "--data", broken, "--valid", p["dev"], *TINY,
                       "--run-dir", tmp_path / "r2")  # fmt: skip
    assert code != 0 and "broken.txt line 2: unbalanced brackets" in err
    ternary = tmp_path / "ternary.txt"
    ternary.write_text("(1 (2 a) (3 b) (1 c))\n", encoding="utf-8")
    code, _, err = cli(capsys, "train", "treesentiment", "--data", ternary, "--valid", p["dev"], *TINY,
                       "--run-dir", tmp_path / "r3")  # fmt: skip
    assert code != 0 and "needs binary trees" in err
    code, _, err = cli(capsys, "train", "treesentiment", "--data", p["train"], *TINY, "--run-dir", tmp_path / "r4")
    assert code != 0 and "needs --valid" in err


def test_resume_continues_the_schedule(files, capsys, tmp_path):
    _, p = files
    run_dir = tmp_path / "resumed"
    common = ["--data", p["train"], "--valid", p["dev"], "--hidden", "8", "--batch-size", "8", "--no-progress"]
    code, _, _ = cli(capsys, "train", "treesentiment", *common, "--epochs", "1", "--run-dir", run_dir)
    assert code == 0
    code, _, err = cli(capsys, "train", "treesentiment", "--resume", run_dir, "--epochs", "2")
    assert code == 0, err
    rows = [r.split(",") for r in (run_dir / "metrics.csv").read_text().strip().splitlines()[1:]]
    assert [(r[0], r[1], r[2]) for r in rows if r[2] == "valid"] == [("3", "1", "valid"), ("6", "2", "valid")]
    assert json.loads((run_dir / "config.json").read_text())["train"]["epochs"] == 2


def test_shared_training_flags_set_the_train_section():
    from unrolled.tasks.resolve import resolve_config
    from unrolled.tasks.treesentiment.task import TASK

    given = {"schedule": "cosine", "clip_value": 1.0, "l2": 0.01, "eval_every": 5, "metrics_format": "jsonl"}
    t = resolve_config(TASK, given=given).train
    assert (t.schedule, t.clip_value, t.l2, t.eval_every, t.metrics_format) == ("cosine", 1.0, 0.01, 5, "jsonl")
    assert (t.epochs, t.lr, t.clip_norm) == (10, 5e-3, 5.0)  # the task's own defaults stay
    assert {"train.max_time", "train.log_every"} <= set(TASK.resume_keys)
