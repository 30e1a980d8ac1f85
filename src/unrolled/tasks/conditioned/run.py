"""The conditioned-generation task end to end: train a run, load it back, score held-out sequences with and
without their labels, generate sequences for labels, describe.

A run folder holds ``config.json`` (the resolved configuration, plus ``labels``, ``label_counts`` (the training
split's), ``max_tokens`` (the longest training sequence) and the data's sizes), ``vocab.json``, the trainer's
``checkpoint/``, ``best/model.safetensors``, ``metrics.csv`` and ``loss.png``.

What the label buys is measured against the same network used without it: the *unconditioned* model is the
mixture over labels with the training prior, :math:`p(x) = \\sum_c \\pi_c\\, p(x \\mid c)` (a proper sequence model
that never sees the label), and the *label-shuffled* score is the expected loss when the held-out labels are
randomly permuted among the held-out sequences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unrolled.config_io import to_dict
from unrolled.decode.beam import sample_decode
from unrolled.models.conditioned import ConditionedDecoder
from unrolled.tasks.classify.data import ClassifyBatches, Split, TextEncoder
from unrolled.tasks.conditioned.config import ConditionedRunConfig
from unrolled.tasks.conditioned.data import (
    PreparedData,
    SequenceEncoder,
    encode_split,
    held_out,
    prepare_data,
    read_sequences,
    unknown_label,
)
from unrolled.tasks.resolve import load_run_config
from unrolled.tasks.runs import RunError, choose_weights
from unrolled.tasks.session import RunSession
from unrolled.tasks.spec import TrainOutcome
from unrolled.text.vocab import Vocabulary
from unrolled.train.checkpoint import load_model_weights
from unrolled.train.objective import StepResult

__all__ = [
    "ConditionedObjective",
    "LoadedConditioned",
    "build_model",
    "generate_for",
    "load_run",
    "run_info",
    "score_split",
    "sequence_logprobs",
    "train_in_session",
]

VOCAB_FILE = "vocab.json"


class ConditionedObjective:
    """``(model, (ids, lengths, labels), state) -> StepResult``: mean cross-entropy of every real next token (the
    decoder reads ``<bos> x_1 .. x_n`` and predicts ``x_1 .. x_n <eos>``), teacher-forced, stateless."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, model: nn.Module, batch: tuple[Tensor, Tensor, Tensor], state: Any) -> StepResult:
        x, _, labels = batch  # (B, T + 1) ids with <bos> ... <eos> and padding, (B,), (B,)
        logits = model(labels, x[:, :-1])  # (B, T, V)
        target = x[:, 1:]  # (B, T)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=self.pad_id)
        return StepResult(loss, int((target != self.pad_id).sum()), None)


def build_model(cfg: ConditionedRunConfig, vocab: Vocabulary, labels: list[str]) -> ConditionedDecoder:
    m = cfg.model
    return ConditionedDecoder(
        len(vocab),
        num_classes=len(labels),
        feature_size=m.label_dim,
        embed_dim=m.embed_dim,
        hidden=m.hidden,
        layers=m.layers,
        cell=m.cell,
        conditioning=m.conditioning,
        dropout=m.dropout,
        **m.cell_options,
    )


def _describe(cfg: ConditionedRunConfig, labels: list[str]) -> str:
    m = cfg.model
    return (
        f"{m.cell} decoder, {m.layers} layer(s) x {m.hidden}, conditioned on {len(labels)} labels "
        f"({m.conditioning}, label vectors of width {m.label_dim})"
    )


def train_in_session(cfg: ConditionedRunConfig, session: RunSession) -> TrainOutcome:
    """The conditioned-generation part of a training session (the task's ``train``)."""
    session.device  # noqa: B018 - a device that is not there is a one-line error before the data is read
    data: PreparedData = prepare_data(cfg.data, cfg.train.seed)
    vocab, labels = data.encoder.vocab, data.labels
    if session.resume:
        saved = Vocabulary.load(session.run_dir / VOCAB_FILE)
        if saved != vocab:
            raise RunError(f"{session.run_dir}: the data no longer gives the vocabulary this run was trained with")
    printer = session.print
    printer(
        f"data: {data.source['train']:,} train / {data.source['valid']:,} valid sequences, {len(labels)} labels, "
        f"vocabulary {len(vocab)} {cfg.data.tokenizer} tokens; run folder {session.run_dir}"
    )
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg, vocab, labels)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    printer(f"model: {_describe(cfg, labels)}, {n_params:,} parameters")
    if session.main:
        vocab.save(session.path(VOCAB_FILE))
    pad = vocab.pad_id
    train = ClassifyBatches(data.train, cfg.data.batch_size, pad, shuffle=True, seed=cfg.train.seed)
    valid = ClassifyBatches(data.valid, cfg.data.eval_batch_size, pad, shuffle=False)
    extra = session.record(
        cfg, labels=labels, label_counts=data.label_counts, max_tokens=data.max_tokens, source=data.source
    )
    result = session.fit(model, ConditionedObjective(pad), train, valid, cfg.train, extra_config=extra)
    return session.outcome(result, f"generate with: unrolled predict {session.run_dir} {labels[0]}")


