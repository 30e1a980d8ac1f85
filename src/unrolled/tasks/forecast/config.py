"""The configuration of a forecasting run: data, model, training (typed, checked when built).

``model.model`` names a family resolved through :data:`MODEL_FAMILIES`: recurrent networks trained by the
:class:`~unrolled.train.Trainer` (any cell name of the cell registry, e.g. ``lstm``, ``gru``, ``elman``), or models
fitted in closed form / by EM (``esn``, ``ar``, ``lds``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from unrolled.cells.registry import CELLS
from unrolled.data.series import GENERATORS
from unrolled.data.windows import SCALERS
from unrolled.models.forecaster import STRATEGIES
from unrolled.train.config import TrainConfig

__all__ = [
    "FITTED",
    "FILLS",
    "ForecastDataConfig",
    "ForecastModelConfig",
    "ForecastRunConfig",
    "inapplicable_keys",
    "model_families",
]

#: families fitted without the Trainer (closed form or EM); their parameters are saved as RUN/model.safetensors
FITTED = ("esn", "ar", "lds")
#: how gaps (NaN) in the data are handled before windowing: refuse them, or linear interpolation
FILLS = ("none", "linear")


def model_families() -> list[str]:
    return [*FITTED, *CELLS]


#: the settings only one kind of model uses (besides ``model.model``, ``model.imputer`` and the data keys all use)
NETWORK_KEYS = ("model.strategy", "model.hidden", "model.layers", "model.dropout", "model.gaussian", "data.batch_size")
OWN_KEYS = {
    "esn": ("model.units", "model.spectral_radius", "model.leak_rate", "model.input_scaling", "model.ridge",
            "model.washout", "train.seed"),  # the seed draws the reservoir
    "ar": ("model.ar_order", "model.max_order"),
    "lds": ("model.lds_state_dim", "model.em_iters", "train.seed"),  # the seed draws EM's starting point
}  # fmt: skip
#: display settings every model accepts (a fitted model has no progress bar or loss curve, and nothing to change)
DISPLAY_KEYS = ("train.progress", "train.plot")
#: why a family cannot use another family's settings, for the error
HOW_FITTED = {
    "esn": "a fixed reservoir and a ridge readout fit in closed form",
    "ar": "fit in closed form",
    "lds": "fit by EM",
}


def inapplicable_keys(family: str, keys: set[str]) -> list[str]:
    """The ``section.key`` settings among ``keys`` (those the user gave) that models of ``family`` cannot use, in
    sorted order: for the fitted families (:data:`FITTED`) every ``train`` key but their own and the display ones,
    the network settings and the other families' settings; for a network the fitted families' settings."""
    others = {k for fam, own in OWN_KEYS.items() if fam != family for k in own}
    if family in FITTED:
        allowed = set(OWN_KEYS[family]) | set(DISPLAY_KEYS)
        bad = {k for k in keys if k.startswith("train.") or k in NETWORK_KEYS or k in others}
        return sorted(bad - allowed)
    return sorted(k for k in keys if k in others and not k.startswith("train."))


def _int(section: str, name: str, value: object, lo: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{section}.{name} must be an integer >= {lo}, got {value!r}")


def _choice(section: str, name: str, value: object, choices) -> None:
    if value not in choices:
        raise ValueError(f"{section}.{name} must be one of {', '.join(choices)}, got {value!r}")


@dataclass
class ForecastDataConfig:
    """Where the series comes from and how it is split, scaled and windowed.

    Args:
        source: a CSV file (a header row; missing cells empty or NA) or a generator name (``mackey-glass``,
            ``narma10``, ``lorenz``, ``sine``), or ``statsmodels:NAME`` (sunspots, co2, nile; needs statsmodels).
        target: the column to forecast (default: the generator's, or the CSV's first value column).
        covariates: other columns fed as inputs (used by ``--strategy direct`` networks only).
        time_column: a CSV column of time labels (kept, never used as a value).
        length / seed: the generated series' length and seed.
        window / horizon: input steps W and forecast steps H.
        valid_fraction / test_fraction: the time-ordered split (train, then validation, then test).
        scaler: ``standard``, ``minmax`` or ``none``, fitted on the training part only.
        fill: ``none`` (gaps are an error) or ``linear`` (interpolated before training).
        batch_size: windows per batch (networks).
    """

    source: str = "mackey-glass"
    target: str | None = None
    covariates: list[str] = field(default_factory=list)
    time_column: str | None = None
    length: int = 2000
    seed: int = 0
    window: int = 32
    horizon: int = 1
    valid_fraction: float = 0.1
    test_fraction: float = 0.2
    scaler: str = "standard"
    fill: str = "none"
    batch_size: int = 64

    def __post_init__(self) -> None:
        for name, lo in (("length", 10), ("window", 1), ("horizon", 1), ("batch_size", 1), ("seed", 0)):
            _int("data", name, getattr(self, name), lo)
        _choice("data", "scaler", self.scaler, list(SCALERS))
        _choice("data", "fill", self.fill, FILLS)
        for name in ("valid_fraction", "test_fraction"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
                raise ValueError(f"data.{name} must be a number in [0, 1), got {v!r}")
        if self.test_fraction <= 0:
            raise ValueError(
                f"data.test_fraction must be > 0 (evaluate scores the test part), got {self.test_fraction}"
            )
        if not isinstance(self.source, str) or not self.source:
            raise ValueError(f"data.source must be a CSV path or one of {sorted(GENERATORS)}, got {self.source!r}")


@dataclass
class ForecastModelConfig:
    """The model.

    Args:
        model: a family of :func:`model_families`: a cell name (recurrent network), ``esn``, ``ar`` or ``lds``.
        strategy: ``recursive`` or ``direct`` (networks).
        hidden / layers / dropout / gaussian: the network (``gaussian``: a mean and log-variance head).
        units / spectral_radius / leak_rate / input_scaling / ridge / washout: the echo state network.
        ar_order: the AR order (0: chosen by BIC up to ``max_order``). lds_state_dim / em_iters: the LDS.
        imputer: also train a bidirectional RNN imputer on the series (for ``unrolled impute``).
    """

    model: str = "lstm"
    strategy: str = "recursive"
    hidden: int = 32
    layers: int = 1
    dropout: float = 0.0
    gaussian: bool = False
    units: int = 200
    spectral_radius: float = 1.25
    leak_rate: float = 0.3
    input_scaling: float = 1.0
    ridge: float = 1e-6
    washout: int = 100
    ar_order: int = 0
    max_order: int = 20
    lds_state_dim: int = 2
    em_iters: int = 50
    imputer: bool = False

    def __post_init__(self) -> None:
        _choice("model", "model", self.model, model_families())
        _choice("model", "strategy", self.strategy, STRATEGIES)
        for name, lo in (("hidden", 1), ("layers", 1), ("units", 1), ("washout", 0), ("ar_order", 0)):
            _int("model", name, getattr(self, name), lo)
        for name, lo in (("max_order", 1), ("lds_state_dim", 1), ("em_iters", 1)):
            _int("model", name, getattr(self, name), lo)
        if self.model in FITTED and self.strategy != "recursive":
            raise ValueError(f"model.strategy={self.strategy!r} is for recurrent networks; {self.model} is recursive")


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=10, lr=3e-3, clip_norm=5.0)


@dataclass
class ForecastRunConfig:
    """A forecasting run: ``data``, ``model`` and ``train`` (:class:`~unrolled.train.TrainConfig`, networks only)."""

    data: ForecastDataConfig = field(default_factory=ForecastDataConfig)
    model: ForecastModelConfig = field(default_factory=ForecastModelConfig)
    train: TrainConfig = field(default_factory=_default_train)
