"""The LM task's run folders, configs, scoring, generation and text pipeline: exact numbers and one-line errors."""

from __future__ import annotations

import json
import math
import sys

import pytest
import torch

from unrolled.config_io import ConfigError
from unrolled.tasks.lm import (
    LMDataConfig,
    LMModelConfig,
    LMRunConfig,
    LMSampleConfig,
    RunError,
    evaluate_text,
    generate_text,
    load_run,
    run_info,
    train_lm,
)
from unrolled.tasks.lm.callbacks import sample_ids
from unrolled.tasks.lm.codec import TextCodec
from unrolled.tasks.lm.config import build_run_config, default_raw_config
from unrolled.tasks.lm.corpus import prepare_corpus
from unrolled.tasks.lm.run import describe_loss, score_ids, stream
from unrolled.text.vocab import EOS, Vocabulary
from unrolled.train.config import TrainConfig

TEXT = "".join(f"line {i % 7}: the cat sat on the mat; {i * 13 % 11}\n" for i in range(60))
WORDS = "".join(f"The cat {i % 4} sat, on the Mat {i % 3}.\n" for i in range(120))


def _quiet(message: str) -> None:
    return None


def _cfg(tmp_path, family="rnn", text=TEXT, data=None, **train):
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    return LMRunConfig(
        data=LMDataConfig(**{"path": str(path), "batch_size": 4, "bptt": 16, "eval_batch_size": 2, **(data or {})}),
        model=LMModelConfig(family=family, hidden=16, embed_dim=8, layers=1, context=3, order=3, dropout=0.1),
        train=TrainConfig(**{"epochs": 2, "lr": 5e-3, "carry_state": True, "progress": False, "plot": False, **train}),
        sample=LMSampleConfig(length=0),
    )


# --- configs checked when built ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"top_p": 5.0}, "sample.top_p must be null or a number in (0, 1], got 5.0"),
        ({"top_p": 0.0}, "sample.top_p must be null or a number in (0, 1], got 0.0"),
        ({"top_k": 0}, "sample.top_k must be null or an integer >= 1, got 0"),
        ({"temperature": math.nan}, "sample.temperature must be a finite number >= 0 (0: greedy), got nan"),
        ({"temperature": math.inf}, "sample.temperature must be a finite number >= 0 (0: greedy), got inf"),
    ],
)
def test_sample_settings_are_checked_when_the_config_is_built(kwargs, message):
    with pytest.raises(ValueError) as info:
        LMSampleConfig(**kwargs)
    assert str(info.value) == message


def test_model_and_data_limits_are_checked_when_built():
    with pytest.raises(ValueError, match=r"^model.cell_options \{'bogus': 1\} do not fit cell 'lstm': .*bogus"):
        LMModelConfig(cell_options={"bogus": 1})
    assert LMModelConfig(cell="gru", cell_options={"reset": "before"}).cell_options == {"reset": "before"}
    with pytest.raises(ValueError) as info:
        LMDataConfig(max_vocab=4)
    assert str(info.value) == "data.max_vocab must be an integer >= 5 (it counts the 4 special tokens), got 4"
    with pytest.raises(ValueError, match="data.stop_words needs data.tokenizer = 'word'"):
        LMDataConfig(stop_words="english")
    with pytest.raises(ValueError, match=r"data.k2 must be null with data.bptt = 0"):
        LMDataConfig(bptt=0, k2=10)


def test_cell_options_check_leaves_the_global_generator_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    LMModelConfig(cell="gru", cell_options={"reset": "before"})
    assert torch.equal(torch.rand(3), expected)


def test_metric_and_eos_follow_the_tokenizer_unless_given():
    raw = default_raw_config()
    assert "metric" not in raw["train"] and "eos" not in raw["data"]
    char = build_run_config(raw)
    word = build_run_config({**raw, "data": {**raw["data"], "tokenizer": "word"}})
    assert (char.train.metric, char.data.eos) == ("bpc", "none")
    assert (word.train.metric, word.data.eos) == ("ppl", "line")
    given = build_run_config({**raw, "train": {**raw["train"], "metric": "loss"}})
    assert given.train.metric == "loss"


@pytest.mark.parametrize("section", ["data", "train", "model", "sample"])
def test_a_section_that_is_not_a_table_is_a_one_line_error(section):
    with pytest.raises(ConfigError) as info:
        build_run_config({section: "x"})
    assert str(info.value).startswith(f"config section '{section}' must be a table of settings")


