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
    python benchmarks/lm_word.py --tokens 1000000 --epochs 13 --extrapolate 10   # time 10 steps, extrapolate the run
    python benchmarks/lm_word.py --control --parity-steps 20   # + float64 step parity, + the run's own spread
    python benchmarks/lm_word.py --softmax adaptive --cutoffs 2000,6000 --tokens 1000000 --epochs 13 --extrapolate 10

With ``--softmax adaptive`` ours uses the adaptive softmax (Grave et al. 2017) while the examples loop keeps the full
softmax: the ratios are then the speed-up (and the perplexity cost) of the model change, not a like-for-like
comparison of two loops.

A 1-epoch lr-20 run is chaotic: float32 rounding differences (1e-7 at step 1) grow ~1.35x per step, and the
examples loop started from weights perturbed by 1e-6 lands 12% away from itself (``--control``); the step-by-step
float64 comparison (``--parity-steps``) is the check that the two loops compute the same thing.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import math
import re
import statistics
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
from _timing import interleaved, machine, set_threads  # noqa: E402
from unrolled.data.stream import batchify  # noqa: E402
from unrolled.layers.softmax_output import default_cutoffs  # noqa: E402
from unrolled.tasks.lm.config import build_run_config  # noqa: E402
from unrolled.tasks.lm.corpus import prepare_corpus  # noqa: E402
from unrolled.tasks.lm.run import build_model, build_objective, stream, train_lm  # noqa: E402
from unrolled.train import Trainer  # noqa: E402

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


def examples_run(model, train, valid, test, cfg, V, device, save=None, on_step=None):
    """pytorch/examples main.py: train(), evaluate() per epoch, lr schedule, keep the best (and write it to
    ``save``), test once (``test`` None: no test pass). ``on_step()`` is called after each optimizer step (timing)."""
    bptt, clip, lr = cfg.data.bptt, cfg.train.clip_norm, cfg.train.lr
    train_d = batchify(train, cfg.data.batch_size).t().contiguous().to(device)  # (N, B) as in the examples
    valid_d = batchify(valid, cfg.data.eval_batch_size).t().contiguous().to(device)
    test_d = batchify(test, 1).t().contiguous().to(device) if test is not None else None
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
            if on_step is not None:
                on_step()
        v = examples_evaluate(model, valid_d, bptt, V)
        valid_losses.append(v)
        if best is None or v < best:  # main.py saves the model to a file (torch.save) when validation improves
            best, best_state = v, {k: t.clone() for k, t in model.state_dict().items()}
            if save is not None:
                torch.save(model.state_dict(), save)
        epoch_times.append(time.perf_counter() - t0)
        if epoch >= start_decay:
            lr = max(lr / cfg.train.lr_decay, cfg.train.min_lr)
    model.load_state_dict(best_state)
    test_loss = examples_evaluate(model, test_d, bptt, V) if test_d is not None else math.nan
    return valid_losses, test_loss, epoch_times


def full_softmax(cfg):
    """``cfg`` with the full softmax (the examples loop's model): the peer of an adaptive-softmax run."""
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, softmax="full", cutoffs=None))


def to_examples(ours: nn.Module, cfg, V: int) -> ExamplesModel:
    """The LM task's model (full softmax) as an ExamplesModel with the same weights."""
    m = ExamplesModel(V, cfg.model.embed_dim, cfg.model.hidden, cfg.model.layers, cfg.model.dropout)
    m.encoder.weight.data.copy_(ours.embedding.weight.data)
    m.decoder.weight.data.copy_(ours.decoder.weight.data)
    m.decoder.bias.data.copy_(ours.decoder.bias.data)
    lstm = ours.rnn.to_torch()
    m.rnn.load_state_dict(lstm.state_dict())
    return m


