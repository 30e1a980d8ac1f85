"""Diagnostics of recurrent models: gradient flow through time, spectra of recurrent matrices and Jacobians."""

from unrolled.analysis.capture import StepCapture
from unrolled.analysis.gradient_norms import GradientNormCallback, GradientNormRecorder
from unrolled.analysis.pascanu import PascanuObjective, pascanu_regularizer
from unrolled.analysis.spectral import (
    eigenvalue_power,
    jacobian_spectral_radii,
    recurrent_spectral_radii,
    spectral_radius,
    step_jacobians,
)

__all__ = [
    "GradientNormCallback",
    "GradientNormRecorder",
    "PascanuObjective",
    "StepCapture",
    "eigenvalue_power",
    "jacobian_spectral_radii",
    "pascanu_regularizer",
    "recurrent_spectral_radii",
    "spectral_radius",
    "step_jacobians",
]
