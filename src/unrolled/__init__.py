"""unrolled: recurrent neural networks and sequence modeling on PyTorch."""

__version__ = "0.1.0"
