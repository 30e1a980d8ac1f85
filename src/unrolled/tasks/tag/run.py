"""The tagging task end to end: train a run, load it back, evaluate, predict, describe.

A run folder holds ``config.json`` (the resolved configuration, plus ``tags``, the resolved ``scheme``, the data's
sizes and the vectors' coverage), ``words.json`` and ``chars.json`` (vocabularies), the trainer's ``checkpoint/``,
``best/model.safetensors``, ``metrics.csv`` and ``loss.png``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from unrolled.config_io import to_dict
from unrolled.data.conll import TaggedSentence, format_conll, parse_conll, parse_conllu
from unrolled.metrics.entities import entity_scores
from unrolled.models.tagger import SequenceTagger, TagBatch
from unrolled.tasks.resolve import load_run_config
from unrolled.tasks.runs import RunError, choose_weights
from unrolled.tasks.session import RunSession
from unrolled.tasks.spec import TrainOutcome
from unrolled.tasks.tag.config import TagRunConfig
from unrolled.tasks.tag.data import EncodedSplit, TagBatches, TagEncoder, encode_split, prepare_data, read_split
from unrolled.text.tagschemes import allowed_transitions
from unrolled.text.vocab import Vocabulary
from unrolled.train.checkpoint import load_model_weights
from unrolled.train.objective import StepResult

__all__ = ["LoadedTagger", "evaluate_split", "load_run", "predict_lines", "run_info", "train_in_session"]

WORDS_FILE = "words.json"
CHARS_FILE = "chars.json"
INPUT_FORMATS = ("auto", "conll", "conllu", "text")


def tag_objective(model: nn.Module, batch: TagBatch, state: Any) -> StepResult:
    """The tagger's loss per token (softmax cross-entropy or CRF NLL) over the batch's tokens; stateless."""
    return StepResult(model(batch), batch.num_tokens, None)


def _constraints(cfg: TagRunConfig, tags: list[str], scheme: str) -> dict[str, Any]:
    if not (cfg.model.crf and cfg.model.constrain) or scheme == "none":
        return {}
    allowed, start, end = allowed_transitions(tags, scheme)
    return {"allowed": allowed, "allowed_start": start, "allowed_end": end}


def build_model(
    cfg: TagRunConfig, encoder: TagEncoder, scheme: str, embed_dim: int | None, vectors: Tensor | None = None
) -> SequenceTagger:
    chars = encoder.chars
    return SequenceTagger(
        len(encoder.words),
        len(encoder.tags),
        cfg.model.tagger(embed_dim, cfg.data.freeze),
        num_chars=len(chars) if cfg.model.char_encoder and chars is not None else None,
        pad_id=encoder.pad_id,
        pretrained=vectors,
        **_constraints(cfg, encoder.tags, scheme),
    )


def _vectors(cfg: TagRunConfig, encoder: TagEncoder, counts, printer) -> tuple[Tensor | None, dict | None]:
    if cfg.data.vectors is None:
        return None, None
    from unrolled.text.vectors import embedding_matrix, read_word_vectors

    vectors = read_word_vectors(cfg.data.vectors)
    if cfg.model.embed_dim is not None and cfg.model.embed_dim != vectors.dim:
        raise RunError(
            f"--embed {cfg.model.embed_dim} differs from the width of {cfg.data.vectors} ({vectors.dim}); "
            "leave --embed out with --vectors"
        )
    matrix, coverage = embedding_matrix(encoder.words, vectors, counts, seed=cfg.train.seed)
    printer(coverage.format() + (" (frozen)" if cfg.data.freeze else " (fine-tuned)"))
    info = {"path": cfg.data.vectors, "dim": vectors.dim, "found": coverage.found, "total": coverage.total}
    return matrix, {**info, "token_coverage": coverage.tokens}


def train_in_session(cfg: TagRunConfig, session: RunSession) -> TrainOutcome:
    """The tagging part of a training session (the task's ``train``)."""
    session.device  # noqa: B018 - a device that is not there is a one-line error before the data is read
    data = prepare_data(cfg.data)
    enc = data.encoder
    if session.resume:
        if Vocabulary.load(session.run_dir / WORDS_FILE) != enc.words:
            raise RunError(f"{session.run_dir}: the data no longer gives the vocabulary this run was trained with")
    printer = session.print
    printer(
        f"data: {data.source['train']:,} train / {data.source['valid']:,} valid"
        + (f" / {data.source['test']:,} test" if data.test is not None else "")
        + f" sentences, {len(enc.tags)} tags (scheme {data.scheme}), {len(enc.words)} words, "
        f"{len(enc.chars or ())} characters; run folder {session.run_dir}"
    )
    matrix, vectors_info = _vectors(cfg, enc, data.counts, printer)
    embed_dim = matrix.shape[1] if matrix is not None else None
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg, enc, data.scheme, embed_dim, matrix)
    resolved = replace(cfg, model=replace(cfg.model, embed_dim=model.config.embed_dim))
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    head = "CRF" if cfg.model.crf else "softmax"
    chars = " + characters" if cfg.model.char_encoder else ""
    printer(f"model: {cfg.model.cell} tagger{chars}, {head} output, {n_params:,} trainable parameters")
    if session.main:
        enc.words.save(session.path(WORDS_FILE))
        if enc.chars is not None:
            enc.chars.save(session.path(CHARS_FILE))
    use_chars = cfg.model.char_encoder
    train = TagBatches(data.train, cfg.data.batch_size, enc.pad_id, True, cfg.train.seed, use_chars)
    valid = TagBatches(data.valid, cfg.data.eval_batch_size, enc.pad_id, False, chars=use_chars)
    extra = session.record(resolved, tags=enc.tags, scheme=data.scheme, source=data.source, vectors=vectors_info)
    result = session.fit(model, tag_objective, train, valid, cfg.train, extra_config=extra)
    if session.main and (session.run_dir / "best").exists():
        run = load_run(session.run_dir)
        printer(f"validation (best weights): {format_scores(evaluate_split(run, data.valid)).splitlines()[0]}")
    hint = f"evaluate it with: unrolled evaluate {session.run_dir}"
    return session.outcome(result, hint)


