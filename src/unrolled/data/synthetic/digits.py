"""Sequential digits: scikit-learn's 8x8 handwritten digits read row by row or pixel by pixel (Le et al. 2015)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import Tensor

from unrolled.data.synthetic.base import SyntheticTask, check_count

#: examples of scikit-learn's 1797 digits kept for the training split; the rest is the test split
TRAIN_EXAMPLES = 1500
#: the seed of the fixed pixel permutation (the permuted variant of Le et al. 2015's pixel-by-pixel MNIST)
PERMUTATION_SEED = 1234
SPLITS = ("train", "test")


@lru_cache(maxsize=1)
def load_digit_images() -> tuple[Tensor, Tensor]:
    """scikit-learn's digits as (N, 64) pixels scaled to [0, 1] and (N,) labels (bundled, no download)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("the sequential digits tasks need scikit-learn: pip install scikit-learn") from None
    data = load_digits()
    pixels = torch.tensor(data.data, dtype=torch.float32) / 16.0  # (N, 64)
    return pixels, torch.tensor(data.target, dtype=torch.long)


def pixel_permutation() -> Tensor:
    """The fixed permutation of the 64 pixels used by ``digits_permuted``."""
    return torch.randperm(64, generator=torch.Generator().manual_seed(PERMUTATION_SEED))


@dataclass(frozen=True)
class SequentialDigits(SyntheticTask):
    r"""Classify an 8x8 digit read one row (T = 8, I = 8) or one pixel (T = 64, I = 1) per step.

    With ``permuted=True`` the 64 pixels are read in a fixed random order (:func:`pixel_permutation`), which
    spreads neighbouring pixels far apart in time (the permuted pixel MNIST of Le et al. 2015). The first 1500
    images are the training split, the other 297 the test split; a training batch draws images with replacement,
    a test batch takes the first ``n`` test images. Chance: :math:`\ln 10` nats (accuracy 1/10).

    Shape:
        - x: (B, T, 64 / T), pixels in [0, 1]; y: (B,) classes 0..9 (O = 10).

    Example::

        >>> x, y = SequentialDigits().batch(32, 64, torch.Generator().manual_seed(0))   # x (32, 64, 1)
    """

    name: str = "digits"
    description: str = "sequential 8x8 digits, pixel by pixel (T=64) or row by row (T=8)"
    loss: str = "ce_last"
    input_size: int = 1
    output_size: int = 10
    fixed_lengths: tuple[int, ...] = (8, 64)
    permuted: bool = False

    def baseline(self, length: int) -> float:
        return math.log(10.0)

    def baseline_text(self) -> str:
        return "ln 10 = 2.3026 nats (accuracy 1/10)"

    def input_features(self, length: int) -> int:
        """I at length T: 8 pixels per step at T = 8, 1 at T = 64."""
        return 64 // self.check_length(length)

    def batch(self, n: int, length: int, generator: torch.Generator, split: str = "train") -> tuple[Tensor, Tensor]:
        n, T = check_count(n), self.check_length(length)
        if split not in SPLITS:
            raise ValueError(f"expected split in {SPLITS}, got {split!r}")
        pixels, labels = load_digit_images()
        if split == "train":
            idx = torch.randint(0, TRAIN_EXAMPLES, (n,), generator=generator)
        else:
            idx = torch.arange(TRAIN_EXAMPLES, min(len(labels), TRAIN_EXAMPLES + n))
        x = pixels[idx]  # (B, 64)
        if self.permuted:
            x = x[:, pixel_permutation()]
        return x.reshape(len(idx), T, 64 // T), labels[idx]  # (B, T, 64 / T), (B,)
