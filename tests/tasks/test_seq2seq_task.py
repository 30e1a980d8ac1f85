"""The seq2seq task through the command line: train (pair file, aligned files, built-in), evaluate, predict,
translate (beam, n-best, attention PNG, stdin), info, scheduled sampling's log, and one-line errors."""

from __future__ import annotations

import io
import json
import sys

import pytest
import sacrebleu

from unrolled.cli import main

TINY = ["--hidden", "12", "--embed", "8", "--lr", "0.02", "--batch-size", "8", "--dropout", "0", "--no-progress",
        "--seed", "0"]  # fmt: skip
WORDS = ["abc", "bad", "cab", "dab", "fed", "ace", "bed", "cad", "dec", "fab", "bead", "face"]


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("seq2seq")
    data = root / "pairs.tsv"
    pairs = [(w, w[::-1]) for w in WORDS] * 2
    data.write_text("".join(f"{s}\t{t}\tCC-BY attribution\n" for s, t in pairs), encoding="utf-8")
    run_dir = root / "run"
    code = main(["train", "seq2seq", "--data", str(data), *TINY, "--epochs", "15", "--attention", "additive",
                 "--valid", str(data), "--run-dir", str(run_dir)])  # fmt: skip
    assert code == 0
    return run_dir, data


def test_train_writes_a_seq2seq_run(run):
    run_dir, _ = run
    config = json.loads((run_dir / "config.json").read_text())
    assert config["task"] == "seq2seq" and config["model"]["attention"] == "additive"
    assert config["source"]["train_pairs"] == 24 and config["source"]["valid_pairs"] == 24
    for name in ("src_vocab.json", "tgt_vocab.json", "best/model.safetensors", "metrics.csv"):
        assert (run_dir / name).is_file()
    assert (run_dir / "teacher_forcing.csv").read_text().splitlines()[:2] == ["epoch,teacher_forcing", "1,1.000000"]


def test_evaluate_json_equals_sacrebleu_of_predictions(run, capsys, tmp_path):
    run_dir, data = run
    code, out, _ = cli(capsys, "evaluate", run_dir, "--data", data, "--json", "--beam", "3")
    assert code == 0
    report = json.loads(out)
    assert report["task"] == "seq2seq" and report["pairs"] == 24 and report["beam"] == 3
    sources = tmp_path / "src.txt"
    sources.write_text("\n".join(w for w in WORDS * 2) + "\n", encoding="utf-8")
    code, out, _ = cli(capsys, "predict", run_dir, sources, "--beam", "3")
    hyps, refs = out.splitlines(), [w[::-1] for w in WORDS * 2]
    assert code == 0 and len(hyps) == 24
    assert report["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert report["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    assert report["exact_match"] == pytest.approx(sum(h == r for h, r in zip(hyps, refs)) / 24)
    assert report["exact_match"] >= 0.5  # 12 distinct words, 25 epochs: most are reversed exactly
    code, out, _ = cli(capsys, "evaluate", run_dir)  # its own (validation) data
    assert code == 0 and "(24 pairs, beam 1): BLEU" in out


def test_translate_beam_nbest_attention_and_stdin(run, capsys, tmp_path, monkeypatch):
    run_dir, _ = run
    png = tmp_path / "attn.png"
    code, out, err = cli(capsys, "translate", run_dir, "fed", "--beam", "4", "--n-best", "3", "--show-attention", png)
    rows = [line.split("\t") for line in out.splitlines()]
    assert code == 0 and len(rows) == 3 and len({r[1] for r in rows}) == 3
    scores = [float(s) for s, _ in rows]
    assert scores == sorted(scores, reverse=True) and all(s <= 0 for s in scores)
    assert png.read_bytes()[:4] == b"\x89PNG" and "attention:" in err
    code, best, _ = cli(capsys, "translate", run_dir, "fed", "--beam", "4")
    assert code == 0 and best.strip() == rows[0][1]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"fed\n\nabc\n")))
    code, out, _ = cli(capsys, "translate", run_dir, "--beam", "4")
    assert code == 0 and len(out.splitlines()) == 2 and out.splitlines()[0] == best.strip()


def test_info(run, capsys):
    run_dir, _ = run
    code, out, _ = cli(capsys, "info", run_dir, "--json")
    info = json.loads(out)
    assert code == 0 and info["task"] == "seq2seq" and "context attention, attention additive" in info["description"]


