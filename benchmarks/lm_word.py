"""Word-level Zaremba et al. 2014 runs: wall time per epoch, and the same run in a pytorch/examples-style loop.

The corpus is built here, in the Penn Treebank format (lower-cased, one sentence per line, whitespace-separated
tokens, rare words replaced by ``<unk>``): words of tiny Shakespeare (``--data``), and, to reach ``--tokens``
training tokens, text sampled from an add-one bigram model of those words (``--tokens 1000000`` for the issue's
1M-token corpus). Validation and test are held-out Shakespeare lines.

Both runs start from the same weights (built by the LM task with the config's ``uniform:a`` initialisation and
copied into torch's ``nn.LSTM``), read the same contiguous stream (batch 20, bptt from the config), take the same SGD
steps on the mean loss with the config's lr and clip (the paper's lr 1 / clip 5 on the loss summed over bptt steps,
see the config) and the same halving schedule; both validate each epoch with 20 streams and score the test file
once with one stream. Reported: the perplexities (target: within 1%), wall time per epoch, and the ratio of the
two wall times (target <= 1.0).

    python benchmarks/lm_word.py                                    # reduced default: 50k tokens, 1 epoch
    python benchmarks/lm_word.py --tokens 1000000 --epochs 13       # the full small run (issue: < 40 min on 2 cores)
    python benchmarks/lm_word.py --config configs/lm_word_zaremba_medium.yaml --device cuda --tokens 1000000
"""

from __future__ import annotations

import argparse
import collections
import math
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _timing import machine, set_threads  # noqa: E402
from unrolled.data.stream import batchify  # noqa: E402
from unrolled.tasks.lm.config import build_run_config  # noqa: E402
from unrolled.tasks.lm.run import build_model, train_lm  # noqa: E402
from unrolled.text.vocab import Vocabulary  # noqa: E402

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|[.,!?;:]")


def build_corpus(source: Path, out: Path, tokens: int, vocab_size: int, seed: int) -> dict[str, int]:
    """PTB-format train/valid/test files under ``out``; returns their token counts (words + one <eos> a line)."""
    lines = [WORD.findall(line.lower()) for line in source.read_text(encoding="utf-8").splitlines()]
    lines = [ln for ln in lines if ln]
    n = len(lines)
    valid, test, train = lines[: n // 20], lines[n // 20 : n // 10], lines[n // 10 :]
    counts = collections.Counter(w for ln in train for w in ln)
    keep = {w for w, _ in counts.most_common(vocab_size - 2)}  # leave room for <unk> and <eos>
    train = [[w if w in keep else "<unk>" for w in ln] for ln in train]
    have = sum(len(ln) + 1 for ln in train)
    while have > tokens and train:  # a smaller corpus: the first lines only
        have -= len(train.pop()) + 1
    if have < tokens:  # sample more sentences from an add-one bigram model of the training lines
        words = sorted(keep) + ["<unk>", "<eos>"]
        index = {w: i for i, w in enumerate(words)}
        V = len(words)
        big = np.ones((V, V), dtype=np.float32)  # V^2 floats: 400 MB at V = 10k
        eos = index["<eos>"]
        for ln in train:
            ids = [eos] + [index[w] for w in ln] + [eos]
            np.add.at(big, (ids[:-1], ids[1:]), 1.0)
        cdf = np.cumsum(big / big.sum(1, keepdims=True), 1)
        rng = np.random.default_rng(seed)
        prev, line = eos, []
        while have < tokens:
            nxt = min(int(np.searchsorted(cdf[prev], rng.random())), V - 1)
            if nxt == eos or len(line) >= 60:
                if line:
                    train.append(line)
                    have += len(line) + 1
                line, prev = [], eos
            else:
                line.append(words[nxt])
                prev = nxt
    sizes = {}
    for name, part in (("train", train), ("valid", valid), ("test", test)):
        text = "".join(" " + " ".join(w if w in keep or w == "<unk>" else "<unk>" for w in ln) + " \n" for ln in part)
        (out / f"{name}.txt").write_text(text, encoding="utf-8")
        sizes[name] = sum(len(ln) + 1 for ln in part)
    return sizes


# --- the pytorch/examples word_language_model loop, re-implemented (same settings) ---------------------------
class ExamplesModel(nn.Module):
    """pytorch/examples ``RNNModel``: Embedding -> nn.LSTM -> Linear (dropout around the LSTM)."""

    def __init__(self, V: int, E: int, H: int, L: int, dropout: float):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(V, E)
        self.rnn = nn.LSTM(E, H, L, dropout=dropout)
        self.decoder = nn.Linear(H, V)

    def forward(self, x, hidden):  # x: (T, B) as in pytorch/examples
        emb = self.drop(self.encoder(x))
        out, hidden = self.rnn(emb, hidden)
        return self.decoder(self.drop(out)), hidden


def get_batch(source: torch.Tensor, i: int, bptt: int):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i : i + seq_len], source[i + 1 : i + 1 + seq_len].reshape(-1)