# --- loading ----------------------------------------------------------------------------------------------
@dataclass
class LoadedTagger:
    run_dir: Path
    config: TagRunConfig
    raw: dict[str, Any]
    encoder: TagEncoder
    scheme: str
    model: SequenceTagger
    note: str | None = None


def load_run(run_dir: str | Path, which: str = "best") -> LoadedTagger:
    """A trained tagging run, its model in eval mode (best validation weights unless ``which="last"``)."""
    from unrolled.tasks.tag.task import TASK

    run_dir = Path(run_dir)
    cfg, raw = load_run_config(TASK, run_dir)
    tags, scheme = raw.get("tags"), raw.get("scheme")
    if not isinstance(tags, list) or not isinstance(scheme, str) or not (run_dir / WORDS_FILE).is_file():
        raise RunError(f"{run_dir} has no tags, scheme or {WORDS_FILE}; the run is incomplete")
    chars = Vocabulary.load(run_dir / CHARS_FILE) if (run_dir / CHARS_FILE).is_file() else None
    encoder = TagEncoder(Vocabulary.load(run_dir / WORDS_FILE), chars, tags, cfg.data.lowercase)
    model = build_model(cfg, encoder, scheme, cfg.model.embed_dim)
    choice = choose_weights(run_dir, which)
    load_model_weights(model, choice.path)
    model.eval()
    return LoadedTagger(run_dir, cfg, raw, encoder, scheme, model, choice.note)


# --- using a run --------------------------------------------------------------------------------------------
@torch.no_grad()
def predict_split(run: LoadedTagger, split: EncodedSplit) -> list[list[str]]:
    """Predicted tags of every sentence, in the split's order."""
    d = run.config.data
    batches = TagBatches(split, d.eval_batch_size, run.encoder.pad_id, False, chars=run.config.model.char_encoder)
    out: list[list[str]] = [[] for _ in split.words]
    for batch in batches:
        for i, path in zip(batch.indices.tolist(), run.model.decode(batch), strict=True):
            out[i] = [run.encoder.tags[k] for k in path]
    return out


def evaluate_split(run: LoadedTagger, split: EncodedSplit) -> dict[str, Any]:
    """Token accuracy and (for chunk tags) entity precision/recall/F1 per type, conlleval-style."""
    gold = [list(s.tags or ()) for s in split.sentences]
    pred = predict_split(run, split)
    if run.scheme == "none":
        from unrolled.metrics.entities import token_accuracy

        return {"sentences": len(gold), "tokens": sum(map(len, gold)), "accuracy": token_accuracy(gold, pred)}
    scores = entity_scores(gold, pred).to_dict()
    return {"sentences": len(gold), "tokens": sum(map(len, gold)), "scheme": run.scheme, **scores}


