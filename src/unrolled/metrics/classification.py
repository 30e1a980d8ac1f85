r"""Classification scores: accuracy, per-class precision / recall / F1, macro and micro F1, confusion matrix.

For class :math:`c` with true positives :math:`TP_c`, false positives :math:`FP_c` and false negatives
:math:`FN_c`:

.. math::
    P_c = \frac{TP_c}{TP_c + FP_c}, \quad R_c = \frac{TP_c}{TP_c + FN_c}, \quad
    F1_c = \frac{2 P_c R_c}{P_c + R_c}, \quad
    \text{macro-}F1 = \frac1C \sum_c F1_c, \quad
    \text{micro-}F1 = \frac{2 \sum_c TP_c}{2 \sum_c TP_c + \sum_c FP_c + \sum_c FN_c}

A ratio with a zero denominator is 0 (scikit-learn's ``zero_division=0``). Single-label data are class ids
(N,); multi-label data are 0/1 indicator matrices (N, C), where accuracy is the exact-match (subset) accuracy.
Every score equals scikit-learn's with ``labels=range(C)`` (tested). Plain functions of lists, NumPy arrays or
tensors: no model is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "ClassificationReport",
    "accuracy",
    "classification_report",
    "confusion_matrix",
    "f1_scores",
    "per_class_scores",
]


def _as_array(name: str, values: Any) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor
        values = values.detach().cpu().numpy()
    arr = np.asarray(values)
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and arr.size and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        elif arr.size:
            raise ValueError(f"{name} must hold integer class ids or 0/1 indicators, got dtype {arr.dtype}")
        else:
            arr = arr.astype(np.int64)
    return arr


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t, p = _as_array("y_true", y_true), _as_array("y_pred", y_pred)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {t.shape} and {p.shape}")
    if t.ndim not in (1, 2):
        raise ValueError(f"expected class ids (N,) or multi-label indicators (N, C), got shape {t.shape}")
    if t.shape[0] == 0:
        raise ValueError("expected at least one example, got none")
    if t.ndim == 2 and (np.any((t != 0) & (t != 1)) or np.any((p != 0) & (p != 1))):
        raise ValueError("multi-label y_true and y_pred must be 0/1 indicator matrices (N, C)")
    if t.ndim == 1 and (t.min() < 0 or p.min() < 0):
        raise ValueError("class ids must be non-negative integers")
    return t, p


def _num_classes(t: np.ndarray, p: np.ndarray, num_classes: int | None) -> int:
    if t.ndim == 2:
        if num_classes is not None and num_classes != t.shape[1]:
            raise ValueError(f"num_classes={num_classes} but the indicator matrices have {t.shape[1]} columns")
        return t.shape[1]
    seen = int(max(t.max(), p.max())) + 1
    if num_classes is None:
        return seen
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    if seen > num_classes:
        raise ValueError(f"class id {seen - 1} is out of range for num_classes={num_classes}")
    return num_classes


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _counts(t: np.ndarray, p: np.ndarray, C: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TP, FP, FN per class (C,)."""
    if t.ndim == 2:
        tp = ((t == 1) & (p == 1)).sum(0)
        fp = ((t == 0) & (p == 1)).sum(0)
        fn = ((t == 1) & (p == 0)).sum(0)
        return tp, fp, fn
    cm = confusion_matrix(t, p, C)
    tp = np.diag(cm)
    return tp, cm.sum(0) - tp, cm.sum(1) - tp


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of examples predicted exactly right (for multi-label: every label of the example right).

    Example::

        >>> accuracy([0, 1, 2, 2], [0, 2, 2, 2])
        0.75
    """
    t, p = _pair(y_true, y_pred)
    right = (t == p) if t.ndim == 1 else (t == p).all(1)
    return float(right.mean())


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    r"""Counts :math:`M_{ij}` of examples of true class i predicted as j (rows true, columns predicted).

    Args:
        y_true, y_pred: class ids (N,).
        num_classes: C (default: the largest id seen + 1).

    Shape:
        - output: (C, C) int64.

    Example::

        >>> confusion_matrix([0, 1, 1], [0, 0, 1]).tolist()
        [[1, 0], [1, 1]]
    """
    t, p = _pair(y_true, y_pred)
    if t.ndim != 1:
        raise ValueError("confusion_matrix expects single-label class ids (N,), not a multi-label matrix")
    C = _num_classes(t, p, num_classes)
    return np.bincount(t * C + p, minlength=C * C).reshape(C, C).astype(np.int64)


def per_class_scores(y_true: Any, y_pred: Any, num_classes: int | None = None) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support (true examples) of every class, as arrays (C,).

    Example::

        >>> s = per_class_scores([0, 1, 1], [0, 0, 1])
        >>> s["precision"].tolist(), s["recall"].tolist()
        ([0.5, 1.0], [1.0, 0.5])
    """
    t, p = _pair(y_true, y_pred)
    C = _num_classes(t, p, num_classes)
    tp, fp, fn = _counts(t, p, C)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)  # = 2PR/(P+R), and 0 where both are 0
    return {"precision": precision, "recall": recall, "f1": f1, "support": (tp + fn).astype(np.int64)}


