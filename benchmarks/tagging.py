"""Tagging speed: our SequenceTagger (softmax) against a plain PyTorch BiLSTM tagger loop, and the CRF's cost.

Same generated data (Zipf-distributed word ids, sentence lengths 5..40, K tags), same length-bucketed batches
(:class:`unrolled.data.LengthBucketSampler`), same sizes (embedding E, BiLSTM H per direction, dropout), same Adam,
in this process, timed interleaved (``benchmarks/_timing.py``). The plain loop is what a PyTorch tutorial writes:
``nn.Embedding -> nn.LSTM(bidirectional) over pack_padded_sequence -> nn.Linear -> cross-entropy``. Reports
training and prediction sentences/s and the ratio ours / plain (target >= 0.95), then the CRF: training with the
CRF NLL and predicting with Viterbi beside the softmax tagger, and the two output layers alone on fixed emissions.

    python benchmarks/tagging.py            # full: 2000 sentences, 5 rounds
    python benchmarks/tagging.py --quick    # 256 sentences, 3 rounds
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from _timing import interleaved, machine, set_threads
from unrolled.data.bucketing import LengthBucketSampler
from unrolled.layers.crf import CRF
from unrolled.models.tagger import SequenceTagger, TagBatch, TaggerConfig


def generate(n: int, vocab: int, tags: int, seed: int) -> tuple[list[list[int]], list[list[int]]]:
    """Sentences of Zipf-distributed word ids 1..vocab-1 and tags that depend on the word and its left neighbour."""
    g = torch.Generator().manual_seed(seed)
    ranks = torch.arange(1, vocab, dtype=torch.float64)
    probs = 1.0 / ranks
    words, labels = [], []
    for _ in range(n):
        length = int(torch.randint(5, 41, (1,), generator=g))
        w = (torch.multinomial(probs, length, replacement=True, generator=g) + 1).tolist()
        labels.append([(a * 7 + b * 3) % tags if a % 5 == 0 else 0 for a, b in zip(w, [0] + w[:-1], strict=True)])
        words.append(w)
    return words, labels


class PlainTagger(nn.Module):
    """The tutorial BiLSTM tagger: embedding -> dropout -> packed nn.LSTM -> dropout -> linear."""

    def __init__(self, V: int, E: int, H: int, K: int, dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(V, E, padding_idx=0)
        self.lstm = nn.LSTM(E, H, batch_first=True, bidirectional=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * H, K)

    def forward(self, words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.embedding(words))
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=True)
        h, _ = self.lstm(packed)
        h, _ = pad_packed_sequence(h, batch_first=True, total_length=words.shape[1])
        return self.out(self.drop(h))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="256 sentences, 3 rounds")
    ap.add_argument("--sentences", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--vocab", type=int, default=5000)
    ap.add_argument("--tags", type=int, default=9)
    ap.add_argument("--embed", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.quick:
        args.sentences, args.rounds = 256, 3
    set_threads(args.threads)
    torch.manual_seed(0)
    words, labels = generate(args.sentences, args.vocab, args.tags, seed=0)
    sampler = LengthBucketSampler([len(w) for w in words], args.batch, seed=0)
    batches = [TagBatch.collate([words[i] for i in b], [labels[i] for i in b], indices=b) for b in sampler]
    n = len(words)
    print(f"# {machine()}")
    print(
        f"# {n} sentences ({sum(map(len, words))} tokens), batch {args.batch}, {len(batches)} batches, padding "
        f"{sampler.padding_ratio():.3f} (unbucketed: "
        f"{LengthBucketSampler([len(w) for w in words], args.batch, seed=0, pool_batches=1).padding_ratio():.3f}), "
        f"V={args.vocab} E={args.embed} H={args.hidden}x2 K={args.tags}"
    )

    plain = PlainTagger(args.vocab, args.embed, args.hidden, args.tags, 0.5)
    config = TaggerConfig(embed_dim=args.embed, hidden=args.hidden, dropout=0.5)
    ours = SequenceTagger(args.vocab, args.tags, config)
    ours_crf = SequenceTagger(args.vocab, args.tags, TaggerConfig(**{**config.__dict__, "crf": True}))
    opts = {m: torch.optim.Adam(m.parameters(), lr=1e-3) for m in (plain, ours, ours_crf)}

    def train_plain() -> None:
        plain.train()
        opt = opts[plain]
        for b in batches:
            opt.zero_grad()
            scores = plain(b.words, b.lengths)  # (B, T, K)
            mask = b.mask
            F.cross_entropy(scores[mask], b.tags[mask]).backward()
            opt.step()

    def train_ours(model: SequenceTagger):
        def run() -> None:
            model.train()
            opt = opts[model]
            for b in batches:
                opt.zero_grad()
                model(b).backward()
                opt.step()

        return run

    @torch.no_grad()
    def predict_plain() -> None:
        plain.eval()
        for b in batches:
            paths = plain(b.words, b.lengths).argmax(2)
            [row[:k].tolist() for row, k in zip(paths, b.lengths.tolist(), strict=True)]

    def predict_ours(model: SequenceTagger):
        def run() -> None:
            model.eval()
            for b in batches:
                model.decode(b)

        return run

    train = interleaved({"plain": train_plain, "ours": train_ours(ours), "ours+crf": train_ours(ours_crf)}, args.rounds)
    pred = interleaved(
        {"plain": predict_plain, "ours": predict_ours(ours), "ours+crf": predict_ours(ours_crf)}, args.rounds
    )
    print("\n| | plain BiLSTM (sent/s) | ours softmax (sent/s) | ours / plain | ours + CRF (sent/s) | CRF / softmax |")
    print("|---|---|---|---|---|---|")
    for name, t in (("training", train), ("prediction", pred)):
        print(
            f"| {name} | {n / t.median('plain'):.0f} | {n / t.median('ours'):.0f} | "
            f"{1 / t.ratio('ours', 'plain'):.3f}x | {n / t.median('ours+crf'):.0f} | "
            f"{1 / t.ratio('ours+crf', 'ours'):.3f}x |"
        )

    # the output layers alone, on fixed emissions of every batch
    crf = CRF(args.tags)
    emissions = [torch.randn(b.words.shape[0], b.words.shape[1], args.tags, requires_grad=True) for b in batches]

    def softmax_loss() -> None:
        for b, e in zip(batches, emissions, strict=True):
            F.cross_entropy(e[b.mask], b.tags[b.mask]).backward()

    def crf_loss() -> None:
        for b, e in zip(batches, emissions, strict=True):
            crf(e, b.tags, b.lengths, reduction="token_mean").backward()

    @torch.no_grad()
    def argmax() -> None:
        for e in emissions:
            e.argmax(2)

    @torch.no_grad()
    def viterbi() -> None:
        for b, e in zip(batches, emissions, strict=True):
            crf.viterbi(e, b.lengths)

    heads = interleaved({"softmax": softmax_loss, "crf": crf_loss, "argmax": argmax, "viterbi": viterbi}, args.rounds)
    print("\n| output layer alone (all batches) | ms | per sentence (us) |")
    print("|---|---|---|")
    for name in ("softmax", "crf", "argmax", "viterbi"):
        ms = heads.median(name) * 1e3
        label = {"softmax": "softmax CE forward+backward", "crf": "CRF NLL forward+backward",
                 "argmax": "argmax decode", "viterbi": "Viterbi decode"}[name]  # fmt: skip
        print(f"| {label} | {ms:.1f} | {ms * 1e3 / n:.1f} |")


if __name__ == "__main__":
    main()
