"""Shared test settings: one intra-op thread (tests use tiny models, where threads only add contention)."""

import torch

torch.set_num_threads(1)
