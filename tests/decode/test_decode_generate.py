import math

import pytest
import torch

from unrolled.decode import DecodeConfig, generate

V = 11


class TinyRNN:
    """A random Elman-style model: h' = tanh(E[x] + h R), logits = h' U."""

    def __init__(self, seed: int = 0, hidden: int = 8) -> None:
        g = torch.Generator().manual_seed(seed)
        self.E = torch.randn(V, hidden, generator=g, dtype=torch.float64)
        self.R = torch.randn(hidden, hidden, generator=g, dtype=torch.float64) * 0.5
        self.U = torch.randn(hidden, V, generator=g, dtype=torch.float64) * 3
        self.calls = 0

    def step(self, tokens, state):
        self.calls += 1
        h = torch.zeros(tokens.shape[0], self.E.shape[1], dtype=torch.float64) if state is None else state
        h = torch.tanh(self.E[tokens] + h @ self.R)
        return h @ self.U, h


def manual_greedy(model: TinyRNN, prime: torch.Tensor, n: int) -> torch.Tensor:
    state = None
    for t in range(prime.shape[1]):
        logits, state = model.step(prime[:, t], state)
    out = []
    for _ in range(n):
        tok = logits.argmax(-1)
        out.append(tok)
        logits, state = model.step(tok, state)
    return torch.stack(out, 1)


def fixed_step(logits_row: torch.Tensor):
    def step(tokens, state):
        return logits_row.expand(tokens.shape[0], -1), state

    return step


@pytest.mark.parametrize("temperature", [0.0, 1e-6])
def test_temperature_to_zero_equals_greedy(temperature):
    model = TinyRNN()
    prime = torch.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9], [0, 0, 10]])
    expected = manual_greedy(TinyRNN(), prime, 15)
    out = generate(model, prime, 15, temperature=temperature, seed=1)
    assert torch.equal(out, expected)
    assert len(set(expected.flatten().tolist())) > 2  # the chain is not trivially constant


def test_greedy_strategy_equals_manual():
    prime = torch.tensor([[3, 1]])
    out = generate(TinyRNN(), prime, 10, strategy="greedy")
    assert torch.equal(out, manual_greedy(TinyRNN(), prime, 10))


def test_top_k_never_leaves_the_k_best():
    logits = torch.randn(20, generator=torch.Generator().manual_seed(5))
    top = set(logits.topk(5).indices.tolist())
    out = generate(fixed_step(logits), [0], 20, top_k=5, batch=300, seed=0)
    assert set(out.flatten().tolist()) == top  # inside the top 5, and each of them reachable


def test_top_p_never_emits_excluded_tokens():
    logits = torch.tensor([0.05, 0.5, 0.15, 0.3]).log()
    out = generate(fixed_step(logits), [0], 10, top_p=0.75, batch=500, seed=0)
    assert set(out.flatten().tolist()) == {1, 3}
    out = generate(fixed_step(logits), [0], 10, top_p=1e-3, batch=50, seed=0)
    assert set(out.flatten().tolist()) == {1}  # the argmax always survives


def test_top_k_and_top_p_combined_with_temperature():
    logits = torch.tensor([0.5, 0.3, 0.2]).log()
    out = generate(fixed_step(logits), [0], 5, temperature=0.1, top_p=0.7, batch=200, seed=0)
    assert set(out.flatten().tolist()) == {0}
    out = generate(fixed_step(logits), [0], 5, temperature=3.0, top_k=2, batch=200, seed=0)
    assert set(out.flatten().tolist()) == {0, 1}


def test_seed_reproducible_and_distinct():
    step = fixed_step(torch.zeros(50))
    a = generate(step, [1], 30, seed=7)
    b = generate(step, [1], 30, seed=7)
    c = generate(step, [1], 30, seed=8)
    assert a == b
    assert a != c
    d = generate(step, [1], 30, generator=torch.Generator().manual_seed(7))
    assert d == a


def test_global_rng_untouched():
    before = torch.get_rng_state()
    generate(fixed_step(torch.zeros(10)), [1], 20, seed=3)
    generate(fixed_step(torch.zeros(10)), [1], 20)  # unseeded: a local nondeterministic generator
    assert torch.equal(torch.get_rng_state(), before)


def test_sampling_frequencies_match_softmax_over_temperature():
    logits = torch.tensor([1.0, 0.2, -0.5], dtype=torch.float64)
    n = 30000
    out = generate(fixed_step(logits), [0], 1, temperature=0.7, batch=n, seed=11)
    counts = torch.bincount(out.flatten(), minlength=3).double()

    def chi2(p):
        expected = n * p
        return float(((counts - expected) ** 2 / expected).sum())

    # df = 2: P(chi2 > 25) ~ 4e-6 under the right distribution
    assert chi2((logits / 0.7).softmax(-1)) < 25
    assert chi2(logits.softmax(-1)) > 100  # the bound is tight enough to tell T=0.7 from T=1