def repackage_hidden(h):
    return h.detach() if isinstance(h, torch.Tensor) else tuple(repackage_hidden(v) for v in h)


def examples_evaluate(model, data, bptt, V):
    model.eval()
    total, count, hidden = 0.0, 0, None
    with torch.no_grad():
        for i in range(0, data.size(0) - 1, bptt):
            x, y = get_batch(data, i, bptt)
            out, hidden = model(x, hidden)
            total += F.cross_entropy(out.view(-1, V), y, reduction="sum").item()
            count += y.numel()
            hidden = repackage_hidden(hidden)
    return total / count


def examples_run(model, train, valid, test, cfg, V, device):
    """pytorch/examples main.py: train(), evaluate() per epoch, lr schedule, keep the best, test once."""
    bptt, clip, lr = cfg.data.bptt, cfg.train.clip_norm, cfg.train.lr
    train_d = batchify(train, cfg.data.batch_size).t().contiguous().to(device)  # (N, B) as in the examples
    valid_d = batchify(valid, cfg.data.eval_batch_size).t().contiguous().to(device)
    test_d = batchify(test, 1).t().contiguous().to(device)
    best, best_state, valid_losses, epoch_times = None, None, [], []
    start_decay = cfg.train.lr_decay_start if cfg.train.lr_decay_start is not None else cfg.train.lr_step_epochs
    for epoch in range(1, cfg.train.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        hidden = None
        for i in range(0, train_d.size(0) - 1, bptt):
            x, y = get_batch(train_d, i, bptt)
            hidden = None if hidden is None else repackage_hidden(hidden)
            model.zero_grad()
            out, hidden = model(x, hidden)
            loss = F.cross_entropy(out.view(-1, V), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
        v = examples_evaluate(model, valid_d, bptt, V)
        epoch_times.append(time.perf_counter() - t0)
        valid_losses.append(v)
        if best is None or v < best:
            best, best_state = v, {k: t.clone() for k, t in model.state_dict().items()}
        if epoch >= start_decay:
            lr = max(lr / cfg.train.lr_decay, cfg.train.min_lr)
    model.load_state_dict(best_state)
    return valid_losses, examples_evaluate(model, test_d, bptt, V), epoch_times


def to_examples(ours: nn.Module, cfg, V: int) -> ExamplesModel:
    """The LM task's model as an ExamplesModel with the same weights."""
    m = ExamplesModel(V, cfg.model.embed_dim, cfg.model.hidden, cfg.model.layers, cfg.model.dropout)
    m.encoder.weight.data.copy_(ours.embedding.weight.data)
    m.decoder.weight.data.copy_(ours.decoder.weight.data)
    m.decoder.bias.data.copy_(ours.decoder.bias.data)
    lstm = ours.rnn.to_torch()
    m.rnn.load_state_dict(lstm.state_dict())
    return m


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "configs" / "lm_word_zaremba_small.yaml"))
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "tinyshakespeare" / "input.txt"))
    ap.add_argument("--corpus", help="a folder with train.txt, valid.txt, test.txt to use instead of building one")
    ap.add_argument("--tokens", type=int, default=50_000, help="training tokens of the built corpus")
    ap.add_argument("--vocab", type=int, default=10_000)
    ap.add_argument("--epochs", type=int, default=1, help="reduced default; the config's count for the full run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    set_threads(args.threads)
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.corpus:
            folder = Path(args.corpus)
        else:
            folder = tmp / "corpus"
            folder.mkdir()
            sizes = build_corpus(Path(args.data), folder, args.tokens, args.vocab, seed=0)
            print(f"corpus: {sizes['train']:,} train / {sizes['valid']:,} valid / {sizes['test']:,} test tokens")
        raw = yaml.safe_load(Path(args.config).read_text())
        raw["data"].update(path=str(folder / "train.txt"), valid=str(folder / "valid.txt"),
                           test=str(folder / "test.txt"))  # fmt: skip
        raw["train"].update(epochs=args.epochs, device=args.device, progress=False, plot=False)
        raw.setdefault("sample", {})["length"] = 0
        cfg = build_run_config(raw)

        run = tmp / "run"
        t0 = time.perf_counter()
        outcome = train_lm(cfg, run, printer=lambda m: print("  unrolled:", m))
        ours_wall = time.perf_counter() - t0
        ours_valid = [h["valid_loss"] for h in outcome.result.history]
        import json

        ours_test = json.loads((run / "test.json").read_text())["loss_nats"]
        metrics = [ln.split(",") for ln in (run / "metrics.csv").read_text().splitlines()]
        head = metrics[0]
        epoch_rows = [dict(zip(head, r, strict=False)) for r in metrics[1:] if r[head.index("split")] == "train_epoch"]
        train_time = float(epoch_rows[-1]["time"]) if epoch_rows else math.nan

        # the same start for the peer: the LM task's initial weights (same seed, same builder)
        vocab = Vocabulary.load(run / "vocab.json")
        V = len(vocab)
        torch.manual_seed(cfg.train.seed)
        start = build_model(cfg.model, V, vocab.pad_id)
        peer = to_examples(start, cfg, V).to(args.device)
        from unrolled.tasks.lm.corpus import prepare_corpus

        corpus = prepare_corpus(cfg.data)
        t0 = time.perf_counter()
        peer_valid, peer_test, peer_epochs = examples_run(
            peer, corpus.train_ids, corpus.valid_ids, corpus.test_ids, cfg, V, args.device
        )
        peer_wall = time.perf_counter() - t0

    e = len(ours_valid)
    print(f"\n{Path(args.config).name}: {e} epoch(s), vocabulary {V:,}, device {args.device}, {args.threads} threads")
    print(f"{'':24}{'unrolled':>12}{'examples':>12}{'ratio':>9}")
    for i in range(e):
        a, b = math.exp(ours_valid[i]), math.exp(peer_valid[i])
        print(f"valid ppl, epoch {i + 1:<7}{a:12.2f}{b:12.2f}{a / b:9.4f}")
    a, b = math.exp(ours_test), math.exp(peer_test)
    print(f"{'test ppl (best weights)':24}{a:12.2f}{b:12.2f}{a / b:9.4f}")
    print(f"{'wall s (whole run)':24}{ours_wall:12.1f}{peer_wall:12.1f}{ours_wall / peer_wall:9.3f}")
    print(f"{'wall s / epoch':24}{ours_wall / e:12.1f}{peer_wall / e:12.1f}")
    print(f"(unrolled's training time alone, metrics.csv: {train_time:.1f} s for {e} epoch(s))")
    per_token = ours_wall / e / max(len(corpus.train_ids), 1)
    print(f"extrapolated: 13 epochs of 1M tokens ~ {13 * 1e6 * per_token / 60:.1f} min (this machine, this load)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