def test_aligned_files_whitespace_shared_vocab_scheduled_sampling(tmp_path, capsys):
    (tmp_path / "s.txt").write_text("a b c\nb c\nc a\na a b\n", encoding="utf-8")
    (tmp_path / "t.txt").write_text("C B A\nC B\nA C\nB A A\n", encoding="utf-8")
    run_dir = tmp_path / "r"
    code, out, err = cli(capsys, "train", "seq2seq", "--src", tmp_path / "s.txt", "--tgt", tmp_path / "t.txt",
                       "--tokenizer", "whitespace", "--shared-vocab", "--attention", "none",
                       "--schedule-sampling", "linear", "--label-smoothing", "0.1", "--epochs", "3", *TINY,
                       "--run-dir", run_dir)  # fmt: skip
    assert code == 0 and "epoch 2: teacher forcing probability 0.9000" in out + err
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["context"] == "init"  # --attention none alone: C as the initial state
    tf = (run_dir / "teacher_forcing.csv").read_text().splitlines()
    assert tf == ["epoch,teacher_forcing", "1,1.000000", "2,0.900000", "3,0.800000"]
    src = json.loads((run_dir / "src_vocab.json").read_text())["tokens"]
    assert {"a", "b", "c", "A", "B", "C"} <= set(src)


def test_builtin(tmp_path, capsys):
    run_dir = tmp_path / "r"
    code, out, _ = cli(capsys, "train", "seq2seq", "--builtin", "dates", "--builtin-size", "40", "--epochs", "1",
                       "--context", "every_step", "--attention", "none", *TINY, "--run-dir", run_dir)  # fmt: skip
    assert code == 0 and "built-in dates (40 pairs): 36 train / 4 valid" in out


def test_one_line_errors(run, capsys, tmp_path):
    run_dir, _ = run
    bad = tmp_path / "bad.tsv"
    bad.write_text("abc\tcba\nno tab\n", encoding="utf-8")
    code, _, err = cli(capsys, "evaluate", run_dir, "--data", bad)
    assert code != 0 and "bad.tsv:2: one column" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli(capsys, "train", "seq2seq", *TINY, "--run-dir", tmp_path / "r1")
    assert code != 0 and "seq2seq needs data" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r1" / "config.json").exists()
    code, _, err = cli(capsys, "train", "seq2seq", "--data", bad, *TINY, "--run-dir", tmp_path / "r2")
    assert code != 0 and "bad.tsv:2: one column" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli(capsys, "train", "seq2seq", "--builtin", "dates", "--attention", "none", "--context",
                       "attention", *TINY, "--run-dir", tmp_path / "r3")  # fmt: skip
    assert code != 0 and "use context init or every_step" in err
    code, _, err = cli(capsys, "translate", run_dir, "abc", "--n-best", "3")
    assert code != 0 and "--n-best 3 needs --beam of at least 3" in err
    latin1 = tmp_path / "latin1.tsv"
    latin1.write_bytes(b"caf\xe9\tcoffee\n")
    code, _, err = cli(capsys, "evaluate", run_dir, "--data", latin1)
    assert code != 0 and "not valid UTF-8" in err and len(err.strip().splitlines()) == 1


def test_shared_training_options_and_settings_help(capsys):
    from unrolled.tasks.resolve import resolve_config
    from unrolled.tasks.seq2seq.task import TASK

    cfg = resolve_config(TASK, given={"schedule": "step", "schedule_sampling": "linear", "clip_value": 0.5,
                                      "tokenizer": "whitespace"})  # fmt: skip
    assert cfg.train.schedule == "step" and cfg.teacher.schedule == "linear" and cfg.train.clip_value == 0.5
    assert (cfg.train.epochs, cfg.train.lr, cfg.train.clip_norm) == (10, 2e-3, 5.0)  # the task's own defaults
    with pytest.raises(SystemExit) as exit_:
        main(["train", "seq2seq", "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    for flag in ("--schedule-sampling", "--clip-value", "--l2", "--eval-every", "--metrics-format", "--tensorboard"):
        assert flag in out
    assert out.count("settings (--set SECTION.KEY=VALUE") == 1 and "teacher:" in out
