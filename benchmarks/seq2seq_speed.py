"""Encoder-decoder training speed against a plain PyTorch loop with the same sizes; beam search throughput.

The peer is what one writes by hand in PyTorch: nn.Embedding, a bidirectional nn.LSTM encoder over packed
sequences, a Linear+tanh bridge, an nn.LSTMCell decoder with input feeding and Luong's general attention (keys
projected once), a combine layer and the softmax. Same sizes, same batches, same optimiser; timed interleaved
(benchmarks/_timing.py), ratios per round, medians. Target (issue 7): unrolled >= 0.95x the peer's tokens/s.

    python benchmarks/seq2seq_speed.py                       # B=64, S=T=20, E=64, H=128
    python benchmarks/seq2seq_speed.py --repeats 10 --batch 32
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved, machine, set_threads  # noqa: E402
from unrolled.decode.beam import beam_search  # noqa: E402
from unrolled.models.encoder_decoder import EncoderDecoder, Seq2SeqConfig  # noqa: E402


class PlainSeq2Seq(nn.Module):
    """The hand-written peer (Luong et al. 2015 general attention with input feeding)."""

    def __init__(self, vs, vt, E, H):
        super().__init__()
        self.src_emb, self.tgt_emb = nn.Embedding(vs, E), nn.Embedding(vt, E)
        self.enc = nn.LSTM(E, H, batch_first=True, bidirectional=True)
        self.bridge_h, self.bridge_c = nn.Linear(2 * H, 2 * H), nn.Linear(2 * H, 2 * H)
        self.dec = nn.LSTMCell(E + 2 * H, 2 * H)
        self.W_a = nn.Linear(2 * H, 2 * H, bias=False)
        self.combine = nn.Linear(4 * H, 2 * H, bias=False)
        self.out = nn.Linear(2 * H, vt)

    def forward(self, src, lengths, tgt_in):
        packed = pack_padded_sequence(self.src_emb(src), lengths, batch_first=True, enforce_sorted=False)
        mem, (h, c) = self.enc(packed)
        mem, _ = pad_packed_sequence(mem, batch_first=True, total_length=src.shape[1])
        h = torch.tanh(self.bridge_h(torch.cat([h[0], h[1]], -1)))
        c = self.bridge_c(torch.cat([c[0], c[1]], -1))
        keys = self.W_a(mem)
        mask = torch.arange(src.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
        feed = mem.new_zeros(src.shape[0], h.shape[1])
        emb = self.tgt_emb(tgt_in)
        outs = []
        for t in range(tgt_in.shape[1]):
            h, c = self.dec(torch.cat([emb[:, t], feed], -1), (h, c))
            e = torch.bmm(keys, h.unsqueeze(2)).squeeze(2).masked_fill(~mask, float("-inf"))
            a = torch.softmax(e, -1)
            ctx = torch.bmm(a.unsqueeze(1), mem).squeeze(1)
            feed = torch.tanh(self.combine(torch.cat([ctx, h], -1)))
            outs.append(self.out(feed))
        return torch.stack(outs, 1), None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--length", type=int, default=20)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--vocab", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--steps", type=int, default=3, help="training steps per timed run")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    set_threads(args.threads)
    print(machine())
    torch.manual_seed(0)
    B, S, V = args.batch, args.length, args.vocab
    src = torch.randint(4, V, (B, S))
    lengths = torch.randint(S // 2, S + 1, (B,))
    lengths[0] = S
    tgt = torch.randint(4, V, (B, S + 1))
    y_in, y_out = tgt[:, :-1], tgt[:, 1:]
    ours = EncoderDecoder(V, V, Seq2SeqConfig(embed_dim=args.embed, hidden=args.hidden, dropout=0.0))
    peer = PlainSeq2Seq(V, V, args.embed, args.hidden)
    n_ours = sum(p.numel() for p in ours.parameters())
    n_peer = sum(p.numel() for p in peer.parameters())
    print(f"B={B} S=T={S} E={args.embed} H={args.hidden} V={V}; parameters unrolled {n_ours}, plain {n_peer}")

    def trainer(model):
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def run():
            for _ in range(args.steps):
                logits, _ = model(src, lengths, y_in)
                loss = F.cross_entropy(logits.reshape(-1, V), y_out.reshape(-1))
                opt.zero_grad()
                loss.backward()
                opt.step()

        return run

    timings = interleaved({"unrolled": trainer(ours), "plain": trainer(peer)}, repeats=args.repeats, warmup=1)
    tokens = args.steps * B * S
    for name in ("unrolled", "plain"):
        print(f"training {name:9s} {tokens / timings.median(name):10.0f} target tokens/s")
    print(f"unrolled / plain tokens/s: {1 / timings.ratio('unrolled', 'plain'):.3f}x (median of per-round ratios)")

    ours.eval()
    n = min(B, 32)
    with torch.no_grad():
        t0 = time.perf_counter()
        state = ours.encode(src[:n], lengths[:n])
        beam_search(ours.step, state, 2, 3, n, beam_size=5, max_len=S)
        dt = time.perf_counter() - t0
    print(f"beam search (beam 5, max_len {S}, untrained model so no early <eos>): {n / dt:.1f} sentences/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
