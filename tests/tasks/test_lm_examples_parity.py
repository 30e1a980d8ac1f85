"""K steps of the LM task's training (Trainer + RecurrentLMObjective + StreamBatches + step schedule) equal K steps
of the pytorch/examples word_language_model loop, written out here by hand, in float64 to 1e-10: the same chunks in
the same order, the state carried and detached between chunks and reset at each epoch start, the mean loss, the
global-norm clip, plain SGD, the lr halved at the epoch boundary, and the same validation losses (20 streams carrying
their state, reset per pass)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from unrolled.data.stream import batchify
from unrolled.tasks.lm.config import build_run_config
from unrolled.tasks.lm.run import build_model, build_objective, stream
from unrolled.train import Trainer

V, B, T = 23, 3, 4


def _config():
    return build_run_config(
        {
            "data": {"tokenizer": "whitespace", "batch_size": B, "bptt": T, "eval_batch_size": 2},
            "model": {"family": "rnn", "cell": "lstm", "embed_dim": 5, "hidden": 6, "layers": 2, "dropout": 0.0,
                      "init": "uniform:0.1"},
            "train": {"epochs": 2, "optimizer": "sgd", "lr": 20.0, "clip_norm": 0.25, "schedule": "step",
                      "lr_decay": 2.0, "lr_decay_start": 1, "carry_state": True, "progress": False, "plot": False,
                      "device": "cpu", "seed": 0},
        }
    )  # fmt: skip


class _Examples(nn.Module):
    """pytorch/examples RNNModel: Embedding -> nn.LSTM (T, B) -> Linear."""

    def __init__(self, ours: nn.Module):
        super().__init__()
        self.encoder = nn.Embedding(V, 5).double()
        self.rnn = ours.rnn.to_torch()
        self.rnn.batch_first = False
        self.decoder = nn.Linear(6, V).double()
        with torch.no_grad():
            self.encoder.weight.copy_(ours.embedding.weight)
            self.decoder.weight.copy_(ours.decoder.weight)
            self.decoder.bias.copy_(ours.decoder.bias)

    def forward(self, x, hidden):  # x: (T, B)
        out, hidden = self.rnn(self.encoder(x), hidden)  # (T, B, H)
        return self.decoder(out), hidden  # (T, B, V)


def _examples_evaluate(model, data, bptt):
    total, count, hidden = 0.0, 0, None
    with torch.no_grad():
        for i in range(0, data.size(0) - 1, bptt):
            seq = min(bptt, data.size(0) - 1 - i)
            out, hidden = model(data[i : i + seq], hidden)
            y = data[i + 1 : i + 1 + seq].reshape(-1)
            total += F.cross_entropy(out.view(-1, V), y, reduction="sum").item()
            count += y.numel()
    return total / count


def _examples_train(model, train, valid, cfg):
    """main.py of pytorch/examples/word_language_model (the lr rule replaced by the config's step schedule)."""
    lr, steps, valids = cfg.train.lr, [], []
    data = batchify(train, B).t().contiguous()  # (N, B)
    for epoch in range(1, cfg.train.epochs + 1):
        hidden = None  # init_hidden at every epoch start
        for i in range(0, data.size(0) - 1, T):
            seq = min(T, data.size(0) - 1 - i)
            x, y = data[i : i + seq], data[i + 1 : i + 1 + seq].reshape(-1)
            hidden = None if hidden is None else tuple(h.detach() for h in hidden)  # repackage_hidden
            model.zero_grad()
            out, hidden = model(x, hidden)
            F.cross_entropy(out.view(-1, V), y).backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.train.clip_norm)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
            steps.append([p.detach().clone() for p in _ordered(model)])
        valids.append(_examples_evaluate(model, batchify(valid, 2).t().contiguous(), T))
        if epoch >= cfg.train.lr_decay_start:
            lr /= cfg.train.lr_decay
    return steps, valids


def _ordered(model):
    """The examples model's parameters in the LM task model's order (embedding, LSTM layers, decoder)."""
    rnn = [getattr(model.rnn, f"{n}_l{k}") for k in range(2) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    return [model.encoder.weight, *rnn, model.decoder.weight, model.decoder.bias]


def test_k_steps_equal_the_examples_loop_in_float64():
    cfg = _config()
    g = torch.Generator().manual_seed(4)
    train = torch.randint(0, V, (B * (T * 5 + 2) + 1,), generator=g)  # 6 chunks per epoch, the last one short
    valid = torch.randint(0, V, (2 * 11,), generator=g)
    torch.manual_seed(0)
    ours = build_model(cfg.model, V, 0).double()
    peer = _Examples(ours)
    recorded = []

    class Record:
        def on_step_end(self, trainer, step, metrics):
            recorded.append([p.detach().clone() for p in trainer.model.parameters()])

    trainer = Trainer(ours, build_objective(cfg.model, 0), cfg.train, callbacks=[Record()])
    result = trainer.fit(stream(train, B, T), stream(valid, 2, T))
    steps, valids = _examples_train(peer, train, valid, cfg)
    assert len(recorded) == len(steps) == 12
    for k, (a, b) in enumerate(zip(recorded, steps, strict=True)):
        for pa, pb in zip(a, b, strict=True):
            torch.testing.assert_close(pa, pb, rtol=0, atol=1e-10, msg=lambda m, k=k: f"step {k + 1}: {m}")
    assert [h["lr"] for h in result.history] == [20.0, 10.0]
    for ours_v, peer_v in zip(result.valid_losses, valids, strict=True):
        assert abs(ours_v - peer_v) < 1e-10
    # the check can fail: a run whose state is not carried across chunks takes different steps
    torch.manual_seed(0)
    other = build_model(cfg.model, V, 0).double()
    recorded.clear()
    cfg.train.carry_state = False
    Trainer(other, build_objective(cfg.model, 0), cfg.train, callbacks=[Record()]).fit(stream(train, B, T))
    assert (recorded[1][1] - steps[1][1]).abs().max() > 1e-6
