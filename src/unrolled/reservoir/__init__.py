"""Echo state networks (Jaeger 2001): fixed random recurrences and trained linear readouts."""

from unrolled.reservoir.classify import ESNClassifier
from unrolled.reservoir.compiled_loop import ReservoirLoop
from unrolled.reservoir.esn import ESN
from unrolled.reservoir.readout import RidgeReadout, RLSReadout, ridge_solve
from unrolled.reservoir.reservoir import Reservoir, ReservoirConfig, scale_to_spectral_radius, spectral_radius
from unrolled.reservoir.search import SearchSpace, Trial, search

__all__ = [
    "ESN",
    "ESNClassifier",
    "RLSReadout",
    "Reservoir",
    "ReservoirConfig",
    "ReservoirLoop",
    "RidgeReadout",
    "SearchSpace",
    "Trial",
    "ridge_solve",
    "scale_to_spectral_radius",
    "search",
    "spectral_radius",
]
