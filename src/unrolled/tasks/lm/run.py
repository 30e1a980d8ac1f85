"""The language-modeling task end to end: train a run, load it back, generate, evaluate, describe.

A run folder holds ``config.json`` (the resolved configuration: train, data, model, sample, corpus source, and
``runtime``: the device ``auto`` resolved to), ``vocab.json`` (and ``stop_words.txt`` when stop words are dropped),
the trainer's ``checkpoint/`` (weights, optimizer, RNG and progress, for exact ``--resume``),
``best/model.safetensors`` and ``best/meta.json`` (best validation weights and loss), ``metrics.csv`` and
``loss.png``. An n-gram run holds its training token ids (``ngram_train_ids.safetensors``) instead of weights, and
refits its counts (deterministic, seconds) on load; its ``best/meta.json`` records its validation loss.

Every family scores the same tokens: the text's ids cut into ``batch_size`` contiguous rows (the remainder dropped),
each row's first token being context only; so ``evaluate`` compares n-gram and neural runs on one token set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import Tensor, nn

from unrolled.config_io import to_dict
from unrolled.data.stream import StreamBatches, batchify
from unrolled.tasks.lm.callbacks import NGramSteps, PrintSamples, sample_text
from unrolled.tasks.lm.codec import TextCodec
from unrolled.tasks.lm.config import LMDataConfig, LMModelConfig, LMRunConfig, LMSampleConfig
from unrolled.tasks.lm.corpus import (
    PreparedCorpus,
    load_stop_words,
    make_codec,
    prepare_corpus,
    save_stop_words,
)
from unrolled.tasks.lm.families import FAMILIES
from unrolled.tasks.lm.variable_bptt import VariableBPTTBatches
from unrolled.tasks.resolve import load_run_config
from unrolled.tasks.runs import RunError, choose_weights, read_best_meta
from unrolled.tasks.runs import latest_run as _latest_run
from unrolled.tasks.runs import new_run_dir as _new_run_dir
from unrolled.tasks.session import RunSession, train_run
from unrolled.tasks.spec import TrainOutcome
from unrolled.text.vocab import Vocabulary
from unrolled.train.checkpoint import (
    find_checkpoint,
    load_model_weights,
    read_json,
    record_digest,
    save_safetensors,
    verify_digest,
    write_json,
)
from unrolled.train.config import TrainConfig
from unrolled.train.metrics import LN2, bits, perplexity
from unrolled.train.ntasgd import AveragedEvaluation

VOCAB_FILE = "vocab.json"
NGRAM_FILE = "ngram_train_ids.safetensors"
TEST_FILE = "test.json"

__all__ = [
    "LN2",
    "Evaluation",
    "LMDataConfig",
    "LMModelConfig",
    "LMRunConfig",
    "LMSampleConfig",
    "LoadedRun",
    "RunError",
    "TrainConfig",
    "TrainOutcome",
    "evaluate_text",
    "generate_text",
    "latest_run",
    "load_run",
    "new_run_dir",
    "run_info",
    "train_lm",
]


def new_run_dir(root: str | Path = "runs", prefix: str = "lm") -> Path:
    """A fresh folder ``root/lm-YYYYmmdd-HHMMSS`` (suffixed if taken): never overwrites an earlier run."""
    return _new_run_dir(root, prefix)


def latest_run(root: str | Path = "runs") -> Path:
    """The most recently modified language-model run under ``root`` (what ``unrolled generate`` uses without RUN)."""
    return _latest_run(root, task="lm")


# --- building ---------------------------------------------------------------------------------------------
def build_model(cfg: LMModelConfig, vocab_size: int, pad_id: int) -> nn.Module:
    """The trainable model of ``cfg.family`` (a family that does not train has none)."""
    family = FAMILIES[cfg.family]
    if family.build is None:
        raise ValueError(f"model family {cfg.family!r} has no trainable network")
    return family.build(cfg, vocab_size, pad_id)


def build_objective(cfg: LMModelConfig, pad_id: int):
    family = FAMILIES[cfg.family]
    if family.objective is None:
        raise ValueError(f"model family {cfg.family!r} is not trained with an objective")
    return family.objective(cfg, pad_id)


def _pad_id(vocab: Vocabulary) -> int:
    return vocab.pad_id if "<pad>" in vocab.specials else 0


def stream(ids: Tensor, batch_size: int, bptt: int, k2: int | None = None) -> StreamBatches:
    """Contiguous-stream batches; ``bptt == 0`` is full BPTT (one chunk per row: the whole row)."""
    rows = batchify(ids, batch_size)
    return StreamBatches(rows, bptt if bptt > 0 else rows.shape[1] - 1, k2=k2)


def fit_ngram(cfg: LMModelConfig, vocab: Vocabulary, train_ids: Tensor):
    family = FAMILIES[cfg.family]
    if family.fit is None:
        raise ValueError(f"model family {cfg.family!r} is not fitted from counts")
    return family.fit(cfg, vocab, train_ids)


# --- training ---------------------------------------------------------------------------------------------
def _extra_config(cfg: LMRunConfig, corpus: PreparedCorpus, session: RunSession) -> dict[str, Any]:
    return session.record(cfg, corpus=corpus.source, vocab_size=len(corpus.codec.vocab))


def _check_resumed_corpus(run_dir: Path, corpus: PreparedCorpus) -> None:
    saved = read_json(run_dir / "config.json")
    recorded = (saved.get("corpus") or {}).get("sha256") if isinstance(saved, dict) else None
    if recorded is not None and recorded != corpus.source["sha256"]:
        where = corpus.source.get("path", corpus.source["kind"])
        raise RunError(
            f"cannot resume {run_dir}: the text at {where} changed since the run started (sha256 "
            f"{corpus.source['sha256'][:12]}..., recorded {recorded[:12]}...); resume needs the same text "
            "(pass --data PATH if it moved)"
        )


def train_lm(
    cfg: LMRunConfig,
    run_dir: str | Path | None = None,
    resume: bool = False,
    printer=print,
    progress_file: Any = None,
) -> TrainOutcome:
    """Train the configured model on the configured text; everything lands in ``run_dir``.

    The shared run machinery (:func:`unrolled.tasks.session.train_run`) refuses a ``run_dir`` that already holds
    files (resume it instead), locks the folder, and removes what a run that failed before its first checkpoint
    wrote. Problems found before training (a device that is not there, a missing optional package, a bad corpus)
    leave no folder behind. With ``resume`` the text must be the one recorded in the run (same sha256). Under
    ``torchrun`` every rank prepares the same corpus and vocabulary; only rank 0 writes files and prints, and
    ``run_dir`` must be given (ranks could not agree on a time-stamped name).
    """
    from unrolled.tasks.lm.task import TASK

    return train_run(TASK, cfg, run_dir, resume, printer, progress_file)


def train_in_session(cfg: LMRunConfig, session: RunSession) -> TrainOutcome:
    """The language-modeling part of a training session (the task's ``train``)."""
    family = FAMILIES[cfg.model.family]
    if session.resume and not family.trains:
        raise RunError(f"{session.run_dir} is a {cfg.model.family} run, fitted in one pass: there is nothing to resume")
    if family.trains:
        session.device  # noqa: B018 - a device that is not there is a one-line error before the corpus is read
    if cfg.data.path is not None:
        if session.resume and not Path(cfg.data.path).exists():
            raise RunError(
                f"cannot resume {session.run_dir}: its text {cfg.data.path} is gone; pass --data PATH with the same "
                "text (same sha256)"
            )
        cfg.data.path = str(Path(cfg.data.path).resolve())  # recorded absolute: resume works from any folder
    corpus = prepare_corpus(cfg.data)
    codec = corpus.codec
    if session.resume:
        _check_resumed_corpus(session.run_dir, corpus)
        saved = Vocabulary.load(session.run_dir / VOCAB_FILE)
        if saved != codec.vocab:
            raise RunError(f"{session.run_dir}: the data no longer gives the vocabulary this run was trained with")
    return _train(cfg, session, corpus)


def _train(cfg: LMRunConfig, session: RunSession, corpus: PreparedCorpus) -> TrainOutcome:
    codec = corpus.codec
    run_dir, printer = session.run_dir, session.print
    family = FAMILIES[cfg.model.family]
    if session.main:
        codec.vocab.save(session.path(VOCAB_FILE))
        record_digest(run_dir / VOCAB_FILE)  # checked when loaded: a swapped or edited vocabulary is refused
        save_stop_words(codec.stop_words, run_dir)
    pad = _pad_id(codec.vocab)
    test = f" / {corpus.source['test_tokens']:,} test" if corpus.test_ids is not None else ""
    printer(
        f"corpus: {corpus.source['kind']}, {corpus.source['tokens']:,} {cfg.data.tokenizer} tokens "
        f"({corpus.source['train_tokens']:,} train / {corpus.source['valid_tokens']:,} valid{test}), vocabulary "
        f"{len(codec.vocab)}; run folder {run_dir}"
    )
    hint = f"sample from it with: unrolled generate {run_dir}"

    if not family.trains:
        if not session.main:
            return TrainOutcome(run_dir, None, None, main=False)
        model = fit_ngram(cfg.model, codec.vocab, corpus.train_ids)
        save_safetensors(run_dir / NGRAM_FILE, {"ids": corpus.train_ids}, {"format": "pt"})
        total, count = _score_ngram(model, corpus.valid_ids, cfg.data.eval_batch_size)
        loss = total / count
        session.write_config(cfg, corpus=corpus.source, vocab_size=len(codec.vocab))
        write_json(run_dir / "best" / "meta.json", {"step": 0, "epoch": 0, "valid_loss": loss, "fitted": True})
        printer(f"{cfg.model.order}-gram ({cfg.model.smoothing}): valid {describe_loss(loss, codec)}")
        if corpus.test_ids is not None:
            total, count = _score_ngram(model, corpus.test_ids, 1)
            _record_test(run_dir, total, count, codec, printer)
        return TrainOutcome(run_dir, None, loss, next_step=hint)

    valid = stream(corpus.valid_ids, cfg.data.eval_batch_size, cfg.data.bptt)
    torch.manual_seed(cfg.train.seed)  # the model's initialisation is part of the seeded run
    model = build_model(cfg.model, len(codec.vocab), pad)
    n_params = sum(p.numel() for p in model.parameters())
    what = f"{cfg.model.family} {cfg.model.cell}" if "cell" in family.keys else cfg.model.family
    printer(f"model: {what}, {n_params:,} parameters")
    if cfg.data.variable_bptt:
        rows = batchify(corpus.train_ids, cfg.data.batch_size)
        train: Any = VariableBPTTBatches(rows, cfg.data.bptt, seed=cfg.train.seed)
    else:
        train = stream(corpus.train_ids, cfg.data.batch_size, cfg.data.bptt, cfg.data.k2)
    objective = build_objective(cfg.model, pad)
    averaging = AveragedEvaluation()  # NT-ASGD: validate with the averaged weights (a no-op for other optimizers)
    result = session.fit(
        model,
        objective,
        train,
        valid,
        cfg.train,
        extra_config=_extra_config(cfg, corpus, session),
        callbacks=[averaging, PrintSamples(codec, cfg.sample)],
        eval_objective=averaging.wrap(objective),
    )
    best = result.best_valid
    if best is not None:
        printer(f"best valid {describe_loss(best, codec)}; run folder {run_dir}")
    if corpus.test_ids is not None and session.main and result.stopped not in ("interrupted",):
        _score_test(cfg, model, corpus, run_dir, printer)
    return session.outcome(result, hint)


def _record_test(run_dir: Path, total: float, count: int, codec: TextCodec, printer: Any) -> None:
    loss = total / count
    write_json(
        run_dir / TEST_FILE,
        {"tokens_scored": count, "loss_nats": loss, "perplexity": perplexity(loss), "bits": bits(loss)},
    )
    printer(f"test ({count:,} tokens scored, with the best weights): {describe_loss(loss, codec)}")


@torch.no_grad()
def _score_test(cfg: LMRunConfig, model: nn.Module, corpus: PreparedCorpus, run_dir: Path, printer: Any) -> None:
    """Score the test split once, with the best weights (``RUN/best``; the last ones if there is none), carrying
    the state along one row (batch 1), and record it in ``RUN/test.json``."""
    best = run_dir / "best" / "model.safetensors"
    if best.is_file():
        load_model_weights(model, best)
    model.eval()
    loaded = LoadedRun(run_dir, cfg, corpus.codec, model, best if best.is_file() else None)
    total, count = score_ids(loaded, corpus.test_ids.to(next(model.parameters()).device), 1)
    _record_test(run_dir, total, count, corpus.codec, printer)


def describe_loss(loss: float, codec: TextCodec) -> str:
    """``loss L nats/token, perplexity P, B bpc`` (or ``bits/word``), safe for a huge loss (perplexity inf)."""
    return f"loss {loss:.4f} nats/token, perplexity {perplexity(loss):.3f}, {bits(loss):.4f} {codec.unit.bits_label}"


# --- loading ----------------------------------------------------------------------------------------------
@dataclass
class LoadedRun:
    run_dir: Path
    config: LMRunConfig
    codec: TextCodec
    model: Any  # nn.Module in eval mode, or NGramLM
    weights: Path | None
    note: str | None = None  # said when the weights are not the ones asked for (e.g. best/ is missing)

    @property
    def family(self) -> str:
        return self.config.model.family


def load_config(run_dir: Path) -> tuple[LMRunConfig, dict[str, Any]]:
    """The typed config of a language-model run and its raw ``config.json``."""
    from unrolled.tasks.lm.task import TASK

    return load_run_config(TASK, run_dir)


def load_run(run_dir: str | Path, which: str = "best") -> LoadedRun:
    """Load a run's model (best validation weights by default; ``which="last"`` for the latest checkpoint)."""
    run_dir = Path(run_dir)
    cfg, raw = load_config(run_dir)
    vocab_path = run_dir / VOCAB_FILE
    if not vocab_path.is_file():
        raise RunError(f"{run_dir} has no {VOCAB_FILE}; the run is incomplete")
    verify_digest(vocab_path)
    codec = make_codec(cfg.data, Vocabulary.load(vocab_path), load_stop_words(cfg.data, run_dir))
    family = FAMILIES[cfg.model.family]
    if not family.trains:
        ids_path = run_dir / NGRAM_FILE
        if not ids_path.is_file():
            raise RunError(f"{run_dir} has no {NGRAM_FILE}; the n-gram run is incomplete")
        try:
            ids = load_file(str(ids_path))["ids"]
        except Exception as e:  # safetensors raises several error types for corrupt files
            raise RunError(f"{ids_path}: not a readable safetensors file ({type(e).__name__})") from None
        return LoadedRun(run_dir, cfg, codec, fit_ngram(cfg.model, codec.vocab, ids), None)
    model = build_model(cfg.model, len(codec.vocab), _pad_id(codec.vocab))
    choice = choose_weights(run_dir, which)
    weights = choice.path
    load_model_weights(model, weights)
    model.eval()
    return LoadedRun(run_dir, cfg, codec, model, weights, choice.note)


# --- using a run --------------------------------------------------------------------------------------------
def _generator(run: LoadedRun) -> Any:
    return run.model if FAMILIES[run.family].trains else NGramSteps(run.model)


def generate_text(run: LoadedRun, sample: LMSampleConfig) -> str:
    """The prime exactly as given, followed by the generated continuation, as text. Every family samples through
    :func:`unrolled.decode.generate` (temperature, top-k, top-p; ``<pad>``, ``<bos>``, ``<unk>`` never generated)."""
    return sample_text(_generator(run), run.codec, sample)


@dataclass
class Evaluation:
    loss: float  # nats per token
    tokens: int  # tokens scored
    unknown: int  # tokens of the text that read as <unk>

    @property
    def perplexity(self) -> float:
        return perplexity(self.loss)

    @property
    def bits(self) -> float:
        return bits(self.loss)


def _score_ngram(model: Any, ids: Tensor, batch_size: int) -> tuple[float, int]:
    rows = batchify(ids, batch_size)
    return model.score(rows.tolist(), skip=1)


@torch.no_grad()
def score_ids(run: LoadedRun, ids: Tensor, batch_size: int = 1, bptt: int | None = None) -> tuple[float, int]:
    """``(total nats, tokens scored)`` of ``ids`` cut into ``batch_size`` rows, each row's first token context only
    (the same tokens for every family), carrying state along each row."""
    if not FAMILIES[run.family].trains:
        return _score_ngram(run.model, ids, batch_size)
    data = stream(ids, batch_size, run.config.data.bptt if bptt is None else bptt)
    objective = build_objective(run.config.model, _pad_id(run.codec.vocab))
    total, count, state = 0.0, 0, None
    for chunk in data:
        res = objective(run.model, chunk, state)
        total += float(res.loss) * res.count
        count += res.count
        state = res.state
    return total, count


def evaluate_ids(run: LoadedRun, ids: Tensor, batch_size: int = 1, bptt: int | None = None) -> float:
    """Mean nats per token of ``ids`` (see :func:`score_ids`)."""
    total, count = score_ids(run, ids, batch_size, bptt)
    return total / count


def evaluate_documents(run: LoadedRun, documents: list[str], batch_size: int = 1) -> Evaluation:
    """Score a text given as documents (``<eos>`` placed as in training)."""
    ids = run.codec.encode_documents(documents)
    if ids.numel() < 2 * batch_size:
        raise ValueError(f"the evaluation text has {ids.numel()} tokens; expected at least {2 * batch_size}")
    unk = run.codec.vocab.unk_id if "<unk>" in run.codec.vocab.specials else None
    n_unk = int((ids == unk).sum()) if unk is not None else 0
    total, count = score_ids(run, ids, batch_size)
    return Evaluation(total / count, count, n_unk)


def evaluate_text(run: LoadedRun, text: str, batch_size: int = 1) -> Evaluation:
    return evaluate_documents(run, [text], batch_size)


def run_info(run_dir: str | Path) -> dict[str, Any]:
    """A summary of a run: config, corpus, best validation, steps, files."""
    run_dir = Path(run_dir)
    cfg, raw = load_config(run_dir)
    info: dict[str, Any] = {
        "run": str(run_dir),
        "task": "lm",
        "family": cfg.model.family,
        "description": FAMILIES[cfg.model.family].describe(to_dict(cfg.model)),
        "model": to_dict(cfg.model),
        "data": to_dict(cfg.data),
        "corpus": raw.get("corpus"),
        "vocab_size": raw.get("vocab_size"),
        "train": to_dict(cfg.train),
        "runtime": raw.get("runtime"),
    }
    best = read_best_meta(run_dir)
    if best is not None:
        info["best"] = best
    ckpt = find_checkpoint(run_dir)
    if ckpt is not None and (ckpt / "progress.json").is_file():
        info["checkpoint"] = str(ckpt)
    return info