# --- loading ----------------------------------------------------------------------------------------------
@dataclass
class LoadedConditioned:
    run_dir: Path
    config: ConditionedRunConfig
    raw: dict[str, Any]
    encoder: SequenceEncoder
    labels: list[str]
    label_counts: list[int]
    max_tokens: int
    model: ConditionedDecoder
    note: str | None = None

    def label_ids(self, labels: list[str], where: str) -> Tensor:
        """The ids of ``labels`` (an unknown one: one line listing the known labels)."""
        index = {c: i for i, c in enumerate(self.labels)}
        for i, c in enumerate(labels):
            if c not in index:
                raise unknown_label(c, self.labels, f"{where} {i + 1}" if len(labels) > 1 else where)
        return torch.tensor([index[c] for c in labels], dtype=torch.long)


def load_run(run_dir: str | Path, which: str = "best") -> LoadedConditioned:
    """A trained conditioned-generation run, its model in eval mode (best validation weights unless
    ``which="last"``)."""
    from unrolled.tasks.conditioned.task import TASK

    run_dir = Path(run_dir)
    cfg, raw = load_run_config(TASK, run_dir)
    vocab_path = run_dir / VOCAB_FILE
    if not vocab_path.is_file():
        raise RunError(f"{run_dir} has no {VOCAB_FILE}; the run is incomplete")
    labels, counts, max_tokens = raw.get("labels"), raw.get("label_counts"), raw.get("max_tokens")
    if not isinstance(labels, list) or not isinstance(counts, list) or not isinstance(max_tokens, int):
        raise RunError(f"{run_dir / 'config.json'} has no labels/label_counts/max_tokens; the run is incomplete")
    vocab = Vocabulary.load(vocab_path)
    model = build_model(cfg, vocab, labels)
    choice = choose_weights(run_dir, which)
    load_model_weights(model, choice.path)
    model.eval()
    encoder = SequenceEncoder(TextEncoder(cfg.data.tokenizer, cfg.data.lowercase, vocab))
    return LoadedConditioned(run_dir, cfg, raw, encoder, labels, counts, max_tokens, model, choice.note)


# --- scoring ------------------------------------------------------------------------------------------------
@torch.no_grad()
def sequence_logprobs(model: ConditionedDecoder, split: Split, num_labels: int, pad_id: int, batch_size: int):
    r"""``(log p(x_n | c) for every sequence n and label c, tokens predicted per sequence)``: shapes (N, C), (N,).

    :math:`\log p(x \mid c) = \sum_{t=1}^{n+1} \log p(x_t \mid x_{<t}, c)` with :math:`x_{n+1}` = ``<eos>``.
    """
    n = len(split.ids)
    out = torch.empty(n, num_labels, dtype=torch.float64)
    tokens = torch.tensor([len(s) - 1 for s in split.ids])  # (N,) the n tokens and <eos>
    batches = ClassifyBatches(split, batch_size, pad_id, shuffle=False)
    for idx, x, _ in batches.in_order():
        target = x[:, 1:]  # (B, T)
        mask = target != pad_id  # (B, T)
        for c in range(num_labels):
            cond = torch.full((x.shape[0],), c, dtype=torch.long)  # (B,)
            logp = torch.log_softmax(model(cond, x[:, :-1]).double(), dim=-1)  # (B, T, V)
            picked = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)  # (B, T)
            out[torch.tensor(idx), c] = (picked * mask).sum(1)  # (B,)
    return out, tokens


