"""The classification task end to end: train a run, load it back, evaluate, predict, describe, neighbours.

A run folder holds ``config.json`` (the resolved configuration, plus ``labels``, ``head``, the data's sizes and the
vectors' coverage), ``vocab.json``, the trainer's ``checkpoint/``, ``best/model.safetensors``, ``metrics.csv`` and
``loss.png``; ``evaluate`` adds ``confusion.png``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from unrolled.config_io import to_dict
from unrolled.metrics.classification import ClassificationReport, classification_report
from unrolled.models.classifier import HEADS, SequenceClassifier, balanced_class_weights
from unrolled.tasks.classify.config import ClassifyRunConfig
from unrolled.tasks.classify.data import ClassifyBatches, PreparedData, Split, TextEncoder, encode_split, prepare_data
from unrolled.tasks.classify.data import read_split as _read_split
from unrolled.tasks.resolve import load_run_config
from unrolled.tasks.runs import RunError, choose_weights
from unrolled.tasks.session import RunSession
from unrolled.tasks.spec import TrainOutcome
from unrolled.text.vocab import Vocabulary
from unrolled.train.checkpoint import load_model_weights
from unrolled.train.objective import StepResult

__all__ = ["LoadedClassifier", "evaluate_split", "head_for", "load_run", "predict_texts", "train_in_session"]

VOCAB_FILE = "vocab.json"
CONFUSION_FILE = "confusion.png"


def head_for(num_classes: int, multi_label: bool) -> str:
    """``multilabel`` with --multi-label, ``binary`` (one sigmoid) for two classes, else ``multiclass``."""
    if multi_label:
        return "multilabel"
    return "binary" if num_classes == 2 else "multiclass"


class ClassifyObjective:
    """``(model, (ids, lengths, targets), state) -> StepResult``: the head's mean loss over the B examples (class
    weights included), stateless."""

    def __init__(self, head: str, class_weights: Tensor | None):
        self.head, self.class_weights = HEADS[head], class_weights

    def __call__(self, model: nn.Module, batch: tuple[Tensor, Tensor, Tensor], state: Any) -> StepResult:
        x, lengths, y = batch
        logits = model(x, lengths)  # (B, K)
        w = None if self.class_weights is None else self.class_weights.to(logits.device)
        return StepResult(self.head.loss(logits, y, w), y.shape[0], None)


def _vectors(cfg: ClassifyRunConfig, data: PreparedData, printer) -> tuple[Tensor | None, dict[str, Any] | None]:
    if cfg.data.vectors is None:
        return None, None
    from unrolled.text.vectors import embedding_matrix, read_word_vectors

    vectors = read_word_vectors(cfg.data.vectors)
    if cfg.model.embed_dim is not None and cfg.model.embed_dim != vectors.dim:
        raise RunError(
            f"--embed {cfg.model.embed_dim} differs from the width of {cfg.data.vectors} ({vectors.dim}); "
            "leave --embed out with --vectors"
        )
    matrix, coverage = embedding_matrix(data.encoder.vocab, vectors, data.counts, seed=cfg.train.seed)
    printer(coverage.format() + (" (frozen)" if cfg.data.freeze else " (fine-tuned)"))
    return matrix, {
        "path": cfg.data.vectors,
        "dim": vectors.dim,
        "found": coverage.found,
        "total": coverage.total,
        "token_coverage": coverage.tokens,
    }


def build_model(
    cfg: ClassifyRunConfig,
    vocab: Vocabulary,
    labels: list[str],
    head: str,
    embed_dim: int | None,
    embedding: Tensor | None = None,
    class_weights: Tensor | None = None,
) -> SequenceClassifier:
    return SequenceClassifier(
        len(labels),
        vocab_size=len(vocab),
        config=cfg.model.classifier(head, embed_dim),
        pad_id=vocab.pad_id,
        embedding=embedding,
        freeze_embedding=cfg.data.freeze,
        class_weights=class_weights,
    )


def train_in_session(cfg: ClassifyRunConfig, session: RunSession) -> TrainOutcome:
    """The classification part of a training session (the task's ``train``)."""
    session.device  # noqa: B018 - a device that is not there is a one-line error before the data is read
    data = prepare_data(cfg.data, cfg.train.seed)
    vocab, labels = data.encoder.vocab, data.labels
    if session.resume:
        saved = Vocabulary.load(session.run_dir / VOCAB_FILE)
        if saved != vocab:
            raise RunError(f"{session.run_dir}: the data no longer gives the vocabulary this run was trained with")
    printer = session.print
    head = head_for(len(labels), cfg.data.multi_label)
    printer(
        f"data: {data.source['train']:,} train / {data.source['valid']:,} valid"
        + (f" / {data.source['test']:,} test" if data.test is not None else "")
        + f" examples, {len(labels)} labels ({head}), vocabulary {len(vocab)} {cfg.data.tokenizer} tokens; "
        f"run folder {session.run_dir}"
    )
    matrix, vectors_info = _vectors(cfg, data, printer)
    embed_dim = matrix.shape[1] if matrix is not None else None
    weights = None
    if cfg.data.class_weights == "balanced":
        weights = balanced_class_weights(data.train.targets, len(labels), head)
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg, vocab, labels, head, embed_dim, matrix, weights)
    resolved = replace(cfg, model=replace(cfg.model, embed_dim=model.config.embed_dim))
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    printer(f"model: {cfg.model.cell} classifier, {cfg.model.pooling} pooling, {n_params:,} trainable parameters")
    if session.main:
        vocab.save(session.path(VOCAB_FILE))
    pad = vocab.pad_id
    train = ClassifyBatches(data.train, cfg.data.batch_size, pad, shuffle=True, seed=cfg.train.seed)
    valid = ClassifyBatches(data.valid, cfg.data.eval_batch_size, pad, shuffle=False)
    extra = session.record(
        resolved,
        labels=labels,
        head=head,
        class_weights=None if weights is None else weights.tolist(),
        source=data.source,
        vectors=vectors_info,
    )
    result = session.fit(model, ClassifyObjective(head, weights), train, valid, cfg.train, extra_config=extra)
    hint = f"evaluate it with: unrolled evaluate {session.run_dir}"
    if session.main and (session.run_dir / "best").exists():
        run = load_run(session.run_dir)
        report = evaluate_split(run, data.valid)
        printer(f"validation (best weights): {report.format().splitlines()[0]}")
    return session.outcome(result, hint)


