"""The seq2seq task end to end: train a run, load it back, translate (greedy / beam), evaluate, describe.

A run folder holds ``config.json`` (the resolved configuration plus the data's sizes), ``src_vocab.json`` and
``tgt_vocab.json``, ``teacher_forcing.csv`` (the teacher-forcing probability of every epoch), the trainer's
``checkpoint/``, ``best/model.safetensors``, ``metrics.csv`` and ``loss.png``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unrolled.config_io import to_dict
from unrolled.decode.beam import Hypothesis, beam_search
from unrolled.metrics.translation import translation_scores
from unrolled.models.encoder_decoder import EncoderDecoder
from unrolled.tasks.resolve import load_run_config
from unrolled.tasks.runs import RunError, choose_weights
from unrolled.tasks.seq2seq.config import Seq2SeqRunConfig
from unrolled.tasks.seq2seq.data import Codec, PairBatches, load_pairs, prepare, source_batch
from unrolled.tasks.session import RunSession
from unrolled.tasks.spec import TrainOutcome
from unrolled.text.vocab import Vocabulary
from unrolled.train.checkpoint import load_model_weights
from unrolled.train.objective import StepResult

__all__ = ["LoadedSeq2Seq", "load_run", "run_info", "score_pairs", "train_in_session", "translate_texts"]

SRC_VOCAB, TGT_VOCAB, TF_FILE = "src_vocab.json", "tgt_vocab.json", "teacher_forcing.csv"


class Seq2SeqObjective:
    """``(model, (src, src_lengths, tgt_in, tgt_out), state) -> StepResult``: mean cross-entropy (with label
    smoothing) over the real target tokens; the decoder is fed the reference with probability
    ``teacher_forcing`` (set every epoch by :class:`TeacherForcingSchedule`)."""

    def __init__(self, pad_id: int, label_smoothing: float = 0.0, teacher_forcing: float = 1.0, seed: int = 0):
        self.pad_id, self.label_smoothing, self.teacher_forcing = pad_id, label_smoothing, teacher_forcing
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, model: nn.Module, batch: tuple[Tensor, ...], state: Any) -> StepResult:
        src, lengths, tgt_in, tgt_out = batch
        gen = self.generator if src.device.type == "cpu" and self.teacher_forcing < 1.0 else None
        logits, _ = model(src, lengths, tgt_in, teacher_forcing=self.teacher_forcing, generator=gen)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1), ignore_index=self.pad_id,
                               label_smoothing=self.label_smoothing)  # fmt: skip
        return StepResult(loss, int((tgt_out != self.pad_id).sum()), None)


class TeacherForcingSchedule:
    """Sets the objective's teacher-forcing probability before every epoch from the schedule (epochs counted from
    0, so a resumed run continues the schedule), prints it when it decays, and appends the probability each
    finished epoch used to ``RUN/teacher_forcing.csv`` (epoch, probability)."""

    def __init__(self, objective: Seq2SeqObjective, schedule, path: Path | None, constant: bool):
        self.objective, self.schedule, self.path, self.constant = objective, schedule, path, constant

    def _set(self, trainer: Any, epoch: int) -> None:
        self.objective.teacher_forcing = float(self.schedule(epoch))
        if not self.constant and trainer.is_main:
            trainer.print(f"epoch {epoch + 1}: teacher forcing probability {self.objective.teacher_forcing:.4f}")

    def on_fit_start(self, trainer: Any) -> None:
        self._set(trainer, trainer.epoch)

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, Any]) -> None:
        """``epoch``: the 1-based number of the epoch that just ended."""
        if self.path is not None and trainer.is_main:
            new = not self.path.exists()
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(("epoch,teacher_forcing\n" if new else "") + f"{epoch},{self.objective.teacher_forcing:.6f}\n")
        self._set(trainer, epoch)


def build_model(cfg: Seq2SeqRunConfig, codec: Codec) -> EncoderDecoder:
    return EncoderDecoder(len(codec.src_vocab), len(codec.tgt_vocab), cfg.model)


def train_in_session(cfg: Seq2SeqRunConfig, session: RunSession) -> TrainOutcome:
    """The seq2seq part of a training session (the task's ``train``)."""
    session.device  # noqa: B018 - a device that is not there is a one-line error before the data is read
    data = prepare(cfg.data, cfg.train.seed)
    codec = data.codec
    if session.resume:
        for name, vocab in ((SRC_VOCAB, codec.src_vocab), (TGT_VOCAB, codec.tgt_vocab)):
            if Vocabulary.load(session.run_dir / name) != vocab:
                raise RunError(f"{session.run_dir}: the data no longer gives the vocabulary this run was trained with")
    printer = session.print
    printer(
        f"data: {data.source['where']}: {len(data.train):,} train / {len(data.valid):,} valid"
        + (f" / {len(data.test):,} test" if data.test is not None else "")
        + f" pairs; vocabularies {len(codec.src_vocab)} -> {len(codec.tgt_vocab)} {cfg.data.tokenizer} tokens; "
        f"run folder {session.run_dir}"
    )
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg, codec)
    n_params = sum(p.numel() for p in model.parameters())
    m = cfg.model
    printer(f"model: {m.cell} encoder-decoder, context {m.context}, attention {m.attention}, {n_params:,} parameters")
    if session.main:
        codec.src_vocab.save(session.path(SRC_VOCAB))
        codec.tgt_vocab.save(session.path(TGT_VOCAB))
    pad = codec.tgt_vocab.pad_id
    train = PairBatches(data.train, codec, cfg.data.batch_size, shuffle=True, seed=cfg.train.seed)
    valid = PairBatches(data.valid, codec, cfg.data.eval_batch_size, shuffle=False)
    objective = Seq2SeqObjective(pad, cfg.teacher.label_smoothing, seed=cfg.train.seed)
    schedule = TeacherForcingSchedule(
        objective, cfg.teacher.build(), session.run_dir / TF_FILE if session.main else None,
        constant=cfg.teacher.schedule == "constant",
    )  # fmt: skip
    extra = session.record(cfg, source=data.source)
    result = session.fit(model, objective, train, valid, cfg.train, extra_config=extra, callbacks=(schedule,),
                         eval_objective=Seq2SeqObjective(pad))  # fmt: skip
    if session.main and (session.run_dir / "best").exists():
        run = load_run(session.run_dir)
        sample = data.valid[: min(len(data.valid), 500)]
        scores = score_pairs(run, sample, beam=1)
        printer(
            f"validation (best weights, greedy, {len(sample)} pairs): BLEU {scores['bleu']:.2f}, "
            f"chrF {scores['chrf']:.2f}, exact match {100 * scores['exact_match']:.2f}%"
        )
    hint = f'translate with: unrolled translate {session.run_dir} "..." --beam 5'
    return session.outcome(result, hint)


