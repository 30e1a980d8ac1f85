import pytest
import torch
from torch import nn

from unrolled.decode import generate
from unrolled.models.fixed_window import FixedWindowLM, windows


def make(direct=True, dropout=0.0, seed=0, **kw):
    torch.manual_seed(seed)
    args = {"vocab_size": 7, "context": 3, "embed_dim": 4, "hidden": 5, **kw}
    return FixedWindowLM(direct=direct, dropout=dropout, **args).double()


@pytest.mark.parametrize("direct", [True, False])
def test_forward_matches_bengio_equation(direct):
    lm = make(direct=direct)
    ids = torch.tensor([[1, 2, 3], [6, 0, 6], [4, 4, 5]])
    C = lm.embedding.weight
    H, d = lm.hidden_proj.weight, lm.hidden_proj.bias
    U, b = lm.output_proj.weight, lm.output_proj.bias
    for row, out in zip(ids, lm(ids)):
        x = torch.cat([C[row[0]], C[row[1]], C[row[2]]])  # oldest first
        y = b + U @ torch.tanh(d + H @ x)
        if direct:
            y = y + lm.direct_proj.weight @ x
        torch.testing.assert_close(out, y, rtol=1e-12, atol=1e-12)
    assert (lm.direct_proj is None) == (not direct)
    n_direct = 3 * 4 * 7 if direct else 0
    assert sum(p.numel() for p in lm.parameters()) == 7 * 4 + (12 * 5 + 5) + (5 * 7 + 7) + n_direct


def test_window_order_matters():
    lm = make()
    a, b = lm(torch.tensor([[1, 2, 3]])), lm(torch.tensor([[3, 2, 1]]))
    assert not torch.allclose(a, b)


def test_windows_padded_values():
    inputs, targets = windows(torch.tensor([5, 6, 7, 8]), 2, pad_id=0)
    assert inputs.tolist() == [[0, 0], [0, 5], [5, 6], [6, 7]]
    assert targets.tolist() == [5, 6, 7, 8]
    inputs, targets = windows(torch.tensor([5, 6]), 3, pad_id=9)
    assert inputs.tolist() == [[9, 9, 9], [9, 9, 5]]
    assert targets.tolist() == [5, 6]


def test_windows_unpadded_matches_loop():
    ids = torch.randint(0, 50, (20,), generator=torch.Generator().manual_seed(0))
    inputs, targets = windows(ids, 4, pad_id=None)
    assert inputs.tolist() == [ids[i - 4 : i].tolist() for i in range(4, 20)]
    assert targets.tolist() == ids[4:].tolist()
    assert inputs.dtype == targets.dtype == torch.long


def test_step_and_prime_agree_with_forward_on_windows():
    lm = make()
    seq = torch.tensor([3, 1, 4, 1, 5])
    inputs, _ = windows(seq, 3, pad_id=lm.pad_id)
    expected = lm(inputs)  # expected[i]: logits for token i given the tokens before it
    state = None
    for t in range(len(seq)):
        logits, state = lm.step(seq[t : t + 1], state)
        if t + 1 < len(seq):
            torch.testing.assert_close(logits[0], expected[t + 1])
    logits_p, state_p = lm.prime(seq[None, :])
    torch.testing.assert_close(logits_p, logits)
    assert torch.equal(state_p, state) and state.tolist() == [[4, 1, 5]]
    short, short_state = lm.prime(torch.tensor([[2]]))
    assert short_state.tolist() == [[0, 0, 2]]
    torch.testing.assert_close(short, lm(torch.tensor([[0, 0, 2]])))


def test_generate_deterministic_and_greedy_matches_manual():
    lm = make().eval()
    a = generate(lm, [1, 2], 12, seed=3, top_k=4)
    b = generate(lm, [1, 2], 12, seed=3, top_k=4)
    assert a == b and len(a) == 12 and all(0 <= t < 7 for t in a)
    window = [lm.pad_id, 1, 2]
    manual = []
    for _ in range(8):
        nxt = int(lm(torch.tensor([window])).argmax())
        manual.append(nxt)
        window = window[1:] + [nxt]
    assert generate(lm, [1, 2], 8, temperature=0) == manual


def test_learns_a_cycle_and_generates_it():
    torch.manual_seed(0)
    lm = FixedWindowLM(vocab_size=5, context=2, embed_dim=8, hidden=16)
    seq = torch.tensor([1, 2, 3, 4] * 10)
    inputs, targets = windows(seq, 2, pad_id=0)
    opt = torch.optim.Adam(lm.parameters(), lr=0.05)
    for _ in range(40):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(lm(inputs), targets)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    lm.eval()
    assert generate(lm, [1], 7, temperature=0) == [2, 3, 4, 1, 2, 3, 4]


def test_dropout_only_in_training():
    lm = make(dropout=0.5)
    ids = torch.tensor([[1, 2, 3]] * 4)
    lm.eval()
    torch.testing.assert_close(lm(ids), make(dropout=0.0)(ids))
    lm.train()
    out = lm(ids)
    assert not torch.allclose(out[0], out[1])


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"vocab_size": 0}, ValueError, "expected vocab_size >= 1, got 0"),
        ({"context": 0}, ValueError, "expected context >= 1, got 0"),
        ({"embed_dim": 2.0}, TypeError, "expected embed_dim to be an int, got float"),
        ({"hidden": 0}, ValueError, "expected hidden >= 1, got 0"),
        ({"direct": 1}, TypeError, "expected direct to be a bool, got int"),
        ({"dropout": 1.0}, ValueError, "expected 0 <= dropout < 1, got 1.0"),
        ({"pad_id": 7}, ValueError, "expected pad_id < vocab_size=7, got 7"),
        ({"pad_id": -1}, ValueError, "expected pad_id >= 0, got -1"),
    ],
)
def test_constructor_errors(kwargs, exc, match):
    args = {"vocab_size": 7, "context": 3, "embed_dim": 4, "hidden": 5, **kwargs}
    with pytest.raises(exc, match=match):
        FixedWindowLM(**args)


def test_input_errors():
    lm = make()
    with pytest.raises(ValueError, match=r"expected context_ids of shape \(B, 3\), got shape \(1, 2\)"):
        lm(torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match=r"expected context_ids to be 2-D, got shape \(3,\)"):
        lm(torch.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="expected context_ids to hold integer token ids, got dtype torch.float32"):
        lm(torch.zeros(1, 3))
    with pytest.raises(TypeError, match="expected tokens to be a torch.Tensor of token ids, got list"):
        lm.step([1])
    with pytest.raises(ValueError, match=r"expected a non-empty prompt of shape \(B, T >= 1\), got T = 0"):
        lm.prime(torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(ValueError, match="expected ids to be 1-D, got shape"):
        windows(torch.zeros(2, 2, dtype=torch.long), 1)
    with pytest.raises(ValueError, match="expected context >= 1, got 0"):
        windows(torch.tensor([1, 2]), 0)
    with pytest.raises(ValueError, match="expected more than context=2 ids when pad_id is None, got 2"):
        windows(torch.tensor([1, 2]), 2, pad_id=None)