# --- loading ----------------------------------------------------------------------------------------------
@dataclass
class LoadedClassifier:
    run_dir: Path
    config: ClassifyRunConfig
    raw: dict[str, Any]
    encoder: TextEncoder
    labels: list[str]
    head: str
    model: SequenceClassifier
    note: str | None = None

    @property
    def multi_label(self) -> bool:
        return self.head == "multilabel"


def load_run(run_dir: str | Path, which: str = "best") -> LoadedClassifier:
    """A trained classification run, its model in eval mode (best validation weights unless ``which="last"``)."""
    from unrolled.tasks.classify.task import TASK

    run_dir = Path(run_dir)
    cfg, raw = load_run_config(TASK, run_dir)
    vocab_path = run_dir / VOCAB_FILE
    if not vocab_path.is_file():
        raise RunError(f"{run_dir} has no {VOCAB_FILE}; the run is incomplete")
    labels, head = raw.get("labels"), raw.get("head")
    if not isinstance(labels, list) or head not in HEADS:
        raise RunError(f"{run_dir / 'config.json'} has no labels/head; the run is incomplete")
    vocab = Vocabulary.load(vocab_path)
    model = build_model(cfg, vocab, labels, head, cfg.model.embed_dim)
    choice = choose_weights(run_dir, which)
    load_model_weights(model, choice.path)
    model.eval()
    encoder = TextEncoder(cfg.data.tokenizer, cfg.data.lowercase, vocab)
    return LoadedClassifier(run_dir, cfg, raw, encoder, labels, head, model, choice.note)


