from collections import namedtuple

import pytest
import torch

from unrolled.state import detach_state, map_state

Pair = namedtuple("Pair", ["h", "c"])


def test_map_state_keeps_structure_and_applies_fn_to_every_tensor():
    h = torch.arange(3.0)
    state = {"layers": [Pair(h, h + 1), None], "extra": (h * 2,)}
    doubled = map_state(lambda t: t * 10, state)
    assert isinstance(doubled, dict) and list(doubled) == ["layers", "extra"]
    assert isinstance(doubled["layers"][0], Pair)
    assert torch.equal(doubled["layers"][0].c, torch.tensor([10.0, 20.0, 30.0]))
    assert doubled["layers"][1] is None
    assert isinstance(doubled["extra"], tuple) and torch.equal(doubled["extra"][0], torch.tensor([0.0, 20.0, 40.0]))
    assert map_state(lambda t: t, None) is None


def test_detach_state_cuts_the_graph_but_keeps_values():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    state = (w * 3, [w + 1])
    detached = detach_state(state)
    assert detached[0].grad_fn is None and not detached[1][0].requires_grad
    assert torch.equal(detached[0], torch.tensor([3.0, 6.0]))
    # values are shared, not copied
    assert detached[0].data_ptr() == state[0].data_ptr()


def test_map_state_rejects_foreign_leaves():
    with pytest.raises(TypeError, match="expected a recurrent state made of tensors.*got str"):
        detach_state((torch.zeros(1), "h"))
