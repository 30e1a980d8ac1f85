"""Word-level language models as the papers train them: whitespace tokens, standard splits, the Zaremba configs'
summed-loss semantics, the AWD-LSTM pieces through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml

from unrolled.cli import main
from unrolled.data.stream import batchify
from unrolled.tasks.lm.config import build_run_config
from unrolled.tasks.lm.objectives import RecurrentLMObjective
from unrolled.tasks.lm.run import build_model, build_objective, stream
from unrolled.tasks.lm.variable_bptt import VariableBPTTBatches
from unrolled.train import TrainConfig, Trainer

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TRAIN = "".join(f"the <unk> company does n't pay $ N a share {i % 7}\n" for i in range(60))
VALID = "".join(f"a share does n't pay {i % 5} <unk>\n" for i in range(12))
TEST = "".join(f"the zebra pay $ N {i % 3}\n" for i in range(12))  # "zebra" is only in the test file
SMALL = ["--hidden", "8", "--embed", "8", "--layers", "1", "--batch-size", "2", "--bptt", "6", "--no-progress"]


def _files(tmp_path):
    paths = {}
    for name, text in (("train", TRAIN), ("valid", VALID), ("test", TEST)):
        paths[name] = tmp_path / f"ptb.{name}.txt"
        paths[name].write_text(text, encoding="utf-8")
    return paths


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_standard_splits_keep_test_words_out_of_training(tmp_path, capsys):
    f = _files(tmp_path)
    run = tmp_path / "run"
    code, out, _ = _cli(
        capsys, "train", "lm", "--data", f["train"], "--valid", f["valid"], "--test", f["test"], "--tokenizer",
        "whitespace", "--unk-token", "<unk>", "--run-dir", run, "--epochs", "1", "--sample-length", "0", *SMALL,
    )  # fmt: skip
    assert code == 0, out
    vocab = json.loads((run / "vocab.json").read_text())["tokens"]
    assert "zebra" not in vocab and {"n't", "$", "N", "<unk>"} <= set(vocab)
    assert vocab.count("<unk>") == 1  # the corpus's <unk> is the vocabulary's
    config = json.loads((run / "config.json").read_text())
    assert config["corpus"]["train_tokens"] == len(TRAIN.split()) + 60  # every word and each line's <eos>
    assert config["corpus"]["valid_tokens"] == len(VALID.split()) + 12
    test = json.loads((run / "test.json").read_text())
    n_test = len(TEST.split()) + 12
    assert test["tokens_scored"] == n_test - 1
    code, out, _ = _cli(capsys, "evaluate", run, "--json")
    result = json.loads(out)
    assert result["data"].startswith("test split") and result["tokens"] == n_test - 1
    assert result["unknown_tokens"] == 12  # zebra
    assert result["loss_nats"] == pytest.approx(test["loss_nats"], rel=1e-5)
    assert "<eos>" in result["counting"]
    assert set(result["baselines"]) == {"unigram (add-one)", "5-gram (Kneser-Ney)"}
    # the unigram baseline by hand: add-one counts over the training ids, scored on test ids[1:]
    ids = json.loads((run / "vocab.json").read_text())["tokens"]
    index = {t: i for i, t in enumerate(ids)}
    train_tokens = [t if t != "\n" else "<eos>" for t in TRAIN.replace("\n", " <eos> ").split()]
    counts = torch.bincount(torch.tensor([index[t] for t in train_tokens]), minlength=len(ids)).double()
    probs = (counts + 1) / (counts.sum() + len(ids))
    test_tokens = TEST.replace("\n", " <eos> ").split()
    test_ids = torch.tensor([index.get(t, index["<unk>"]) for t in test_tokens])
    unigram = -probs[test_ids[1:]].log().mean().item()
    assert result["baselines"]["unigram (add-one)"]["loss_nats"] == pytest.approx(unigram, rel=1e-9)


@pytest.mark.parametrize("paper_clip", [0.5, 1e9])  # a clip that is active on this tiny model, and none
def test_zaremba_step_equals_the_summed_loss_step(paper_clip):
    """One optimizer step with the small config (mean loss, lr 20, clip 0.25) is one step of the paper's loss
    summed over the 20 unrolled steps with lr 1 and clip 5."""
    raw = yaml.safe_load((CONFIGS / "lm_word_zaremba_small.yaml").read_text())
    raw["model"].update(hidden=6, embed_dim=6)
    cfg = build_run_config(raw)
    T, lr_paper = cfg.data.bptt, 1.0
    assert T == 20 and cfg.train.lr == T * lr_paper and cfg.train.clip_norm == pytest.approx(5.0 / T)
    clip = paper_clip / T
    V = 11
    torch.manual_seed(3)
    # float64; what is left is torch's clip eps, max_norm / (norm + 1e-6), on the mean vs the summed gradient:
    # the updates agree to a relative 1e-6 / norm
    model = build_model(cfg.model, V, 1).double()
    assert all(p.abs().max() <= 0.1 for p in model.parameters())  # uniform:0.1 everywhere
    paper = build_model(cfg.model, V, 1).double()
    paper.load_state_dict(model.state_dict())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ids = torch.randint(0, V, (3 * (T + 1),))
    chunk = next(iter(stream(ids, 3, T)))
    train_cfg = TrainConfig(**{**cfg.train.to_dict(), "clip_norm": clip, "epochs": 1, "max_steps": 1})
    train_cfg.progress = train_cfg.plot = False
    train_cfg.device = "cpu"
    torch.manual_seed(0)
    Trainer(model, build_objective(cfg.model, 1), train_cfg).fit([chunk])
    # the paper: sum over the T steps of the batch-mean NLL, lr 1, clip the global norm at paper_clip
    logits, _ = paper(chunk.inputs)  # (B, T, V)
    loss = sum(F.cross_entropy(logits[:, t], chunk.targets[:, t]) for t in range(T))
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(list(paper.parameters()), paper_clip)
    assert (norm > paper_clip) == (paper_clip < 1)  # the clip is active in the first case only
    with torch.no_grad():
        for p in paper.parameters():
            p -= lr_paper * p.grad
    for (name, a), b in zip(model.state_dict().items(), paper.state_dict().values(), strict=True):
        step_here, step_paper = a - before[name], b - before[name]
        assert step_paper.abs().max() > 0
        torch.testing.assert_close(step_here, step_paper, rtol=1e-4, atol=1e-12, msg=lambda m, n=name: f"{n}: {m}")


def test_every_zaremba_and_awd_config_builds_with_the_papers_numbers():
    sizes = {"small": (200, 0.0, 13, "uniform:0.1"), "medium": (650, 0.5, 39, "uniform:0.05"),
             "large": (1500, 0.65, 55, "uniform:0.04")}  # fmt: skip
    for name, (hidden, dropout, epochs, init) in sizes.items():
        cfg = build_run_config(yaml.safe_load((CONFIGS / f"lm_word_zaremba_{name}.yaml").read_text()))
        assert (cfg.model.hidden, cfg.model.dropout, cfg.train.epochs, cfg.model.init) == (
            hidden, dropout, epochs, init
        )  # fmt: skip
        assert cfg.data.tokenizer == "whitespace" and cfg.train.lr == cfg.data.bptt  # lr 1 on the summed loss
    awd = build_run_config(yaml.safe_load((CONFIGS / "lm_word_awd.yaml").read_text()))
    m = awd.model
    assert (m.layers, m.hidden, m.embed_dim, m.last_hidden, m.tie_weights) == (3, 1150, 400, 400, True)
    assert awd.train.optimizer == "ntasgd" and awd.data.variable_bptt


def test_ar_tar_change_the_gradient_not_the_reported_loss():
    raw = {"data": {"tokenizer": "word"}, "model": {"hidden": 5, "embed_dim": 4, "layers": 1, "dropout": 0.0}}
    cfg = build_run_config(raw)
    torch.manual_seed(0)
    model = build_model(cfg.model, 9, 1)
    chunk = next(iter(stream(torch.randint(0, 9, (40,)), 2, 6)))
    plain = RecurrentLMObjective()(model, chunk, None).loss
    model.zero_grad()
    reg = RecurrentLMObjective(ar=2.0, tar=1.0)(model, chunk, None)
    assert reg.loss.item() == pytest.approx(plain.item())
    reg.loss.backward()
    got = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    logits, _ = model(chunk.inputs)
    h = model.activations[0]  # (B, t, H); no dropout here, so h = drop(h)
    full = F.cross_entropy(logits.reshape(-1, 9), chunk.targets.reshape(-1))
    full = full + 2.0 * h.pow(2).mean() + 1.0 * (h[:, 1:] - h[:, :-1]).pow(2).mean()
    full.backward()
    for a, p in zip(got, model.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad)


def test_variable_bptt_covers_the_stream_once_with_seeded_lengths():
    rows = batchify(torch.arange(2000), 2)  # (2, 1000)
    a = VariableBPTTBatches(rows, 20, seed=1)
    chunks = list(a)
    assert torch.equal(torch.cat([c.inputs for c in chunks], 1), rows[:, :-1])  # every step once, in order
    assert all(c.scale == c.inputs.shape[1] / 20 for c in chunks)
    lengths = [c.inputs.shape[1] for c in chunks]
    assert min(lengths[:-1]) >= 5 and len(set(lengths)) > 3
    b = VariableBPTTBatches(rows, 20, seed=1)
    b.set_epoch(1)
    a.set_epoch(1)
    assert [c.start for c in a] == [c.start for c in b] != [c.start for c in chunks]
    assert [c.start for c in b.iter_from(3)] == [c.start for c in a][3:]


def test_awd_regularisers_train_through_the_cli(tmp_path, capsys):
    f = _files(tmp_path)
    run = tmp_path / "awd"
    code, out, err = _cli(
        capsys, "train", "lm", "--data", f["train"], "--valid", f["valid"], "--tokenizer", "whitespace",
        "--run-dir", run, "--epochs", "2", "--sample-length", "0", "--hidden", "8", "--embed", "4", "--layers", "2",
        "--last-hidden", "4", "--tie", "--locked-dropout", "--weight-drop", "0.5", "--embed-dropout", "0.1",
        "--input-dropout", "0.4", "--output-dropout", "0.4", "--ar", "2", "--tar", "1", "--variable-bptt",
        "--optimizer", "ntasgd", "--lr", "5", "--clip", "0.25", "--batch-size", "2", "--bptt", "8", "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    assert "best valid" in out
    code, out, _ = _cli(capsys, "evaluate", run, "--json", "--no-baselines")
    result = json.loads(out)
    assert code == 0 and result["data"] == "validation split" and "baselines" not in result
    assert result["tokens"] == len(VALID.split()) + 12 - 1


def test_one_line_errors():
    with pytest.raises(ValueError, match="data.unk_token needs data.tokenizer"):
        build_run_config({"data": {"tokenizer": "char", "unk_token": "<unk>"}})
    with pytest.raises(ValueError, match="model.init"):
        build_run_config({"model": {"init": "gaussian"}})
    with pytest.raises(ValueError, match="model.weight_drop must be in"):
        build_run_config({"model": {"weight_drop": 1.0}})
