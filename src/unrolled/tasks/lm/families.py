"""The model families of the language-modeling task, resolved by ``model.family`` through :data:`FAMILIES`.

Each family says which ``model.*`` keys it uses (flags for the other keys are refused), whether it trains with the
:class:`~unrolled.train.Trainer` (the n-gram model is fitted from counts instead), how to build it, its loss over
stream chunks, the extra checks of its config, and a one-line description for ``unrolled info``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from unrolled.layers.init import parse_init_name
from unrolled.layers.recurrent import Recurrent
from unrolled.models.fixed_window import FixedWindowLM
from unrolled.models.language_model import RNNLanguageModel, RNNLMConfig, check_softmax_options
from unrolled.models.ngram import NGramLM
from unrolled.tasks.lm.objectives import FixedWindowLMObjective, RecurrentLMObjective

__all__ = ["FAMILIES", "Family"]


@dataclass(frozen=True)
class Family:
    """One model family.

    Args:
        name: the ``model.family`` value. summary: one line for ``--help``.
        keys: the ``model.*`` fields the family uses.
        trains: trained by the Trainer (``build`` and ``objective`` set) rather than fitted (``fit`` set).
        build: ``(model_cfg, vocab_size, pad_id) -> nn.Module``.
        objective: ``(model_cfg, pad_id) -> objective`` over :class:`~unrolled.data.StreamChunk` batches.
        fit: ``(model_cfg, vocab, train_ids) -> model`` for a family that does not train.
        check: extra validation of a model config (raises ``ValueError``), run when the config is built.
        describe: ``model section (a dict) -> str`` for ``unrolled info``.
    """

    name: str
    summary: str
    keys: frozenset[str]
    trains: bool
    describe: Callable[[Mapping[str, Any]], str]
    build: Callable[[Any, int, int], nn.Module] | None = None
    objective: Callable[[Any, int], Any] | None = None
    fit: Callable[[Any, Any, torch.Tensor], Any] | None = None
    check: Callable[[Any], None] | None = None


def _rnn_config(cfg: Any) -> RNNLMConfig:
    return RNNLMConfig(
        cell=cfg.cell,
        embed_dim=cfg.embed_dim,
        hidden=cfg.hidden,
        layers=cfg.layers,
        dropout=cfg.dropout,
        tie_weights=cfg.tie_weights,
        recurrent_dropout=cfg.recurrent_dropout,
        zoneout=cfg.zoneout,
        residual=cfg.residual,
        cell_options=dict(cfg.cell_options),
        init=cfg.init,
        last_hidden=cfg.last_hidden,
        weight_drop=cfg.weight_drop,
        embed_dropout=cfg.embed_dropout,
        locked_dropout=cfg.locked_dropout,
        input_dropout=cfg.input_dropout,
        output_dropout=cfg.output_dropout,
        softmax=cfg.softmax,
        cutoffs=None if cfg.cutoffs is None else tuple(cfg.cutoffs),
        div_value=cfg.div_value,
    )


def _build_rnn(cfg: Any, vocab_size: int, pad_id: int) -> nn.Module:
    return RNNLanguageModel(vocab_size, _rnn_config(cfg))


def _check_rnn(cfg: Any) -> None:
    """Build the recurrent layers once (without touching the global random generators) so that bad
    ``cell_options`` fail when the config is built, not after the corpus is read and the run folder made."""
    try:
        parse_init_name(cfg.init)
    except ValueError as e:
        raise ValueError(f"model.init: {e}") from None
    check_softmax_options(cfg.softmax, cfg.cutoffs, cfg.div_value, cfg.tie_weights)
    if not cfg.cell_options:
        return
    try:
        with torch.random.fork_rng(devices=[]):
            Recurrent(cfg.cell, cfg.embed_dim, cfg.hidden, num_layers=cfg.layers, **cfg.cell_options)
    except (TypeError, ValueError) as e:
        message = " ".join(str(e).split())
        options = dict(cfg.cell_options)
        raise ValueError(f"model.cell_options {options!r} do not fit cell {cfg.cell!r}: {message}") from None


def _describe_rnn(m: Mapping[str, Any]) -> str:
    text = f"rnn {m['cell']}, {m['layers']} x {m['hidden']}, embed {m['embed_dim']}"
    if m.get("softmax", "full") == "adaptive":  # runs from before the option have no key: full softmax
        cutoffs = "V//5,V//2" if m.get("cutoffs") is None else ",".join(str(c) for c in m["cutoffs"])
        text += f", adaptive softmax (cutoffs {cutoffs}, div {m.get('div_value', 4.0):g})"
    return text


def _build_fixed_window(cfg: Any, vocab_size: int, pad_id: int) -> nn.Module:
    return FixedWindowLM(
        vocab_size, cfg.context, cfg.embed_dim, cfg.hidden, direct=cfg.direct, dropout=cfg.dropout, pad_id=pad_id
    )


def _fit_ngram(cfg: Any, vocab: Any, train_ids: torch.Tensor) -> NGramLM:
    kw: dict[str, Any] = {"k": cfg.add_k} if cfg.smoothing == "add_k" else {"discount": cfg.discount}
    model = NGramLM(cfg.order, vocab_size=len(vocab), smoothing=cfg.smoothing, unk_id=vocab.unk_id, **kw)
    return model.fit([train_ids.tolist()])


FAMILIES: dict[str, Family] = {
    "rnn": Family(
        name="rnn",
        summary="recurrent language model (embedding -> recurrent layers -> softmax)",
        keys=frozenset(
            {
                "cell",
                "embed_dim",
                "hidden",
                "layers",
                "dropout",
                "tie_weights",
                "recurrent_dropout",
                "zoneout",
                "residual",
                "cell_options",
                "init",
                "last_hidden",
                "weight_drop",
                "embed_dropout",
                "locked_dropout",
                "input_dropout",
                "output_dropout",
                "softmax",
                "cutoffs",
                "div_value",
                "ar",
                "tar",
            }
        ),
        trains=True,
        build=_build_rnn,
        objective=lambda cfg, pad_id: RecurrentLMObjective(
            ar=cfg.ar, tar=cfg.tar, score_targets=cfg.softmax == "adaptive"
        ),
        check=_check_rnn,
        describe=_describe_rnn,
    ),
    "fixed_window": Family(
        name="fixed_window",
        summary="fixed-window neural LM of Bengio et al. 2003",
        keys=frozenset({"context", "embed_dim", "hidden", "dropout", "direct"}),
        trains=True,
        build=_build_fixed_window,
        objective=lambda cfg, pad_id: FixedWindowLMObjective(cfg.context, pad_id),
        describe=lambda m: f"fixed window, context {m['context']}, hidden {m['hidden']}",
    ),
    "ngram": Family(
        name="ngram",
        summary="count-based n-gram model (Kneser-Ney or add-k), fitted in one pass",
        keys=frozenset({"order", "smoothing", "add_k", "discount"}),
        trains=False,
        fit=_fit_ngram,
        describe=lambda m: f"{m['order']}-gram, {m['smoothing']}",
    ),
}