def format_scores(m: dict[str, Any]) -> str:
    """The lines ``evaluate`` prints."""
    head = f"token accuracy {m['accuracy']:.4f} over {m['tokens']:,} tokens"
    if "micro" not in m:
        return head
    mi, ma = m["micro"], m["macro"]
    lines = [
        f"{head}; entity F1 {mi['f1']:.4f} (precision {mi['precision']:.4f}, recall {mi['recall']:.4f}, "
        f"{mi['support']:,} gold entities); macro F1 {ma['f1']:.4f}",
        f"{'type':<12} {'precision':>9} {'recall':>9} {'F1':>9} {'support':>8}",
    ]
    for name, s in m["per_type"].items():
        lines.append(f"{name:<12} {s['precision']:>9.4f} {s['recall']:>9.4f} {s['f1']:>9.4f} {s['support']:>8}")
    return "\n".join(lines)


def read_labelled_split(run: LoadedTagger, path: str) -> EncodedSplit:
    """A tagged file read with the run's settings and encoded (unknown tags: one-line error)."""
    return encode_split(read_split(path, run.config.data), run.encoder, path, "evaluation data")


def own_split(run: LoadedTagger) -> tuple[EncodedSplit, str]:
    """The run's test file if it had one, else its validation file."""
    d = run.config.data
    if d.test is not None:
        return read_labelled_split(run, d.test), f"test data {d.test}"
    if d.valid is not None:
        return read_labelled_split(run, d.valid), f"validation data {d.valid}"
    raise RunError(f"{run.run_dir} records no held-out data; pass --data FILE")


def _looks_like_conll(text: str) -> bool:
    """CoNLL rather than sentences one per line: every non-blank line has the same number of whitespace-separated
    columns, and some sentence (a block between blank lines) spans several lines."""
    rows = [line.split() for line in text.splitlines() if line.strip()]
    if len({len(r) for r in rows}) != 1:
        return False
    return any(len(b.strip().splitlines()) > 1 for b in text.split("\n\n") if b.strip())


def predict_lines(run: LoadedTagger, text: str, fmt: str = "auto", name: str = "input") -> list[str]:
    """Tag ``text``: CoNLL in, CoNLL out with a predicted column; plain text (a sentence per line, tokens
    separated by spaces) in, ``token<TAB>tag`` lines out with a blank line after each sentence."""
    if fmt not in INPUT_FORMATS:
        raise ValueError(f"expected an input format in {INPUT_FORMATS}, got {fmt!r}")
    d = run.config.data
    if fmt == "auto":
        if d.format == "conllu" and all(len(x.split("\t")) == 10 for x in text.splitlines() if x and x[0] != "#"):
            fmt = "conllu"
        else:
            fmt = "conll" if _looks_like_conll(text) else "text"
    if fmt == "text":
        lines = [line.split() for line in text.splitlines() if line.strip()]
        if not lines:
            raise RunError(f"{name} has no text; expected a sentence per line (or CoNLL)")
        sentences = [TaggedSentence(tuple(t), None, tuple(t), tuple(range(len(t))), k + 1) for k, t in enumerate(lines)]
    elif fmt == "conllu":
        sentences = parse_conllu(text, d.tagset, name=name, tags=False)
    else:
        sentences = parse_conll(text, (d.column_pair[0], None), name=name)
    pred = predict_split(run, encode_split(sentences, run.encoder, name))
    if fmt != "text":
        return format_conll(sentences, pred).rstrip("\n").split("\n")
    out: list[str] = []
    for sent, tags in zip(sentences, pred, strict=True):
        out.extend(f"{tok}\t{tag}" for tok, tag in zip(sent.tokens, tags, strict=True))
        out.append("")
    return out[:-1]


def run_info(run_dir: Path, raw: dict[str, Any]) -> dict[str, Any]:
    from unrolled.tasks.tag.task import TASK

    cfg, raw = load_run_config(TASK, run_dir)
    m = cfg.model
    tags = raw.get("tags") or []
    description = (
        f"{m.cell} tagger, {m.layers} layer(s) x {m.hidden}{' bidirectional' if m.bidirectional else ''}"
        f"{', character encoder' if m.char_encoder else ''}, {'CRF' if m.crf else 'softmax'} over {len(tags)} tags"
        f" (scheme {raw.get('scheme')})"
    )
    return {
        "description": description,
        "model": to_dict(m),
        "data": {**to_dict(cfg.data), **(raw.get("source") or {})},
        "tags": tags,
        "scheme": raw.get("scheme"),
        "vectors": raw.get("vectors"),
        "train": to_dict(cfg.train),
    }