def eos_model(eos: int):
    """Row r emits token r at steps before r and eos at step r (greedy)."""

    def step(tokens, state):
        t = 0 if state is None else state + 1
        logits = torch.zeros(tokens.shape[0], V)
        for r in range(tokens.shape[0]):
            logits[r, eos if t >= r else r] = 10.0
        step.calls += 1
        return logits, t

    step.calls = 0
    return step


def test_stop_at_eos_pads_finished_rows_and_stops_early():
    step = eos_model(eos=9)
    # priming consumes 1 token (t=0); generation step i sees t=i
    out = generate(step, torch.tensor([[0], [0], [0]]), 10, temperature=0, eos_id=9)
    assert out.tolist() == [[9, 9, 9], [1, 9, 9], [2, 2, 9]]
    assert step.calls == 3  # 1 prime + 2 feeds; nothing after the last eos
    out = generate(eos_model(9), torch.tensor([[0], [0], [0]]), 10, temperature=0, eos_id=9, pad_id=0)
    assert out.tolist() == [[9, 0, 0], [1, 9, 0], [2, 2, 9]]


def test_stop_at_eos_list_output():
    def step(tokens, state):
        t = 0 if state is None else state + 1
        logits = torch.zeros(1, V)
        logits[0, 4 if t == 3 else 1] = 1.0
        return logits, t

    assert generate(step, [0], 10, temperature=0, eos_id=4) == [1, 1, 1, 4]
    assert generate(step, [0], 10, temperature=0) == [1, 1, 1, 4, 1, 1, 1, 1, 1, 1]
    assert generate(step, [0], 0) == []


class Primed(TinyRNN):
    def __init__(self):
        super().__init__()
        self.prime_calls = 0

    def prime(self, tokens, state):
        self.prime_calls += 1
        for t in range(tokens.shape[1]):
            logits, state = TinyRNN.step(self, tokens[:, t], state)
        return logits, state


def test_prime_method_used_and_matches_stepwise():
    model = Primed()
    out = generate(model, [1, 2, 3, 4], 6, temperature=0)
    assert model.prime_calls == 1
    assert out == generate(TinyRNN().step, [1, 2, 3, 4], 6, temperature=0)
    m2 = TinyRNN()
    out2 = generate(m2.step, [1, 2, 3, 4], 6, temperature=0, prime=Primed().prime)
    assert out2 == out and m2.calls == 5  # prompt went through `prime`; step ran only for feedback


def test_state_is_passed_through():
    seen = []

    def step(tokens, state):
        seen.append(state)
        return torch.zeros(tokens.shape[0], 3), state

    generate(step, [0], 2, state="S0", seed=0)
    assert seen == ["S0", "S0"]


def test_bos_starts_empty_prompt():
    fed = []

    def step(tokens, state):
        fed.append(tokens.tolist())
        return torch.zeros(tokens.shape[0], 3), state

    out = generate(step, [], 2, bos_id=2, batch=2, seed=0)
    assert fed[0] == [2, 2]
    assert out.shape == (2, 2)


def test_batch_from_shared_prompt_rows_differ():
    out = generate(fixed_step(torch.zeros(30)), torch.tensor([1, 2]), 10, batch=4, seed=0)
    assert out.shape == (4, 10)
    assert len({tuple(r) for r in out.tolist()}) == 4


