r"""Whether the scan path keeps its projected inputs for a double backward: :func:`double_backward`.

The hand-written first-order backward never reads the projected inputs :math:`\mathrm{xp}` (T, B, G): it reads
the activations the forward saved. Only a double backward (``torch.autograd.grad(..., create_graph=True)``,
e.g. a gradient penalty) needs them, to recompute the forward as a differentiable loop. A forward cannot know
whether its backward will be asked for ``create_graph``, so by default it keeps xp (as torch.nn's layers support
double backward without being asked), and a caller whose backward is first-order says so:
forwards run inside ``with double_backward(False):`` save T·B·G floats less per call, and a ``create_graph``
backward of such a forward raises :class:`DoubleBackwardNotPrepared` with a one-line message naming the fix.
The shared task runner (:meth:`unrolled.tasks.session.RunSession.fit`) trains inside ``double_backward(False)``:
the trainer's backward is first-order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from unrolled.errors import UnrolledError

_KEEP_INPUTS: ContextVar[bool] = ContextVar("unrolled_scan_keep_inputs", default=True)


class DoubleBackwardNotPrepared(UnrolledError, RuntimeError):
    """A ``create_graph`` backward through a scan forward that ran outside :func:`double_backward`."""


@contextmanager
def double_backward(enabled: bool = True) -> Iterator[None]:
    """Scan forwards run inside keep their projected inputs, so that their backward may be differentiated.

    Args:
        enabled: keep them (True, also the default outside any such context) or not (False: first-order
            backward only, T·B·G floats less saved per call).

    Example::

        >>> with double_backward(False):  # a training loop whose backward is first-order
        ...     y, _ = layer(x)
        >>> y.pow(2).sum().backward()
    """
    token = _KEEP_INPUTS.set(bool(enabled))
    try:
        yield
    finally:
        _KEEP_INPUTS.reset(token)


def keeps_inputs() -> bool:
    """True inside :func:`double_backward` (the scan Function then saves xp)."""
    return _KEEP_INPUTS.get()


def not_prepared_error() -> DoubleBackwardNotPrepared:
    return DoubleBackwardNotPrepared(
        "create_graph=True through the scan path needs a forward that kept its projected inputs: "
        "run the forward outside double_backward(False) (or inside double_backward()), "
        "or use Recurrent(..., backend='loop')"
    )