def perturbed(model: nn.Module, rel: float, seed: int) -> nn.Module:
    """``model`` with every weight multiplied by ``1 + rel * N(0, 1)`` (the control run: how far the same loop
    lands from a start that differs by float32 rounding-sized amounts)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1 + rel * torch.randn(p.shape, generator=g).to(p))
    return model


def first_divergence(cfg, corpus, V: int, steps: int) -> tuple[int | None, float]:
    """Train ours (Trainer + the LM objective) and the examples loop side by side for ``steps`` steps in float64
    from the same weights on the same stream; the first step whose parameters differ by more than 1e-9 (None if
    none) and the largest difference seen."""
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(cfg.train.seed)
        ours = build_model(cfg.model, V, 0)
        peer = to_examples(ours, cfg, V)
        B, T = cfg.data.batch_size, cfg.data.bptt
        ids = corpus.train_ids[: B * (steps * T + 1)]
        seen = []

        class Record:
            def on_step_end(self, trainer, step, metrics):
                seen.append([p.detach().clone() for p in trainer.model.parameters()])

        sub = dataclasses.replace(cfg.train, epochs=1, progress=False, plot=False)
        Trainer(ours, build_objective(cfg.model, 0), sub, callbacks=[Record()]).fit(stream(ids, B, T))
        data, hidden, worst = batchify(ids, B).t().contiguous(), None, 0.0
        for k, i in enumerate(range(0, data.size(0) - 1, T)):
            x, y = get_batch(data, i, T)
            hidden = None if hidden is None else repackage_hidden(hidden)
            peer.zero_grad()
            out, hidden = peer(x, hidden)
            F.cross_entropy(out.view(-1, V), y).backward()
            torch.nn.utils.clip_grad_norm_(peer.parameters(), cfg.train.clip_norm)
            for p in peer.parameters():
                p.data.add_(p.grad, alpha=-cfg.train.lr)
            theirs = [t.detach() for t in (peer.encoder.weight, peer.decoder.weight, peer.decoder.bias)]
            mine = [seen[k][0], seen[k][-2], seen[k][-1]]
            d = max(float((a - b).abs().max()) for a, b in zip(mine, theirs, strict=True))
            worst = max(worst, d)
            if d > 1e-9:
                return k + 1, worst
        return None, worst
    finally:
        torch.set_default_dtype(torch.float32)


def timing_rounds(cfg, corpus, V: int, steps: int, valid_tokens: int, rounds: int, device: str, tmp: Path):
    """Interleaved wall times of ``steps`` training steps plus one validation pass over ``valid_tokens`` tokens:
    ours (the Trainer as ``train lm`` runs it: run folder, metrics file, best weights, epoch-end checkpoint) against
    the examples loop (which writes its best model with torch.save). Returns the Timings and ours' median seconds per
    training step (from step-end times) and the examples loop's, measured the same way."""
    B, T = cfg.data.batch_size, cfg.data.bptt
    ids = corpus.train_ids[: B * (steps * T + 1)]
    valid = corpus.valid_ids[:valid_tokens]
    sub = dataclasses.replace(cfg.train, epochs=1, progress=False, plot=False, device=device)
    step_times: dict[str, list[float]] = {"unrolled": [], "examples": []}
    counter = iter(range(10**9))

    class Clock:
        def __init__(self, name: str):
            self.name, self.last = name, None

        def on_step_end(self, trainer=None, step=None, metrics=None):
            now = time.perf_counter()
            if self.last is not None:
                step_times[self.name].append(now - self.last)
            self.last = now

    def ours():
        torch.manual_seed(cfg.train.seed)
        model = build_model(cfg.model, V, 0)
        run = tmp / f"timing-{next(counter)}"
        trainer = Trainer(model, build_objective(cfg.model, 0), sub, run_dir=run, callbacks=[Clock("unrolled")])
        trainer.fit(stream(ids, B, T), stream(valid, cfg.data.eval_batch_size, T))

    def examples():  # always the full softmax (the peer of an adaptive run starts from the full model's weights)
        torch.manual_seed(cfg.train.seed)
        model = to_examples(build_model(full_softmax(cfg).model, V, 0), cfg, V).to(device)
        examples_run(model, ids, valid, None, dataclasses.replace(cfg, train=sub), V, device,
                     save=tmp / "examples-model.pt", on_step=Clock("examples").on_step_end)  # fmt: skip

    timings = interleaved({"unrolled": ours, "examples": examples}, repeats=rounds, warmup=0)
    return timings, {k: statistics.median(v) if v else math.nan for k, v in step_times.items()}


