"""Shared pieces of the cell tests: seeded float64 tensors and cells with every parameter off its default."""

import torch

TIGHT = {"rtol": 1e-12, "atol": 1e-13}


def rand(seed, *shape):
    """A float64 standard-normal tensor from its own generator (the global one is untouched)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def randomize(cell, seed=0, scale=0.6):
    """Give every parameter (LayerNorm gains and shifts included) random, non-default values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return cell