def score_split(run: LoadedConditioned, split: Split) -> dict[str, Any]:
    r"""Per-token loss (nats) and perplexity of ``split``: conditioned on its labels; unconditioned, the mixture
    :math:`p(x) = \sum_c \pi_c\, p(x \mid c)` with the training prior :math:`\pi`; and label-shuffled, the
    expectation over every permutation of the split's labels, :math:`-\sum_n \sum_c q_c \log p(x_n \mid c)` with
    :math:`q` the split's label frequencies (exact, so no seed); plus the accuracy of the label of highest
    posterior :math:`\pi_c\, p(x \mid c)`."""
    cfg = run.config.data
    logp, tokens = sequence_logprobs(
        run.model, split, len(run.labels), run.encoder.vocab.pad_id, cfg.eval_batch_size
    )  # (N, C), (N,)
    y = split.targets  # (N,)
    total = float(tokens.sum())
    prior = torch.tensor(run.label_counts, dtype=torch.float64)
    joint = logp + (prior / prior.sum()).log()  # (N, C)
    q = torch.bincount(y, minlength=len(run.labels)).double() / len(y)  # (C,)
    losses = {
        "conditioned": -float(logp[torch.arange(len(y)), y].sum()) / total,
        "unconditioned": -float(torch.logsumexp(joint, dim=1).sum()) / total,
        "shuffled": -float((logp * q).sum()) / total,
    }
    metrics: dict[str, Any] = {"sequences": len(y), "tokens": int(total)}
    for name, loss in losses.items():
        metrics[f"{name}_loss"] = loss
        metrics[f"{name}_perplexity"] = math.exp(loss)
    metrics["label_gain_nats_per_token"] = losses["unconditioned"] - losses["conditioned"]
    metrics["label_accuracy"] = float((joint.argmax(1) == y).double().mean())
    return metrics


def own_split(run: LoadedConditioned) -> tuple[Split, str]:
    """The run's validation file if it had one, else its held-out split (re-read and re-split with its seed)."""
    d = run.config.data
    if d.path is None:
        raise RunError(f"{run.run_dir} records no data; pass --data PATH")
    _, valid = held_out(d, run.config.train.seed)
    where = f"validation data {d.valid}" if d.valid is not None else "validation split"
    return encode_split(valid, run.encoder, run.labels, where), where


def read_split(run: LoadedConditioned, path: str) -> Split:
    """A labelled folder or TSV file read and encoded with the run's settings (unknown labels: one line)."""
    return encode_split(read_sequences(path), run.encoder, run.labels, f"evaluation data {path}")


# --- generating ---------------------------------------------------------------------------------------------
@torch.no_grad()
def generate_for(
    run: LoadedConditioned,
    labels: list[str],
    samples: int = 1,
    temperature: float = 0.8,
    seed: int = 0,
    max_tokens: int | None = None,
    where: str = "label",
) -> list[list[str]]:
    """``samples`` sequences for each label (greedy when ``temperature`` is 0), drawn in one seeded batch: the same
    seed gives the same sequences. ``max_tokens`` defaults to the longest training sequence plus 10."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive integer, got {samples!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature >= 0:
        raise ValueError(f"temperature must be a number >= 0 (0: greedy), got {temperature!r}")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise ValueError(f"max_tokens must be a positive integer, got {max_tokens!r}")
    ids = run.label_ids(labels, where).repeat_interleave(samples)  # (L * S,)
    v = run.encoder.vocab
    rows = sample_decode(
        run.model.step,
        run.model.start(ids),
        v.bos_id,
        v.eos_id,
        len(ids),
        max_len=max_tokens or run.max_tokens + 10,
        temperature=float(temperature),
        seed=seed,
    )
    texts = [run.encoder.decode(r) for r in rows]
    return [texts[i * samples : (i + 1) * samples] for i in range(len(labels))]


def run_info(run_dir: Path, raw: dict[str, Any]) -> dict[str, Any]:
    from unrolled.tasks.conditioned.task import TASK

    cfg, raw = load_run_config(TASK, run_dir)
    labels = raw.get("labels") or []
    return {
        "description": _describe(cfg, labels),
        "model": to_dict(cfg.model),
        "data": {**to_dict(cfg.data), **(raw.get("source") or {})},
        "labels": labels,
        "label_counts": raw.get("label_counts"),
        "train": to_dict(cfg.train),
        "data_summary": f"{cfg.data.path} ({len(labels)} labels, {cfg.data.tokenizer} tokens)",
    }