def f1_scores(y_true: Any, y_pred: Any, num_classes: int | None = None) -> dict[str, float]:
    """Macro F1 (mean of the per-class F1 over all C classes) and micro F1 (from pooled counts).

    For single-label data micro F1 equals accuracy.

    Example::

        >>> f1_scores([0, 1, 1], [0, 0, 1])["macro"]
        0.6666666666666666
    """
    t, p = _pair(y_true, y_pred)
    C = _num_classes(t, p, num_classes)
    tp, fp, fn = _counts(t, p, C)
    macro = float(_ratio(2 * tp, 2 * tp + fp + fn).mean())
    micro = float(_ratio(2 * tp.sum(), 2 * tp.sum() + fp.sum() + fn.sum()))
    return {"macro": macro, "micro": micro}


@dataclass
class ClassificationReport:
    """Every score of one evaluation, ready for JSON (:meth:`to_dict`) or a table (:meth:`format`).

    Attributes:
        labels: the class names, in id order.
        accuracy, macro_f1, micro_f1: the headline scores.
        per_class: one dict per class: label, precision, recall, f1, support.
        confusion: (C, C) counts, rows true, columns predicted (None for multi-label data).
    """

    labels: list[str]
    accuracy: float
    macro_f1: float
    micro_f1: float
    per_class: list[dict[str, Any]] = field(default_factory=list)
    confusion: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "micro_f1": self.micro_f1,
            "per_class": self.per_class,
            "labels": list(self.labels),
            "confusion": None if self.confusion is None else self.confusion.tolist(),
        }

    def format(self) -> str:
        width = max([len("label")] + [len(str(x)) for x in self.labels])
        lines = [
            f"accuracy {self.accuracy:.4f}  macro F1 {self.macro_f1:.4f}  micro F1 {self.micro_f1:.4f}",
            f"{'label':<{width}}  precision  recall     f1  support",
        ]
        for row in self.per_class:
            lines.append(
                f"{row['label']:<{width}}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['f1']:.4f}  "
                f"{row['support']:7d}"
            )
        return "\n".join(lines)


def classification_report(y_true: Any, y_pred: Any, labels: list[str]) -> ClassificationReport:
    """All the scores of :mod:`unrolled.metrics.classification` for class names ``labels`` (C of them).

    Example::

        >>> r = classification_report([0, 1, 1], [0, 0, 1], ["no", "yes"])
        >>> round(r.macro_f1, 4), r.confusion.tolist()
        (0.6667, [[1, 0], [1, 1]])
    """
    t, p = _pair(y_true, y_pred)
    C = _num_classes(t, p, len(labels))
    scores = per_class_scores(t, p, C)
    f1 = f1_scores(t, p, C)
    per_class = [
        {
            "label": str(labels[c]),
            "precision": float(scores["precision"][c]),
            "recall": float(scores["recall"][c]),
            "f1": float(scores["f1"][c]),
            "support": int(scores["support"][c]),
        }
        for c in range(C)
    ]
    cm = confusion_matrix(t, p, C) if t.ndim == 1 else None
    return ClassificationReport(list(map(str, labels)), accuracy(t, p), f1["macro"], f1["micro"], per_class, cm)