def gemm_floor(cfg, V: int, repeats: int = 5, cluster_fractions: list[float] | None = None) -> tuple[float, float]:
    r"""The matrix-product work of one training step and how fast this machine does it: (GFLOP, seconds).

    Counted (multiply-add = 2 FLOP), for N = B x bptt tokens, embedding E, hidden H, L layers, vocabulary V: the
    decoder's forward, input-gradient and weight-gradient products (3 x 2 N H V) and each LSTM layer's input and
    recurrent products, forward and both gradients (3 x 2 N (I + H) 4H). Pointwise work, the embedding and the
    optimizer are left out, so the time is a lower bound for any loop that computes the full softmax in float32.
    Timed here as the same products in torch (best of ``repeats``, the current thread setting): the recurrent
    product per step on (B, H) rows, as every loop must run it.

    With ``model.softmax = "adaptive"`` the decoder is the adaptive softmax's head (c_1 + n outputs, all N rows)
    and, for each tail cluster i, its two products H -> d_i = H // div^i -> |V_i| on the rows whose target falls in
    the cluster: ``cluster_fractions[i]`` of the N (the expected share, from the training frequencies)."""
    m = cfg.model
    B, T = cfg.data.batch_size, cfg.data.bptt
    N, E, H, L = B * T, m.embed_dim, m.hidden, m.layers
    a = torch.randn(N, H)
    outputs = [(N, H, V)]  # (rows, in, out) of each decoder product
    if m.softmax == "adaptive":
        cutoffs = [*m.cutoffs, V] if m.cutoffs is not None else [*default_cutoffs(V), V]
        outputs = [(N, H, cutoffs[0] + len(cutoffs) - 1)]  # the head
        for i, f in enumerate(cluster_fractions or [0.0] * (len(cutoffs) - 1)):
            rows, d = max(1, round(f * N)), int(H // m.div_value ** (i + 1))
            outputs += [(rows, H, d), (rows, d, cutoffs[i + 1] - cutoffs[i])]
    shapes = []  # (callable, FLOP)
    for rows, fan_in, fan_out in outputs:
        x, w, g = torch.randn(rows, fan_in), torch.randn(fan_out, fan_in), torch.randn(rows, fan_out)
        shapes += [
            (lambda x=x, w=w: x @ w.t(), 2 * rows * fan_in * fan_out),  # scores (rows, out)
            (lambda g=g, w=w: g @ w, 2 * rows * fan_in * fan_out),  # d input (rows, in)
            (lambda g=g, x=x: g.t() @ x, 2 * rows * fan_in * fan_out),  # d W (out, in)
        ]
    for layer in range(L):
        I = E if layer == 0 else H
        x, wi, wh = torch.randn(N, I), torch.randn(4 * H, I), torch.randn(4 * H, H)
        d, h = torch.randn(N, 4 * H), torch.randn(B, H)
        dstep = torch.randn(B, 4 * H)
        shapes += [
            (lambda x=x, wi=wi: x @ wi.t(), 2 * N * I * 4 * H),  # input projection (N, 4H)
            (lambda d=d, wi=wi: d @ wi, 2 * N * I * 4 * H),  # d input (N, I)
            (lambda d=d, x=x: d.t() @ x, 2 * N * I * 4 * H),  # d W_ih (4H, I)
            (lambda h=h, wh=wh, T=T: [h @ wh.t() for _ in range(T)], 2 * N * H * 4 * H),  # per step (B, 4H)
            (lambda s=dstep, wh=wh, T=T: [s @ wh for _ in range(T)], 2 * N * H * 4 * H),  # d h per step (B, H)
            (lambda d=d, x=a: d.t() @ x, 2 * N * H * 4 * H),  # d W_hh (4H, H)
        ]
    flop, seconds = 0, 0.0
    for fn, f in shapes:
        fn()
        best = min(_timed(fn) for _ in range(repeats))
        flop, seconds = flop + f, seconds + best
    return flop / 1e9, seconds


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


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
    ap.add_argument("--extrapolate", type=int, metavar="STEPS", default=None,
                    help="do not run --epochs over --tokens: time STEPS steps (interleaved rounds) and extrapolate "
                    "the full run's training + validation time from them")  # fmt: skip
    ap.add_argument("--no-ppl", action="store_true", help="skip the perplexity comparison (full runs)")
    ap.add_argument("--control", action="store_true",
                    help="also run the examples loop from weights perturbed by 1e-6 (relative): the spread of the "
                    "run itself")  # fmt: skip
    ap.add_argument(
        "--parity-steps",
        type=int,
        default=0,
        help="first compare ours and the examples loop step by step in float64 for this many steps",
    )
    ap.add_argument("--softmax", choices=["full", "adaptive"], default="full",
                    help="ours' output layer (the examples loop always has the full softmax)")  # fmt: skip
    ap.add_argument("--cutoffs", default=None, help="adaptive softmax cutoffs, e.g. 2000,6000 (default V//5,V//2)")
    ap.add_argument("--div-value", type=float, default=4.0, help="adaptive softmax: tail i has H / D**i units")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    ap.add_argument("--time-steps", type=int, default=20, help="training steps per timing round")
    ap.add_argument("--time-valid-tokens", type=int, default=4000, help="validation tokens per timing round")
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
            # --extrapolate measures on at most 200k tokens (tiny Shakespeare itself: no sampling, ~10k words)
            built = min(args.tokens, 200_000) if args.extrapolate else args.tokens
            sizes = build_corpus(Path(args.data), folder, built, args.vocab, seed=0)
            print(f"corpus: {sizes['train']:,} train / {sizes['valid']:,} valid / {sizes['test']:,} test tokens")
        raw = yaml.safe_load(Path(args.config).read_text())
        raw["data"].update(path=str(folder / "train.txt"), valid=str(folder / "valid.txt"),
                           test=str(folder / "test.txt"))  # fmt: skip
        raw["train"].update(epochs=args.epochs, device=args.device, progress=False, plot=False)
        raw.setdefault("sample", {})["length"] = 0
        if args.softmax == "adaptive":
            cutoffs = None if args.cutoffs is None else [int(c) for c in args.cutoffs.split(",")]
            raw["model"].update(softmax="adaptive", cutoffs=cutoffs, div_value=args.div_value, tie_weights=False)
            if args.parity_steps:
                ap.error("--parity-steps compares two full-softmax loops: leave out --softmax adaptive")
        cfg = build_run_config(raw)
        corpus = prepare_corpus(cfg.data)
        V = len(corpus.codec.vocab)
        B, T = cfg.data.batch_size, cfg.data.bptt
        train_tokens = args.tokens if args.extrapolate else len(corpus.train_ids)
        steps_per_epoch = -(-(train_tokens // B - 1) // T)
        print(f"{Path(args.config).name}: vocabulary {V:,}, {steps_per_epoch} steps per epoch, device {args.device}, "
              f"{args.threads} threads")  # fmt: skip
        fractions = None
        if args.softmax == "adaptive":
            cutoffs = [*(cfg.model.cutoffs or default_cutoffs(V)), V]
            counts = torch.bincount(corpus.train_ids, minlength=V).double()
            fractions = [float(counts[a:b].sum() / counts.sum()) for a, b in zip(cutoffs, cutoffs[1:], strict=False)]
            print(f"ours: ADAPTIVE softmax (cutoffs {cutoffs[:-1]}, div {cfg.model.div_value:g}; training tokens in "
                  f"the head's shortlist {1 - sum(fractions):.1%}, in the tail clusters "
                  f"{', '.join(f'{f:.1%}' for f in fractions)}); the examples peer: FULL softmax -- ratios below are "
                  "the speed-up of the model change, not a like-for-like loop comparison")  # fmt: skip

        if args.parity_steps:
            step, worst = first_divergence(cfg, corpus, V, args.parity_steps)
            where = f"first at step {step}" if step else f"none in {args.parity_steps} steps"
            print(f"float64 step-by-step parity: parameters differing by > 1e-9: {where} (max diff {worst:.1e})")

        if args.extrapolate is None and not args.no_ppl:
            run = tmp / "run"
            outcome = train_lm(cfg, run, printer=lambda m: print("  unrolled:", m))
            ours_valid = [h["valid_loss"] for h in outcome.result.history]
            ours_test = json.loads((run / "test.json").read_text())["loss_nats"]
            torch.manual_seed(cfg.train.seed)
            start = build_model(full_softmax(cfg).model, V, 0)
            runs = {"examples": to_examples(start, cfg, V)}
            if args.control:
                runs["examples, start x (1 + 1e-6 N(0,1))"] = perturbed(to_examples(start, cfg, V), 1e-6, 1)
            peer = {}
            for name, model in runs.items():
                peer[name] = examples_run(model.to(args.device), corpus.train_ids, corpus.valid_ids,
                                          corpus.test_ids, cfg, V, args.device)  # fmt: skip
            if args.softmax == "adaptive":
                print(
                    "\nperplexity: unrolled = ADAPTIVE softmax, examples = FULL softmax (the adaptive softmax's cost)"
                )
            print(f"\n{'perplexity':28}{'unrolled':>10}" + "".join(f"{n[:24]:>26}" for n in peer))
            ref_valid, ref_test = peer["examples"][0], peer["examples"][1]
            for i in range(len(ours_valid)):
                row = [math.exp(ours_valid[i])] + [math.exp(v[0][i]) for v in peer.values()]
                print(f"valid, epoch {i + 1:<15}{row[0]:10.2f}" + "".join(f"{x:26.2f}" for x in row[1:])
                      + f"   ours/examples {math.exp(ours_valid[i] - ref_valid[i]):.4f}")  # fmt: skip
            row = [math.exp(ours_test)] + [math.exp(v[1]) for v in peer.values()]
            print(f"{'test (best weights)':28}{row[0]:10.2f}" + "".join(f"{x:26.2f}" for x in row[1:])
                  + f"   ours/examples {math.exp(ours_test - ref_test):.4f}")  # fmt: skip
            if args.control:
                c = list(peer.values())[1]
                print(f"control: perturbed/unperturbed examples, test {math.exp(c[1] - ref_test):.4f}")

        steps = args.extrapolate or args.time_steps
        timings, per_step = timing_rounds(cfg, corpus, V, steps, args.time_valid_tokens, args.rounds,
                                          args.device, tmp)  # fmt: skip
        ratios = [a / b for a, b in zip(timings.rounds["unrolled"], timings.rounds["examples"], strict=True)]
        peer_note = " [ours ADAPTIVE softmax, examples FULL softmax]" if args.softmax == "adaptive" else ""
        print(
            f"\nwall time{peer_note}, {args.rounds} interleaved rounds of {steps} training steps + validation of "
            f"{args.time_valid_tokens:,} tokens (train lm's run folder, metrics, best weights, checkpoint included)"
        )
        print("  unrolled s: " + ", ".join(f"{t:.1f}" for t in timings.rounds["unrolled"]))
        print("  examples s: " + ", ".join(f"{t:.1f}" for t in timings.rounds["examples"]))
        print(
            f"  ratio unrolled/examples per round: {', '.join(f'{r:.3f}' for r in ratios)}; "
            f"median {statistics.median(ratios):.3f}"
        )
        # extrapolation: ours' per-step time x steps, plus validation scaled from the measured rounds
        steady = per_step["unrolled"] / per_step["examples"]
        print(
            f"  steady state, median seconds per training step: unrolled {per_step['unrolled'] * 1000:.1f} ms, "
            f"examples {per_step['examples'] * 1000:.1f} ms; ratio {steady:.3f}"
        )
        ours_round, ex_step = timings.median("unrolled"), per_step["examples"]
        per_step = per_step["unrolled"]
        rest = max(ours_round - steps * per_step, 0.0)  # validation of the slice + writes
        valid_s = rest * len(corpus.valid_ids) / max(args.time_valid_tokens, 1)
        epoch_s = steps_per_epoch * per_step + valid_s
        print(
            f"measured: {per_step * 1000:.0f} ms per training step (median of {len(ratios) * (steps - 1)} "
            f"step-to-step times); {rest:.1f} s for the validation slice and writes"
        )
        print(
            f"extrapolated: {epoch_s / 60:.1f} min per epoch of {train_tokens:,} tokens; {args.epochs} "
            f"epoch(s): {args.epochs * epoch_s / 60:.1f} min (training + validation; the single test pass not "
            f"included); the examples loop's training steps alone: "
            f"{args.epochs * steps_per_epoch * ex_step / 60:.1f} min"
        )
        gflop, floor_s = gemm_floor(cfg, V, cluster_fractions=fractions)
        kind = "adaptive-softmax (expected tail rows)" if args.softmax == "adaptive" else "full-softmax"
        print(
            f"compute floor: {gflop:.2f} GFLOP of matrix products per training step, {floor_s * 1000:.0f} ms on "
            f"this machine ({gflop / floor_s:.0f} GFLOP/s, the same products timed alone); {args.epochs} epoch(s) "
            f"of {steps_per_epoch} steps: at least {args.epochs * steps_per_epoch * floor_s / 60:.1f} min for any "
            f"{kind} float32 loop (measured step: {per_step / floor_s:.2f}x the floor)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
