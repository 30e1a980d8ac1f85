r"""Nearest neighbours in an embedding matrix by cosine similarity, and the "similar words have similar vectors"
check.

.. math::
    \cos(u, v) = \frac{u^\top v}{\lVert u \rVert \, \lVert v \rVert}

A zero vector (e.g. the ``<pad>`` row) has similarity 0 with everything.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import torch
from torch import Tensor

__all__ = ["cosine_matrix", "group_similarity", "nearest_neighbours"]


def _check(matrix: Tensor, tokens: Sequence[str]) -> Tensor:
    if not isinstance(matrix, Tensor) or matrix.dim() != 2:
        got = tuple(matrix.shape) if isinstance(matrix, Tensor) else type(matrix).__name__
        raise ValueError(f"expected an embedding matrix (V, E), got {got}")
    if matrix.shape[0] != len(tokens):
        raise ValueError(f"expected one token per matrix row, got {len(tokens)} tokens for {matrix.shape[0]} rows")
    return matrix.detach().double()


def cosine_matrix(vectors: Tensor) -> Tensor:
    """Pairwise cosine similarities (N, N) of the rows of ``vectors`` (N, E); zero rows give 0."""
    norms = vectors.norm(dim=1, keepdim=True)  # (N, 1)
    unit = vectors / norms.clamp(min=1e-12)  # (N, E)
    return unit @ unit.T  # (N, N)


def nearest_neighbours(
    matrix: Tensor, tokens: Sequence[str], word: str, k: int = 10, exclude: Collection[str] = ()
) -> list[tuple[str, float]]:
    """The ``k`` tokens whose rows are most cosine-similar to ``word``'s, best first (``word`` itself and the
    tokens in ``exclude``, e.g. the special tokens, left out).

    Args:
        matrix: (V, E) embedding matrix. tokens: the V tokens, in row order.
        word: the query token. k: how many neighbours. exclude: tokens never returned.

    Raises:
        ValueError: ``word`` not among the tokens, ``k < 1``, or a matrix that does not match the tokens.

    Example::

        >>> m = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
        >>> [w for w, _ in nearest_neighbours(m, ["a", "b", "c"], "a", k=2)]
        ['b', 'c']
    """
    m = _check(matrix, tokens)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    index = {t: i for i, t in enumerate(tokens)}
    if word not in index:
        raise ValueError(f"{word!r} is not in the vocabulary ({len(tokens)} tokens); expected a known word")
    q = index[word]
    u = m[q] / m[q].norm().clamp(min=1e-12)  # (E,)
    sims = (m @ u) / m.norm(dim=1).clamp(min=1e-12)  # (V,)
    skip = {q} | {index[t] for t in exclude if t in index}
    order = torch.argsort(sims, descending=True, stable=True).tolist()
    return [(tokens[i], float(sims[i])) for i in order if i not in skip][:k]


def group_similarity(matrix: Tensor, tokens: Sequence[str], groups: Mapping[str, Sequence[str]]) -> dict[str, float]:
    r"""Mean cosine similarity of pairs of words in the same group against pairs from different groups.

    Trained embeddings put words used alike close together: ``within`` should exceed ``between``
    (the seeds' "similar words have similar vectors"; e.g. groups ``{"digits": [...], "letters": [...]}``).

    Returns:
        ``{"within": ..., "between": ..., "gap": within - between}``.

    Example::

        >>> m = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
        >>> round(group_similarity(m, list("abcd"), {"x": "ab", "y": "cd"})["gap"], 2)
        0.9
    """
    m = _check(matrix, tokens)
    index = {t: i for i, t in enumerate(tokens)}
    members = []
    for name, words in groups.items():
        missing = [w for w in words if w not in index]
        if missing:
            raise ValueError(f"group {name!r}: {missing} not in the vocabulary; expected known words")
        members.extend((name, index[w]) for w in words)
    if len(groups) < 2 or any(len(w) < 2 for w in groups.values()):
        raise ValueError("expected at least two groups of at least two words each")
    ids = torch.tensor([i for _, i in members])
    names = [g for g, _ in members]
    sims = cosine_matrix(m[ids])  # (N, N)
    same = torch.tensor([[a == b for b in names] for a in names])
    off = ~torch.eye(len(names), dtype=torch.bool)
    within, between = float(sims[same & off].mean()), float(sims[~same].mean())
    return {"within": within, "between": between, "gap": within - between}