# --- using a run --------------------------------------------------------------------------------------------
@torch.no_grad()
def _probabilities(run: LoadedClassifier, split: Split) -> Tensor:
    """(N, C) probabilities of every example, in the split's order."""
    out = torch.empty(len(split.ids), len(run.labels))
    batches = ClassifyBatches(split, run.config.data.eval_batch_size, run.encoder.vocab.pad_id, shuffle=False)
    for idx, x, lengths in batches.in_order():
        out[torch.tensor(idx)] = run.model.probabilities(run.model(x, lengths)).float()  # (B, C)
    return out


def _decide(run: LoadedClassifier, probs: Tensor) -> Tensor:
    return (probs > 0.5).long() if run.multi_label else probs.argmax(1)


def evaluate_split(run: LoadedClassifier, split: Split) -> ClassificationReport:
    """Accuracy, macro/micro F1, per-class scores and the confusion matrix of the run on an encoded split."""
    pred = _decide(run, _probabilities(run, split))
    return classification_report(split.targets, pred, run.labels)


def read_labelled_split(run: LoadedClassifier, path: str) -> Split:
    """A labelled file read with the run's settings and encoded (unknown labels: one-line error)."""
    return encode_split(
        _read_split(path, run.config.data), run.encoder, run.labels, run.multi_label, f"evaluation data {path}"
    )


def own_split(run: LoadedClassifier) -> tuple[Split, str]:
    """The run's test file if it had one, else its validation split (re-read and re-split with the run's seed)."""
    from unrolled.data.labelled import stratified_split

    d = run.config.data
    if d.test is not None:
        return read_labelled_split(run, d.test), f"test data {d.test}"
    if d.valid is not None:
        return read_labelled_split(run, d.valid), f"validation data {d.valid}"
    if d.path is None:
        raise RunError(f"{run.run_dir} records no data; pass --data FILE")
    _, valid = stratified_split(_read_split(d.path, d), d.valid_fraction, seed=run.config.train.seed)
    return encode_split(valid, run.encoder, run.labels, run.multi_label, "validation split"), "validation split"


def predict_texts(run: LoadedClassifier, texts: list[str]) -> list[tuple[list[str], list[float]]]:
    """For each text: the predicted labels (one, or those above 0.5 for multi-label, at least the most likely) and
    their probabilities."""
    from unrolled.data.labelled import LabelledData

    data = LabelledData(texts, [(run.labels[0],)] * len(texts), [f"input line {i + 1}" for i in range(len(texts))])
    split = Split([run.encoder.encode(t, s) for t, s in zip(texts, data.sources)], torch.zeros(len(texts)), data)
    probs = _probabilities(run, split)
    out = []
    for p in probs:
        if run.multi_label:
            chosen = [int(i) for i in torch.nonzero(p > 0.5).flatten()] or [int(p.argmax())]
        else:
            chosen = [int(p.argmax())]
        out.append(([run.labels[i] for i in chosen], [float(p[i]) for i in chosen]))
    return out


def run_info(run_dir: Path, raw: dict[str, Any]) -> dict[str, Any]:
    from unrolled.tasks.classify.task import TASK

    cfg, raw = load_run_config(TASK, run_dir)
    m = cfg.model
    labels = raw.get("labels") or []
    description = (
        f"{m.cell} classifier, {m.layers} layer(s) x {m.hidden}{' bidirectional' if m.bidirectional else ''}, "
        f"{m.pooling} pooling, {raw.get('head')} head over {len(labels)} labels"
    )
    return {
        "description": description,
        "model": to_dict(m),
        "data": {**to_dict(cfg.data), **(raw.get("source") or {})},
        "labels": labels,
        "head": raw.get("head"),
        "vectors": raw.get("vectors"),
        "train": to_dict(cfg.train),
        "data_summary": f"{cfg.data.path} ({len(labels)} labels, {cfg.data.tokenizer} tokens)",
    }
