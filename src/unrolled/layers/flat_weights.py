"""Flat weights: the fused path's parameters as views into one buffer per layer, in the layout cuDNN reads.

torch's recurrent kernels take the weights of a call as a list of tensors. cuDNN wants them in one contiguous
buffer; when they are not, it copies them into one at *every* call (its warning: "RNN module weights are not part
of single contiguous chunk of memory ... compacted at every call"), which cost up to 47% of a step on an H200
(issue 14). ``torch.nn.RNNBase.flatten_parameters`` avoids the copy by allocating that buffer once and turning each
parameter into a view of it; this module does the same for the cells of a :class:`~unrolled.layers.Recurrent`
layer that runs torch's kernel.

Layout. :class:`~unrolled.layers.Recurrent` calls the kernel once per layer (one or both directions), and cuDNN
reads a call's buffer from the *start of the storage* the first weight lives in (``try_get_weight_buf`` in
``aten/src/ATen/native/cudnn/RNN.cpp``), so each layer gets its own buffer, its first weight at offset 0. Within
it the weights follow torch.nn.RNNBase's order, per direction: ``weight_ih``, ``weight_hh``, ``bias_ih``,
``bias_hh`` (and ``weight_hr`` with an LSTM projection). On CUDA with cuDNN the buffer and the views are made by
``torch._cudnn_rnn_flatten_weight`` (the call behind ``flatten_parameters``, which may pad or reorder to cuDNN's
liking); elsewhere (CPU, or cuDNN off) by a plain copy into consecutive slices. Either way the storage offsets are
recorded, so "is this layer still flat?" is the same check on every device.

The parameters stay the cells' own ``nn.Parameter`` objects (only their storage moves, as ``param.data = view``),
so names, ``state_dict`` keys and values, optimizer state and weight tying by object are unchanged; in-place
updates (optimizer steps, ``load_state_dict``'s ``copy_``) keep the views. A layer whose weights are not all leaf
parameters (e.g. :func:`~unrolled.layers.weight_drop.weight_drop`'s masked matrix in training), or whose
weights alias each other, is left as it is: the kernel then reads the separate tensors, which is slower on cuDNN
but numerically the same.

Example::

    >>> from unrolled.layers import Recurrent
    >>> rnn = Recurrent("lstm", 8, 16, bidirectional=True)
    >>> rnn.flat_layers()                              # the weights of layer 0 are views into one buffer
    [True]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from unrolled.cells.base import RecurrentCell
from unrolled.layers.fused import common_twin, kernel_weights

#: storage offsets (in elements) of a layer's weights in its buffer, in kernel order; None: not flat
Offsets = tuple[int, ...] | None


def is_flat(weights: Sequence[Tensor], offsets: Offsets) -> bool:
    """Whether ``weights`` are still contiguous views into one storage at the ``offsets`` recorded when the layer
    was flattened (False after ``.to()`` made separate copies, or after a parameter was replaced)."""
    if offsets is None or len(offsets) != len(weights):
        return False
    first = weights[0]
    storage = first.untyped_storage().data_ptr()
    return all(
        w.storage_offset() == off
        and w.dtype == first.dtype
        and w.is_contiguous()
        and w.untyped_storage().data_ptr() == storage
        for w, off in zip(weights, offsets)
    )


def _flattenable(weights: Sequence[Tensor]) -> bool:
    """Only the layer's own leaf parameters, of one dtype and device, none aliasing another (as in
    ``nn.RNNBase.flatten_parameters``: an aliased weight cannot be two views at once)."""
    first = weights[0]
    return (
        all(
            isinstance(w, nn.Parameter)
            and w.is_leaf
            and w.layout == torch.strided
            and w.dtype == first.dtype
            and w.device == first.device
            for w in weights
        )
        and first.device.type != "meta"
        and len({w.data_ptr() for w in weights}) == len(weights)
    )


def cudnn_usable(weights: Sequence[Tensor]) -> bool:
    """Whether cuDNN will run (and so should lay out) these weights: CUDA tensors cuDNN accepts."""
    return (
        weights[0].is_cuda
        and torch._use_cudnn_rnn_flatten_weight()
        and all(torch.backends.cudnn.is_acceptable(w) for w in weights)
    )


def _flatten_cudnn(cells: Sequence[RecurrentCell], weights: list[Tensor], mode: str) -> None:
    import torch.backends.cudnn.rnn as cudnn_rnn  # its mode table needs a CUDA build

    first = cells[0]
    per_direction = len(weights) // len(cells)
    with torch.cuda.device_of(weights[0]), torch.no_grad():
        # allocates the buffer in cuDNN's layout, copies the weights in and sets each to a view of it (in place)
        torch._cudnn_rnn_flatten_weight(
            weights,
            per_direction,
            first.input_size,
            cudnn_rnn.get_cudnn_mode(mode),
            first.hidden_size,
            getattr(first, "proj_size", 0),
            1,  # one layer per kernel call (Recurrent's loop), so one buffer per layer
            False,  # batch_first: the fused path hands the kernel (T, B, I)
            len(cells) == 2,
        )


def _flatten_plain(weights: list[Tensor]) -> None:
    first = weights[0]
    with torch.no_grad():
        buffer = torch.empty(sum(w.numel() for w in weights), dtype=first.dtype, device=first.device)
        views = buffer.split([w.numel() for w in weights])  # consecutive slices, in kernel order
        for w, v in zip(weights, views):
            v.copy_(w.reshape(-1))
            w.data = v.view(w.shape)  # same Parameter object, storage moved; no version bump, no graph change


def flatten_layer(cells: Sequence[RecurrentCell]) -> Offsets:
    """Make the weights torch's kernel reads for one layer (``cells``: its one or two directions) views into one
    buffer; returns their storage offsets, or None when the layer cannot be flattened (not one torch mode, or
    weights that are not plain leaf parameters, see the module's docstring). Values are unchanged."""
    twin = common_twin(cells)
    if twin is None:
        return None
    weights = kernel_weights(cells)
    if not _flattenable(weights):
        return None
    # under torch.inference_mode a new buffer would be an inference tensor, unusable for training later
    with torch.inference_mode(False):
        if cudnn_usable(weights):
            _flatten_cudnn(cells, weights, twin.mode)
        else:
            _flatten_plain(weights)
    offsets = tuple(w.storage_offset() for w in weights)
    return offsets if is_flat(weights, offsets) else None
