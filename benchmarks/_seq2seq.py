"""Helpers shared by the seq2seq benchmark scripts: vocabularies, padded batches, a timed training loop, decoding."""

from __future__ import annotations

import random
import time

import torch
import torch.nn.functional as F

from unrolled.decode.beam import beam_search, greedy_decode
from unrolled.metrics.translation import translation_scores
from unrolled.models.encoder_decoder import EncoderDecoder, Seq2SeqConfig
from unrolled.text.vocab import Vocabulary

PAD_ID = 1  # Vocabulary's default specials: <unk> 0, <pad> 1, <bos> 2, <eos> 3


def vocab_of(texts, tokenize):
    return Vocabulary.build(t for s in texts for t in tokenize(s))


def tensors(pairs, sv, tv, tok_s, tok_t):
    src = [sv.encode(tok_s(s)) for s, _ in pairs]
    tgt = [tv.encode(tok_t(t)) for _, t in pairs]
    S, T = max(map(len, src)), max(map(len, tgt)) + 1
    x = torch.tensor([s + [PAD_ID] * (S - len(s)) for s in src])
    lengths = torch.tensor([len(s) for s in src])
    y_in = torch.tensor([[tv.bos_id] + t + [PAD_ID] * (T - 1 - len(t)) for t in tgt])
    y_out = torch.tensor([t + [tv.eos_id] + [PAD_ID] * (T - 1 - len(t)) for t in tgt])
    return x, lengths, y_in, y_out


def batches(pairs, batch_size, rng):
    order = list(range(len(pairs)))
    rng.shuffle(order)
    chunks = [order[i : i + batch_size * 20] for i in range(0, len(order), batch_size * 20)]
    out = []
    for c in chunks:  # length buckets inside pools of 20 batches
        c.sort(key=lambda i: len(pairs[i][0]))
        out += [[pairs[i] for i in c[j : j + batch_size]] for j in range(0, len(c), batch_size)]
    rng.shuffle(out)
    return out


def train(
    model, pairs, sv, tv, tok_s, tok_t, budget_s, batch_size=64, lr=3e-3, seed=0, label_smoothing=0.0, max_steps=None
):
    """Adam on cross-entropy until ``budget_s`` seconds have passed or, when ``max_steps`` is given, that many
    optimizer steps were taken (whichever comes first; ``budget_s=None`` means no time cap); returns (seconds,
    epochs, steps, tokens)."""
    rng = random.Random(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    start, steps, epochs, tokens = time.perf_counter(), 0, 0, 0
    model.train()

    def done():
        out_of_time = budget_s is not None and time.perf_counter() - start >= budget_s
        return out_of_time or (max_steps is not None and steps >= max_steps)

    while not done():
        for b in batches(pairs, batch_size, rng):
            x, lengths, y_in, y_out = tensors(b, sv, tv, tok_s, tok_t)
            logits, _ = model(x, lengths, y_in)
            loss = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), y_out.reshape(-1), ignore_index=PAD_ID,
                label_smoothing=label_smoothing,
            )  # fmt: skip
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            steps += 1
            tokens += int((y_out != PAD_ID).sum())
            if done():
                break
        else:
            epochs += 1
    return time.perf_counter() - start, epochs, steps, tokens


@torch.no_grad()
def translate(model, pairs, sv, tv, tok_s, detok_t, beam=1, max_len=40, batch_size=128):
    model.eval()
    out = []
    for i in range(0, len(pairs), batch_size):
        b = pairs[i : i + batch_size]
        x, lengths, _, _ = tensors([(s, s) for s, _ in b], sv, sv, tok_s, tok_s)
        state = model.encode(x, lengths)
        if beam == 1:
            ids = greedy_decode(model.step, state, tv.bos_id, tv.eos_id, len(b), max_len)
        else:
            ids = [h[0].tokens for h in beam_search(model.step, state, tv.bos_id, tv.eos_id, len(b), beam, max_len)]
        out += [detok_t(tv.decode(r, skip_specials=True)) for r in ids]
    return out


def score(model, pairs, sv, tv, tok_s, detok_t, beam=1, max_len=40):
    hyps = translate(model, pairs, sv, tv, tok_s, detok_t, beam, max_len)
    return translation_scores(hyps, [t for _, t in pairs])


def build(sv, tv, **config):
    return EncoderDecoder(len(sv), len(tv), Seq2SeqConfig(**config))
