"""Token-by-token generation from any autoregressive model.

The model side is a *step function*::

    step(tokens: LongTensor (B,), state) -> (logits: Tensor (B, V), state)

which consumes one token per sequence and returns the scores of the next one (``state`` is whatever the
model carries: a hidden state, a rolling window, ``None`` at the start). Optionally a faster

    prime(tokens: LongTensor (B, T), state) -> (logits_last: Tensor (B, V), state)

consumes a whole prompt at once. Without it the prompt is fed through ``step`` one token at a time. An object
with a ``step`` method (and optionally a ``prime`` method) may be passed instead of the function.

This module never imports :mod:`unrolled.models`; models adapt to it, not the other way round.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from unrolled.decode.sampling import STRATEGIES, Suppress, apply_processors, build_processors

StepFn = Callable[[Tensor, Any], "tuple[Tensor, Any]"]
PrimeFn = Callable[[Tensor, Any], "tuple[Tensor, Any]"]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class DecodeConfig:
    """Settings of one decoding run, validated on construction.

    Every field is also a keyword of :func:`generate`: ``generate(step, prime, **dataclasses.asdict(cfg))``.

    Args:
        max_new_tokens: number of tokens to generate per sequence (>= 0); fewer when all hit ``eos_id``.
        strategy: ``"sample"`` (draw from the processed distribution) or ``"greedy"`` (argmax).
        temperature: T >= 0; ``0`` means greedy whatever ``strategy`` says.
        top_k: keep only the k most probable tokens (k >= 1), or ``None``.
        top_p: nucleus mass 0 < p <= 1 (Holtzman et al. 2020), or ``None``.
        eos_id: a sequence stops after emitting this id; later positions hold ``pad_id``.
        suppress_ids: ids that are never generated (their scores are set to ``-inf`` before the other processors).
        bos_id: start token used when the prompt is empty.
        pad_id: filler after a sequence's ``eos_id``; defaults to ``eos_id``.
        seed: seed of the local ``torch.Generator`` (the global RNG is never touched).
        batch: number of sequences generated from one prompt (>= 1).
    """

    max_new_tokens: int
    strategy: str = "sample"
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    eos_id: int | None = None
    bos_id: int | None = None
    pad_id: int | None = None
    seed: int | None = None
    batch: int = 1
    suppress_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not _is_int(self.max_new_tokens) or self.max_new_tokens < 0:
            raise ValueError(f"expected max_new_tokens to be an int >= 0, got {self.max_new_tokens!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"expected strategy to be one of {sorted(STRATEGIES)}, got {self.strategy!r}")
        if not _is_real(self.temperature) or not (0 <= self.temperature < math.inf):
            raise ValueError(f"expected temperature to be a finite number >= 0, got {self.temperature!r}")
        if self.top_k is not None and (not _is_int(self.top_k) or self.top_k < 1):
            raise ValueError(f"expected top_k to be None or an int >= 1, got {self.top_k!r}")
        if self.top_p is not None and (not _is_real(self.top_p) or not 0 < self.top_p <= 1):
            raise ValueError(f"expected top_p to be None or a number with 0 < top_p <= 1, got {self.top_p!r}")
        for name in ("eos_id", "bos_id", "pad_id", "seed"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or (name != "seed" and value < 0)):
                raise ValueError(f"expected {name} to be None or an int >= 0, got {value!r}")
        if not _is_int(self.batch) or self.batch < 1:
            raise ValueError(f"expected batch to be an int >= 1, got {self.batch!r}")
        if isinstance(self.suppress_ids, (str, bytes)) or not isinstance(self.suppress_ids, Sequence):
            raise ValueError(f"expected suppress_ids to be a list of ints >= 0, got {self.suppress_ids!r}")
        if not all(_is_int(i) and i >= 0 for i in self.suppress_ids):
            raise ValueError(f"expected suppress_ids to be a list of ints >= 0, got {list(self.suppress_ids)!r}")
        self.suppress_ids = tuple(self.suppress_ids)
        if self.eos_id is not None and self.eos_id in self.suppress_ids:
            raise ValueError(f"expected eos_id={self.eos_id} not to be among suppress_ids (it could never stop)")

    @property
    def effective_strategy(self) -> str:
        """``"greedy"`` when temperature is 0, else :attr:`strategy`."""
        return "greedy" if self.temperature == 0 else self.strategy


def _model_device(step: object) -> torch.device | None:
    """The device of a module-like model's first parameter (duck-typed: decode never imports models)."""
    params = getattr(step, "parameters", None)
    if not callable(params):
        return None
    try:
        first = next(iter(params()), None)
    except TypeError:
        return None
    return first.device if isinstance(first, Tensor) else None


