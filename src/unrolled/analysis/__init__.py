"""Diagnostics of recurrent models: gradient flow through time, spectra of recurrent matrices and Jacobians."""