# --- numbers ------------------------------------------------------------------------------------------------
def test_a_huge_finite_loss_has_an_infinite_perplexity_not_an_overflow():
    from unrolled.tasks.lm import Evaluation

    ev = Evaluation(loss=1e35, tokens=10, unknown=0)
    assert ev.perplexity == math.inf and ev.bits == 1e35 / math.log(2.0)
    codec = TextCodec("word", False, Vocabulary(["a"]))
    assert describe_loss(1e35, codec).endswith(f"perplexity inf, {1e35 / math.log(2.0):.4f} bits/word")
    assert "bpc" in describe_loss(1.0, TextCodec("char", False, Vocabulary(["a"])))


def test_every_family_scores_the_same_tokens_and_the_count_is_exact(tmp_path):
    runs = {}
    for family in ("rnn", "ngram"):
        train_lm(_cfg(tmp_path, family, epochs=1), run_dir=tmp_path / family, printer=_quiet)
        runs[family] = load_run(tmp_path / family)
    text = TEXT[:301]
    for batch in (1, 3):
        counts = {f: evaluate_text(run, text, batch_size=batch).tokens for f, run in runs.items()}
        assert counts == {"rnn": batch * (301 // batch - 1), "ngram": batch * (301 // batch - 1)}
    # the n-gram's score is its own log-probabilities of those targets, each row restarting its context
    ngram = runs["ngram"]
    ids = ngram.codec.encode(text)
    rows = ids[: 3 * (301 // 3)].view(3, -1).tolist()
    manual = [-math.log(ngram.model.prob(row[i], row[:i])) for row in rows for i in range(1, len(row))]
    total, count = score_ids(ngram, ids, batch_size=3)
    assert count == len(manual) and total == pytest.approx(sum(manual), rel=1e-12)


def test_ngram_runs_record_their_validation_loss(tmp_path):
    out = train_lm(_cfg(tmp_path, "ngram"), run_dir=tmp_path / "ng", printer=_quiet)
    meta = json.loads((tmp_path / "ng" / "best" / "meta.json").read_text())
    assert meta == {"step": 0, "epoch": 0, "valid_loss": out.valid_loss, "fitted": True}
    assert run_info(tmp_path / "ng")["best"]["valid_loss"] == out.valid_loss


def test_full_bptt_reads_each_row_in_one_chunk(tmp_path):
    ids = torch.arange(40)
    chunks = list(stream(ids, 4, 0))
    assert len(chunks) == 1 and chunks[0].inputs.shape == (4, 9) and torch.equal(chunks[0].targets[0], ids[1:10])
    out = train_lm(_cfg(tmp_path, data={"bptt": 0}, epochs=1), run_dir=tmp_path / "full", printer=_quiet)
    corpus = prepare_corpus(LMDataConfig(path=str(tmp_path / "corpus.txt"), batch_size=4, bptt=0, eval_batch_size=2))
    assert out.result.steps == 1  # one chunk per epoch: the whole of every row
    assert corpus.train_ids.numel() // 4 - 1 == list(stream(corpus.train_ids, 4, 0))[0].inputs.shape[1]


def test_runtime_records_the_device_auto_resolved_to(tmp_path):
    train_lm(_cfg(tmp_path, epochs=1, device="auto"), run_dir=tmp_path / "run", printer=_quiet)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert saved["train"]["device"] == "auto" and saved["runtime"]["device"] == expected


# --- run folders --------------------------------------------------------------------------------------------
def test_resume_mid_epoch_carries_the_state_and_equals_the_uninterrupted_run(tmp_path):
    full = train_lm(_cfg(tmp_path, epochs=2), run_dir=tmp_path / "full", printer=_quiet)
    first = train_lm(_cfg(tmp_path, epochs=2, max_steps=7), run_dir=tmp_path / "part", printer=_quiet)
    assert first.result.stopped == "max_steps" and first.result.epochs == 0  # stopped inside epoch 1
    resumed = train_lm(_cfg(tmp_path, epochs=2), run_dir=tmp_path / "part", resume=True, printer=_quiet)
    assert resumed.start_step == 7 and resumed.result.steps == full.result.steps
    assert resumed.result.train_losses == full.result.train_losses
    assert resumed.valid_loss == full.valid_loss
    a, b = load_run(tmp_path / "full", which="last"), load_run(tmp_path / "part", which="last")
    for (name, p), (_, q) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert torch.equal(p, q), name  # bit-identical parameters


def test_resume_refuses_a_changed_text(tmp_path):
    train_lm(_cfg(tmp_path, epochs=1), run_dir=tmp_path / "run", printer=_quiet)
    cfg = _cfg(tmp_path, text=TEXT.replace("cat", "dog"), epochs=2)
    with pytest.raises(RunError, match=r"^cannot resume .*run: the text at .*corpus.txt changed since the run started"):
        train_lm(cfg, run_dir=tmp_path / "run", resume=True, printer=_quiet)


def test_a_new_run_refuses_a_folder_that_holds_files(tmp_path):
    train_lm(_cfg(tmp_path, epochs=1), run_dir=tmp_path / "run", printer=_quiet)
    before = sorted(p.name for p in (tmp_path / "run").iterdir())
    with pytest.raises(RunError) as info:
        train_lm(_cfg(tmp_path, epochs=1), run_dir=tmp_path / "run", printer=_quiet)
    assert str(info.value) == (
        f"run folder {tmp_path / 'run'} already holds files; pass --resume {tmp_path / 'run'} to continue that run, "
        "or choose another --run-dir (nothing was changed)"
    )
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == before
    (tmp_path / "afile").write_text("mine", encoding="utf-8")
    with pytest.raises(RunError, match="is a file; expected a new or empty folder"):
        train_lm(_cfg(tmp_path, epochs=1), run_dir=tmp_path / "afile", printer=_quiet)
    assert (tmp_path / "afile").read_text(encoding="utf-8") == "mine"


def test_a_failed_start_leaves_no_run_folder(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # tensorboard is not installed
    with pytest.raises(ImportError, match="needs the tensorboard package"):
        train_lm(_cfg(tmp_path, tensorboard=True), run_dir=tmp_path / "tb", printer=_quiet)
    assert not (tmp_path / "tb").exists()

    def broken(*args, **kwargs):
        raise ValueError("cannot build")

    monkeypatch.setattr("unrolled.tasks.lm.run.build_model", broken)
    with pytest.raises(ValueError, match="cannot build"):
        train_lm(_cfg(tmp_path), run_dir=tmp_path / "new", printer=_quiet)
    assert not (tmp_path / "new").exists()  # its vocab.json was written, then removed with the folder
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="cannot build"):
        train_lm(_cfg(tmp_path), run_dir=tmp_path / "empty", printer=_quiet)
    assert (tmp_path / "empty").is_dir() and not any((tmp_path / "empty").iterdir())  # the user's folder stays


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_missing_device_fails_before_the_folder_is_made(tmp_path):
    with pytest.raises(ValueError, match="CUDA is not available"):
        train_lm(_cfg(tmp_path, device="cuda"), run_dir=tmp_path / "cu", printer=_quiet)
    assert not (tmp_path / "cu").exists()


def test_load_run_of_a_file_says_it_is_a_file(tmp_path):
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(RunError) as info:
        load_run(tmp_path / "notes.txt")
    assert (
        str(info.value) == f"{tmp_path / 'notes.txt'} is a file, not a run folder; expected a folder written by "
        "'unrolled train lm'"
    )


def test_run_files_have_the_normal_permissions(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        train_lm(_cfg(tmp_path, epochs=1), run_dir=tmp_path / "run", printer=_quiet)
    finally:
        os.umask(old)
    run = tmp_path / "run"
    for name in ("vocab.json", "config.json", "metrics.csv", "checkpoint/model.safetensors"):
        assert (run / name).stat().st_mode & 0o777 == 0o644, name
    assert (run / "checkpoint").stat().st_mode & 0o777 == 0o755


# --- the text pipeline ------------------------------------------------------------------------------------
def test_normalisation_and_stop_words_are_saved_and_applied_again(tmp_path):
    data = {"tokenizer": "word", "lowercase": True, "strip_punctuation": True, "stop_words": "english"}
    cfg = _cfg(tmp_path, text=WORDS, data=data, epochs=1)
    train_lm(cfg, run_dir=tmp_path / "run", printer=_quiet)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["data"]
    assert {k: saved[k] for k in data} == data and saved["eos"] == "line"
    assert "the" in (tmp_path / "run" / "stop_words.txt").read_text(encoding="utf-8").split()
    run = load_run(tmp_path / "run")
    assert run.codec.tokens("The Cat, sat on the MAT.\nOn") == ["cat", "sat", "mat", EOS]
    # evaluation sees the text through the same pipeline: the raw text scores what its normalised form scores
    raw, normalised = evaluate_text(run, WORDS[:400]), evaluate_text(run, WORDS[:400].lower().replace(",", ""))
    assert (raw.loss, raw.tokens) == (normalised.loss, normalised.tokens)


def test_stop_words_from_a_file(tmp_path):
    words = tmp_path / "stop.txt"
    words.write_text("# mine\ncat\nmat\n", encoding="utf-8")
    cfg = _cfg(tmp_path, text=WORDS, data={"tokenizer": "word", "stop_words": str(words)}, epochs=1)
    train_lm(cfg, run_dir=tmp_path / "run", printer=_quiet)
    words.unlink()  # the run keeps its own copy
    assert load_run(tmp_path / "run").codec.tokens("the cat sat") == ["the", "sat"]


def test_eos_modes_place_eos_at_line_or_document_ends():
    vocab = Vocabulary(["a", "b", "\n"])
    assert TextCodec("word", False, vocab, eos="line").document_tokens(["a b\nb", "a"]) == [
        "a",
        "b",
        EOS,
        "b",
        EOS,
        "a",
    ]
    doc = TextCodec("word", False, vocab, eos="document")
    assert doc.document_tokens(["a b\nb", "a"]) == ["a", "b", "\n", "b", EOS, "a", EOS]
    assert TextCodec("char", False, vocab).document_tokens(["ab", "b"]) == ["a", "b", "\n", "b"]


class _Favours:
    """A decode-protocol model whose next-token scores always favour ``best`` (then ``second``)."""

    def __init__(self, size: int, best: int, second: int) -> None:
        self.logits = torch.zeros(1, size)
        self.logits[0, best], self.logits[0, second] = 10.0, 5.0

    def step(self, tokens, state):
        return self.logits.clone(), state


def test_generation_masks_specials_and_stops_at_eos():
    vocab = Vocabulary(["a", "b"])  # ids: <unk> 0, <pad> 1, <bos> 2, <eos> 3, a 4, b 5
    char = TextCodec("char", False, vocab)  # no <eos> in the stream: every special is masked
    greedy = LMSampleConfig(length=5, temperature=0.0, prime="a")
    assert sample_ids(_Favours(6, best=0, second=5), char, greedy) == [5] * 5  # <unk> is never generated
    assert sample_ids(_Favours(6, best=3, second=4), char, greedy) == [4] * 5  # nor <eos> without one
    line = TextCodec("word", False, vocab, eos="line")
    assert sample_ids(_Favours(6, best=3, second=4), line, greedy) == [3] * 5
    assert line.continuation("a", [3, 3]) == "a\n\n"  # <eos> prints as a line break
    stop = LMSampleConfig(length=5, temperature=0.0, prime="a", stop_at_eos=True)
    assert sample_ids(_Favours(6, best=3, second=4), line, stop) == []  # stopped there, <eos> left out
    newline = TextCodec("char", False, Vocabulary(["a", "\n"]))  # without <eos> a newline ends the piece
    assert sample_ids(_Favours(6, best=5, second=4), newline, stop) == []
    assert sample_ids(_Favours(6, best=4, second=5), newline, stop) == [4] * 5


def test_ngram_generation_uses_top_k_and_top_p(tmp_path):
    train_lm(_cfg(tmp_path, "ngram"), run_dir=tmp_path / "ng", printer=_quiet)
    run = load_run(tmp_path / "ng")

    def texts(**cut):
        return {
            generate_text(run, LMSampleConfig(length=40, prime="line", temperature=1.5, seed=s, **cut))
            for s in (1, 2, 3)
        }

    assert len(texts()) == 3  # hot sampling: every seed its own text
    for cut in ({"top_k": 1}, {"top_p": 1e-9}):  # one token left at each step: the seed no longer matters
        assert len(texts(**cut)) == 1


def test_the_prime_is_echoed_as_written_and_unknown_characters_are_named(tmp_path):
    train_lm(_cfg(tmp_path, epochs=1, data={"lowercase": True}), run_dir=tmp_path / "run", printer=_quiet)
    run = load_run(tmp_path / "run")
    assert run.codec.unknown("LINE é€ é") == ["é", "€"]
    text = generate_text(run, LMSampleConfig(length=10, prime="LINE é", seed=1))
    assert text.startswith("LINE é") and len(text) == len("LINE é") + 10