def _resolve_model(step: object, prime: PrimeFn | None) -> tuple[StepFn, PrimeFn | None]:
    if hasattr(step, "step") and callable(step.step):
        obj = step
        step_fn = obj.step
        if prime is None:
            candidate = getattr(obj, "prime", None)
            prime = candidate if callable(candidate) else None
        return step_fn, prime
    if not callable(step):
        raise TypeError(
            f"expected step to be a function step(tokens, state) -> (logits, state) or an object with a "
            f"step method, got {type(step).__name__}"
        )
    if prime is not None and not callable(prime):
        raise TypeError(f"expected prime to be callable or None, got {type(prime).__name__}")
    return step, prime


def _prime_tensor(prime_ids: object, bos_id: int | None, batch: int, device: torch.device | None) -> Tensor:
    """The prompt as a (B, T) int64 tensor (T >= 1)."""
    if isinstance(prime_ids, Tensor):
        if prime_ids.dtype.is_floating_point or prime_ids.dtype.is_complex or prime_ids.dtype == torch.bool:
            raise TypeError(f"expected prime_ids to hold integer token ids, got dtype {prime_ids.dtype}")
        if prime_ids.dim() == 1:
            ids = prime_ids.long().unsqueeze(0).expand(batch, -1)
        elif prime_ids.dim() == 2:
            if batch not in (1, prime_ids.shape[0]):
                rows = prime_ids.shape[0]
                raise ValueError(f"expected batch=1 or batch equal to the {rows} prime_ids rows, got {batch}")
            ids = prime_ids.long()
        else:
            shape = tuple(prime_ids.shape)
            raise ValueError(f"expected prime_ids to be 1-D (T,) or 2-D (B, T), got shape {shape}")
    elif isinstance(prime_ids, Sequence) and not isinstance(prime_ids, (str, bytes)):
        if not all(_is_int(t) for t in prime_ids):
            raise TypeError("expected prime_ids to be a list of int token ids")
        ids = torch.tensor(list(prime_ids), dtype=torch.long).reshape(1, -1).expand(batch, -1)
    else:
        got = type(prime_ids).__name__
        raise TypeError(f"expected prime_ids to be a list of ints or a LongTensor, got {got}")
    if ids.shape[1] == 0:
        if bos_id is None:
            raise ValueError("expected a non-empty prime_ids, or a bos_id to start from, got an empty prompt")
        ids = torch.full((ids.shape[0], 1), bos_id, dtype=torch.long, device=ids.device)
    if ids.numel() and bool((ids < 0).any()):
        raise ValueError(f"expected token ids >= 0 in prime_ids, got {int(ids.min())}")
    return ids.to(device).contiguous() if device is not None else ids.contiguous()


def _check_logits(logits: object, batch: int) -> Tensor:
    if not isinstance(logits, Tensor) or logits.dim() != 2 or logits.shape[0] != batch:
        got = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"expected the model step to return logits of shape (B={batch}, V), got {got}")
    return logits


