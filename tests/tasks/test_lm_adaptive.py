"""The LM task with ``model.softmax = "adaptive"``: the objective's targets path, train -> evaluate -> generate ->
resume, and the CLI (flags, one-line errors)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from unrolled.cli import main
from unrolled.data.stream import StreamBatches, batchify
from unrolled.models import RNNLanguageModel, RNNLMConfig
from unrolled.tasks.lm import LMDataConfig, LMModelConfig, LMRunConfig, LMSampleConfig, load_run, train_lm
from unrolled.tasks.lm.callbacks import sample_ids
from unrolled.tasks.lm.config import build_run_config
from unrolled.tasks.lm.objectives import RecurrentLMObjective
from unrolled.tasks.lm.run import evaluate_documents, score_ids
from unrolled.train.config import TrainConfig

WORDS = "".join(f"the cat {i % 4} sat on the mat {i % 3} and the dog {i % 5} ran\n" for i in range(60))


def _cfg(tmp_path, **model):
    path = tmp_path / "corpus.txt"
    path.write_text(WORDS, encoding="utf-8")
    return LMRunConfig(
        data=LMDataConfig(path=str(path), tokenizer="word", batch_size=4, bptt=8, eval_batch_size=2),
        model=LMModelConfig(
            **{"hidden": 16, "embed_dim": 8, "layers": 1, "dropout": 0.0, "softmax": "adaptive", "cutoffs": (6, 12)}
            | model
        ),
        train=TrainConfig(epochs=1, lr=1e-2, carry_state=True, progress=False, plot=False),
        sample=LMSampleConfig(length=0),
    )


def test_objective_scores_exact_log_probabilities_with_k2_and_carried_state():
    torch.manual_seed(0)
    V = 20
    cfg = RNNLMConfig(hidden=8, embed_dim=4, layers=1, dropout=0.0, softmax="adaptive", cutoffs=(4, 9), div_value=2)
    model = RNNLanguageModel(V, cfg).double().eval()
    ids = torch.randint(0, V, (2 * 31,))
    data = StreamBatches(batchify(ids, 2), 10, k2=14)  # chunks re-read 4 context steps: the model runs in 2 pieces
    obj = RecurrentLMObjective(score_targets=True)
    rows = batchify(ids, 2)  # (2, 31)
    logp, _ = model.log_prob(rows[:, :-1])  # one pass over everything: (2, 30, V)
    at = logp.gather(-1, rows[:, 1:].unsqueeze(-1)).squeeze(-1)  # (2, 30)
    state, seen = None, 0
    for k in range(len(data)):
        chunk = data[k]
        res = obj(model, chunk, state)
        n = chunk.targets.shape[1] - chunk.loss_start
        assert res.count == 2 * n
        assert math.isclose(res.loss.item(), -at[:, seen : seen + n].mean().item(), rel_tol=1e-10)
        seen, state = seen + n, res.state
    assert seen == 30
    # the logits path on the same model reads log-probabilities as scores and gives the same loss
    plain = RecurrentLMObjective()(model, data[0], None).loss
    assert math.isclose(plain.item(), obj(model, data[0], None).loss.item(), rel_tol=1e-10)


def test_train_evaluate_generate_resume(tmp_path):
    cfg = _cfg(tmp_path)
    out = train_lm(cfg, run_dir=tmp_path / "run", printer=lambda m: None)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["model"]
    assert (saved["softmax"], saved["cutoffs"], saved["div_value"]) == ("adaptive", [6, 12], 4.0)
    run = load_run(tmp_path / "run")
    assert run.model.decoder.cutoffs == [6, 12, len(run.codec.vocab)]
    # evaluate = a hand computation from the full distribution (one row, one pass: the carried state is exact)
    text = "the cat 1 sat on the mat 2 and the dog 3 ran\nthe cat 2 sat on the mat 0 and the dog 4 ran\n"
    ev = evaluate_documents(run, [text], batch_size=1)
    ids = run.codec.encode_documents([text])
    with torch.no_grad():
        logp, _ = run.model.log_prob(ids[None, :-1])
    hand = -logp[0].gather(-1, ids[1:, None]).mean().item()
    assert ev.tokens == ids.numel() - 1
    assert math.isclose(ev.loss, hand, rel_tol=1e-5) and math.isclose(ev.perplexity, math.exp(hand), rel_tol=1e-5)
    # the validation loss the trainer reported is what scoring the saved weights recomputes
    total, count = score_ids(run, _valid_ids(cfg), cfg.data.eval_batch_size)
    assert math.isclose(total / count, out.valid_loss, rel_tol=1e-5)
    # generation samples ids of the vocabulary, never <pad>/<bos>/<unk>
    got = sample_ids(run.model, run.codec, LMSampleConfig(length=40, prime="the", seed=1, temperature=1.0))
    assert len(got) == 40 and all(0 <= i < len(run.codec.vocab) for i in got)
    assert not {run.codec.vocab.pad_id, run.codec.vocab.bos_id, run.codec.vocab.unk_id} & set(got)
    # resume trains on from the checkpoint with the recorded softmax
    cfg2 = _cfg(tmp_path)
    cfg2.train.epochs = 2
    again = train_lm(cfg2, run_dir=tmp_path / "run", resume=True, printer=lambda m: None)
    assert again.result.history[-1]["epoch"] == 2 and math.isfinite(again.valid_loss)


def _valid_ids(cfg):
    from unrolled.tasks.lm.corpus import prepare_corpus

    return prepare_corpus(cfg.data).valid_ids


def test_same_seed_same_run(tmp_path):
    a = train_lm(_cfg(tmp_path), run_dir=tmp_path / "a", printer=lambda m: None)
    b = train_lm(_cfg(tmp_path), run_dir=tmp_path / "b", printer=lambda m: None)
    assert a.valid_loss == b.valid_loss
    wa, wb = load_run(tmp_path / "a").model.state_dict(), load_run(tmp_path / "b").model.state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_config_keys_checked_when_built():
    raw = {"model": {"softmax": "adaptive", "tie_weights": True}}
    with pytest.raises(Exception, match="model.tie_weights cannot be used with model.softmax = 'adaptive'"):
        build_run_config(raw)
    with pytest.raises(Exception, match="model.cutoffs must be increasing positive integers"):
        build_run_config({"model": {"softmax": "adaptive", "cutoffs": [9, 3]}})
    cfg = build_run_config({"model": {"softmax": "adaptive", "cutoffs": [9, 30]}})
    assert cfg.model.cutoffs == (9, 30)


def _cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


SMALL = ["--tokenizer", "word", "--hidden", "16", "--embed", "8", "--layers", "1", "--batch-size", "4", "--bptt", "8"]


def test_cli_train_evaluate_predict(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(WORDS, encoding="utf-8")
    run = tmp_path / "run"
    argv = [
        "train",
        "lm",
        "--data",
        str(corpus),
        *SMALL,
        "--epochs",
        "2",
        "--lr",
        "0.03",
        "--no-progress",
        "--sample-length",
        "0",
    ]
    code, out, err = _cli(capsys, *argv, "--softmax", "adaptive", "--cutoffs", "5,10", "--run", str(run))
    assert code == 0, err
    saved = json.loads((run / "config.json").read_text())["model"]
    assert saved["softmax"] == "adaptive" and saved["cutoffs"] == [5, 10]
    code, out, err = _cli(capsys, "evaluate", str(run), "--data", str(corpus), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert math.isclose(report["perplexity"], math.exp(report["loss_nats"]), rel_tol=1e-9)
    assert report["loss_nats"] < math.log(len(load_run(run).codec.vocab))  # it learned something
    code, out, err = _cli(capsys, "predict", str(run), "--length", "6")
    assert code == 0 and out.strip(), err
    code, out, err = _cli(capsys, "info", str(run))
    assert code == 0 and "adaptive softmax (cutoffs 5,10, div 4)" in out


@pytest.mark.parametrize(
    "flags, match",
    [
        (["--softmax", "adaptive", "--tie"], "model.tie_weights cannot be used with model.softmax = 'adaptive'"),
        (["--softmax", "adaptive", "--cutoffs", "10,5"], "model.cutoffs must be increasing positive integers"),
        (["--softmax", "adaptive", "--cutoffs", "5,999"], "model.cutoffs must all be below the vocabulary size"),
        (["--cutoffs", "5"], "model.cutoffs apply only to model.softmax = 'adaptive'"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, capsys, flags, match):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(WORDS, encoding="utf-8")
    code, _, err = _cli(capsys, "train", "lm", "--data", str(corpus), *SMALL, "--run", str(tmp_path / "r"), *flags)
    assert code == 2 and err.count("\n") == 1 and match in err, err
    assert not (tmp_path / "r").exists()


def test_cli_cutoffs_not_integers(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "lm", "--softmax", "adaptive", "--cutoffs", "a,b"])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and "\n" not in err and "argument --cutoffs" in err