def test_decode_config_valid():
    cfg = DecodeConfig(max_new_tokens=3, temperature=0.0)
    assert cfg.effective_strategy == "greedy"
    assert DecodeConfig(max_new_tokens=3).effective_strategy == "sample"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_new_tokens": -1}, "expected max_new_tokens to be an int >= 0, got -1"),
        ({"max_new_tokens": 2.0}, "expected max_new_tokens to be an int >= 0, got 2.0"),
        ({"strategy": "beam"}, r"expected strategy to be one of \['greedy', 'sample'\], got 'beam'"),
        ({"temperature": -0.1}, "expected temperature to be a finite number >= 0, got -0.1"),
        ({"temperature": math.nan}, "expected temperature to be a finite number >= 0, got nan"),
        ({"top_k": 0}, "expected top_k to be None or an int >= 1, got 0"),
        ({"top_p": 0.0}, r"expected top_p to be None or a number with 0 < top_p <= 1, got 0.0"),
        ({"top_p": 1.01}, r"0 < top_p <= 1, got 1.01"),
        ({"eos_id": -1}, "expected eos_id to be None or an int >= 0, got -1"),
        ({"bos_id": "a"}, "expected bos_id to be None or an int >= 0, got 'a'"),
        ({"seed": 1.5}, "expected seed to be None or an int >= 0, got 1.5"),
        ({"batch": 0}, "expected batch to be an int >= 1, got 0"),
    ],
)
def test_decode_config_errors(kwargs, match):
    args = {"max_new_tokens": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        DecodeConfig(**args)
    with pytest.raises(ValueError, match=match):
        generate(fixed_step(torch.zeros(3)), [0], **args)


def test_generate_errors():
    step = fixed_step(torch.zeros(3))
    with pytest.raises(ValueError, match="expected a non-empty prime_ids, or a bos_id"):
        generate(step, [], 3)
    with pytest.raises(ValueError, match="expected at most one of seed and generator"):
        generate(step, [0], 3, seed=1, generator=torch.Generator())
    with pytest.raises(TypeError, match="expected generator to be a torch.Generator, got int"):
        generate(step, [0], 3, generator=3)
    with pytest.raises(TypeError, match="expected prime_ids to be a list of ints or a LongTensor, got str"):
        generate(step, "abc", 3)
    with pytest.raises(TypeError, match="expected prime_ids to be a list of int token ids"):
        generate(step, [0.5], 3)
    with pytest.raises(TypeError, match="expected prime_ids to hold integer token ids, got dtype"):
        generate(step, torch.zeros(3), 3)
    with pytest.raises(ValueError, match=r"expected prime_ids to be 1-D \(T,\) or 2-D \(B, T\), got shape"):
        generate(step, torch.zeros(1, 1, 1, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="expected batch=1 or batch equal to the 2 prime_ids rows, got 3"):
        generate(step, torch.zeros(2, 1, dtype=torch.long), 3, batch=3)
    with pytest.raises(ValueError, match="expected token ids >= 0 in prime_ids, got -2"):
        generate(step, [1, -2], 3)
    with pytest.raises(TypeError, match="expected step to be a function step"):
        generate(42, [0], 3)
    with pytest.raises(TypeError, match="expected prime to be callable or None, got int"):
        generate(step, [0], 3, prime=5)

    def bad(tokens, state):
        return torch.zeros(3), state

    with pytest.raises(ValueError, match=r"expected the model step to return logits of shape \(B=1, V\)"):
        generate(bad, [0], 3)


def test_decode_never_imports_models_tasks_or_cli():
    import ast
    import pathlib

    import unrolled.decode

    forbidden = ("unrolled.models", "unrolled.tasks", "unrolled.cli")
    for path in pathlib.Path(unrolled.decode.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.startswith(forbidden) for n in names), (path.name, names)


def test_prompt_moved_to_module_device():
    class Mod(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(3, device="meta"))  # stands in for a GPU
            self.devices = []

        def step(self, tokens, state):
            self.devices.append(tokens.device.type)
            return torch.zeros(tokens.shape[0], 3), state

    m = Mod()
    assert generate(m, [0, 1], 2, temperature=0) == [0, 0]
    assert m.devices == ["meta", "meta", "cpu"]  # the prompt went to the module's device
    m.devices.clear()
    generate(m, [0], 1, temperature=0, device="cpu")
    assert m.devices == ["cpu"]


def test_decode_config_fields_are_generate_keywords():
    import dataclasses

    cfg = DecodeConfig(max_new_tokens=6, temperature=0.8, top_k=3, seed=5)
    step = fixed_step(torch.arange(8.0))
    assert generate(step, [0], **dataclasses.asdict(cfg)) == generate(step, [0], 6, temperature=0.8, top_k=3, seed=5)


def test_suppressed_ids_are_never_generated_and_eos_cannot_be_suppressed():
    table = torch.tensor([[0.0, 9.0, 8.0, 1.0]]).expand(4, 4)  # id 1 always best, then 2
    step = lambda tok, state: (table[tok], state)  # noqa: E731
    assert generate(step, [0], 5, temperature=0) == [1] * 5
    assert generate(step, [0], 5, temperature=0, suppress_ids=[1]) == [2] * 5
    assert set(generate(step, [0], 50, seed=0, suppress_ids=[1, 2])) <= {0, 3}
    with pytest.raises(ValueError, match="expected eos_id=1 not to be among suppress_ids"):
        generate(step, [0], 5, eos_id=1, suppress_ids=[1])