@torch.no_grad()
def generate(
    step: StepFn | Any,
    prime_ids: list[int] | Tensor,
    max_new_tokens: int,
    strategy: str = "sample",
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_id: int | None = None,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    state: Any = None,
    batch: int = 1,
    bos_id: int | None = None,
    pad_id: int | None = None,
    prime: PrimeFn | None = None,
    device: torch.device | str | None = None,
    suppress_ids: Sequence[int] = (),
) -> list[int] | Tensor:
    r"""Generate up to ``max_new_tokens`` tokens after a prompt.

    The prompt is fed through ``prime`` (or ``step`` token by token); then, repeatedly, the last logits
    are processed (temperature :math:`l/T`, then top-k, then top-p; see :mod:`unrolled.decode.sampling`),
    one token is selected by ``strategy`` and fed back through ``step``. A sequence that emits ``eos_id``
    is finished: its later positions hold ``pad_id`` (default ``eos_id``) and generation stops once every
    sequence is finished.
    Runs under ``torch.no_grad()``; put modules with dropout in ``eval()`` mode first.

    Args:
        step: ``step(tokens (B,), state) -> (logits (B, V), state)``, or an object with ``step``
            (and optionally ``prime``) methods.
        prime_ids: the prompt: a list of ids, a (T,) tensor (shared by all ``batch`` sequences) or a (B, T)
            tensor (one prompt per row). May be empty only if ``bos_id`` is given.
        max_new_tokens: number of new tokens per sequence (>= 0).
        strategy: ``"sample"`` or ``"greedy"``.
        temperature: T >= 0; ``0`` means greedy.
        top_k, top_p: optional top-k / nucleus filtering.
        eos_id: id that ends a sequence (it is included in the output).
        suppress_ids: ids never generated (masked to ``-inf`` before temperature, top-k and top-p), e.g. the
            padding, start and unknown tokens of a vocabulary.
        seed: seed for a fresh local ``torch.Generator``; mutually exclusive with ``generator``. With neither,
            a nondeterministically seeded local generator is used. The global RNG is never touched.
        generator: a ``torch.Generator`` on the logits' device.
        state: initial model state (``None``: the model's own default).
        batch: number of sequences when the prompt is shared.
        bos_id: start token used for an empty prompt.
        pad_id: filler after ``eos_id``.
        prime: optional ``prime(tokens (B, T), state) -> (logits_last (B, V), state)``.
        device: device of the prompt tensor handed to the model (default: the device of the model's first
            parameter when ``step`` is a module, else where the prompt is, CPU for lists).

    Returns:
        A ``list[int]`` of new ids when ``prime_ids`` is a list and ``batch == 1``; otherwise an int64
        tensor of shape (B, N) with N <= ``max_new_tokens``.

    Example::

        >>> table = torch.randn(5, 5)
        >>> step = lambda tok, state: (table[tok], state)
        >>> out = generate(step, [0, 3], 4, temperature=0)  # greedy walk through `table`
        >>> len(out), out[0] == int(table[3].argmax())
        (4, True)
    """
    cfg = DecodeConfig(
        max_new_tokens=max_new_tokens,
        strategy=strategy,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        eos_id=eos_id,
        bos_id=bos_id,
        pad_id=pad_id,
        seed=seed,
        batch=batch,
        suppress_ids=tuple(suppress_ids) if isinstance(suppress_ids, Sequence) else suppress_ids,
    )
    if seed is not None and generator is not None:
        raise ValueError("expected at most one of seed and generator, got both")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"expected generator to be a torch.Generator, got {type(generator).__name__}")
    step_fn, prime_fn = _resolve_model(step, prime)
    as_list = isinstance(prime_ids, Sequence) and not isinstance(prime_ids, Tensor) and batch == 1
    dev = torch.device(device) if device is not None else _model_device(step)
    ids = _prime_tensor(prime_ids, cfg.bos_id, cfg.batch, dev)
    n_seq = ids.shape[0]

    if cfg.max_new_tokens == 0:
        out = torch.zeros(n_seq, 0, dtype=torch.long, device=ids.device)
        return [] if as_list else out

    if prime_fn is not None:
        logits, state = prime_fn(ids, state)
    else:
        for t in range(ids.shape[1]):
            logits, state = step_fn(ids[:, t], state)
    logits = _check_logits(logits, n_seq)

    select = STRATEGIES[cfg.effective_strategy]
    processors = build_processors(
        temperature=None if cfg.temperature == 0 else cfg.temperature, top_k=cfg.top_k, top_p=cfg.top_p
    )
    if cfg.suppress_ids:
        processors.insert(0, Suppress(cfg.suppress_ids))
    if generator is None and select is STRATEGIES["sample"]:
        generator = torch.Generator(device=logits.device)
        if cfg.seed is None:
            generator.seed()
        else:
            generator.manual_seed(cfg.seed)

    fill = cfg.pad_id if cfg.pad_id is not None else cfg.eos_id
    finished = torch.zeros(n_seq, dtype=torch.bool, device=logits.device)
    tokens: list[Tensor] = []
    for i in range(cfg.max_new_tokens):
        if i > 0:
            logits, state = step_fn(tokens[-1], state)
            logits = _check_logits(logits, n_seq)
        nxt = select(apply_processors(logits, processors), generator)
        if cfg.eos_id is not None:
            nxt = torch.where(finished, torch.full_like(nxt, fill), nxt)
            finished = finished | (nxt == cfg.eos_id)
        tokens.append(nxt)
        if cfg.eos_id is not None and bool(finished.all()):
            break
    out = torch.stack(tokens, dim=1)
    if as_list:
        row = out[0].tolist()
        if cfg.eos_id is not None and cfg.eos_id in row:
            row = row[: row.index(cfg.eos_id) + 1]
        return row
    return out