# --- loading ----------------------------------------------------------------------------------------------
@dataclass
class LoadedSeq2Seq:
    run_dir: Path
    config: Seq2SeqRunConfig
    raw: dict[str, Any]
    codec: Codec
    model: EncoderDecoder
    max_len: int
    note: str | None = None


def load_run(run_dir: str | Path, which: str = "best") -> LoadedSeq2Seq:
    """A trained seq2seq run, its model in eval mode (best validation weights unless ``which="last"``)."""
    from unrolled.tasks.seq2seq.task import TASK

    run_dir = Path(run_dir)
    cfg, raw = load_run_config(TASK, run_dir)
    for name in (SRC_VOCAB, TGT_VOCAB):
        if not (run_dir / name).is_file():
            raise RunError(f"{run_dir} has no {name}; the run is incomplete")
    codec = Codec(cfg.data.tokenizer, cfg.data.lowercase, Vocabulary.load(run_dir / SRC_VOCAB),
                  Vocabulary.load(run_dir / TGT_VOCAB))  # fmt: skip
    model = build_model(cfg, codec)
    choice = choose_weights(run_dir, which)
    load_model_weights(model, choice.path)
    model.eval()
    longest = int((raw.get("source") or {}).get("max_target_tokens") or 50)
    return LoadedSeq2Seq(run_dir, cfg, raw, codec, model, max_len=2 * longest + 10, note=choice.note)


# --- using a run --------------------------------------------------------------------------------------------
@torch.no_grad()
def translate_texts(
    run: LoadedSeq2Seq, texts: list[str], beam: int = 1, n_best: int = 1, length_penalty: float = 0.0,
    batch_size: int = 64,
) -> list[list[Hypothesis]]:  # fmt: skip
    """The ``n_best`` hypotheses of every text (beam 1: greedy decoding)."""
    v = run.codec.tgt_vocab
    out: list[list[Hypothesis]] = []
    for i in range(0, len(texts), batch_size):
        chunk = texts[i : i + batch_size]
        src, lengths = source_batch(run.codec, chunk)
        state = run.model.encode(src, lengths)
        out += beam_search(run.model.step, state, v.bos_id, v.eos_id, len(chunk), beam_size=beam,
                           max_len=run.max_len, length_penalty_alpha=length_penalty, n_best=n_best)  # fmt: skip
    return out


@torch.no_grad()
def attention_of(run: LoadedSeq2Seq, text: str, hyp: Hypothesis) -> Tensor:
    """The attention weights (T, S) of the decoder producing ``hyp`` for ``text`` (teacher-forced on it)."""
    if run.config.model.context != "attention":
        raise RunError(
            f"{run.run_dir} has no attention (context {run.config.model.context}); --show-attention needs one"
        )
    v = run.codec.tgt_vocab
    src, lengths = source_batch(run.codec, [text])
    tgt_in = torch.tensor([[v.bos_id, *hyp.tokens]])
    _, weights = run.model(src, lengths, tgt_in)
    return weights[0]  # (T, S)


def score_pairs(run: LoadedSeq2Seq, pairs: list[tuple[str, str]], beam: int = 1) -> dict[str, float]:
    """BLEU, chrF (sacrebleu) and exact match of the run's translations of ``pairs``' sources."""
    hyps = translate_texts(run, [s for s, _ in pairs], beam=beam)
    out = [run.codec.decode_tgt(h[0].tokens) for h in hyps]
    refs = [run.codec.tokenizer.detokenize(run.codec.tokens(t)) for _, t in pairs]  # normalised as the model sees
    return translation_scores(out, refs)


def own_split(run: LoadedSeq2Seq) -> tuple[list[tuple[str, str]], str]:
    """The run's test pairs if it had some, else its validation pairs (re-read, re-split deterministically)."""
    _, valid, test, _ = load_pairs(run.config.data, run.config.train.seed)
    if test is not None:
        return test, f"test data {run.config.data.test}"
    return valid, "validation split"


def run_info(run_dir: Path, raw: dict[str, Any]) -> dict[str, Any]:
    from unrolled.tasks.seq2seq.task import TASK

    cfg, raw = load_run_config(TASK, run_dir)
    m = cfg.model
    description = (
        f"{m.cell} encoder-decoder, {m.layers} layer(s) x {m.hidden}{' bidirectional' if m.bidirectional else ''}, "
        f"context {m.context}, attention {m.attention}"
    )
    return {
        "description": description,
        "model": to_dict(m),
        "data": {**to_dict(cfg.data), **(raw.get("source") or {})},
        "teacher": to_dict(cfg.teacher),
        "train": to_dict(cfg.train),
    }
