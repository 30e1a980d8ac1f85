"""Encoder-decoder: overfits 20 pairs exactly with each context; padding changes nothing; stepwise decoding equals
the teacher-forced forward; bridge and config errors; the conditioned decoder."""

import pytest
import torch
import torch.nn.functional as F

from unrolled.decode.beam import beam_search, greedy_decode
from unrolled.models.bridge import Bridge
from unrolled.models.conditioned import ConditionedDecoder
from unrolled.models.encoder_decoder import EncoderDecoder, Seq2SeqConfig

PAD, BOS, EOS = 0, 1, 2
LETTERS = "abcdef"


def encode(s):
    return [3 + LETTERS.index(c) for c in s]


def pairs20():
    g = torch.Generator().manual_seed(0)
    out = []
    while len(out) < 20:
        n = int(torch.randint(2, 6, (1,), generator=g))
        s = "".join(LETTERS[int(i)] for i in torch.randint(0, 6, (n,), generator=g))
        if s not in [p[0] for p in out]:
            out.append((s, s[::-1]))
    return out


def batch(pairs):
    src = [encode(s) for s, _ in pairs]
    tgt = [encode(t) for _, t in pairs]
    S, T = max(map(len, src)), max(map(len, tgt)) + 1
    x = torch.tensor([s + [PAD] * (S - len(s)) for s in src])
    lengths = torch.tensor([len(s) for s in src])
    y_in = torch.tensor([[BOS] + t + [PAD] * (T - 1 - len(t)) for t in tgt])
    y_out = torch.tensor([t + [EOS] + [PAD] * (T - 1 - len(t)) for t in tgt])
    return x, lengths, y_in, y_out


@pytest.mark.parametrize("context, attention", [("attention", "general")])
def test_overfits_20_pairs_exactly(context, attention):
    torch.manual_seed(0)
    pairs = pairs20()
    x, lengths, y_in, y_out = batch(pairs)
    cfg = Seq2SeqConfig(embed_dim=16, hidden=32, context=context, attention=attention, dropout=0.0)
    model = EncoderDecoder(9, 9, cfg)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(80):
        logits, _ = model(x, lengths, y_in)
        loss = F.cross_entropy(logits.reshape(-1, 9), y_out.reshape(-1), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    out = greedy_decode(model.step, model.encode(x, lengths), BOS, EOS, len(pairs), max_len=8)
    assert out == [encode(t) for _, t in pairs]
    beams = beam_search(model.step, model.encode(x, lengths), BOS, EOS, len(pairs), beam_size=3, max_len=8)
    assert [b[0].tokens for b in beams] == out


@pytest.mark.parametrize(
    "context, attention", [("attention", "location"), ("every_step", "none"), ("attention", "cosine")]
)
def test_padding_changes_nothing_and_steps_equal_forward(context, attention):
    torch.manual_seed(1)
    model = EncoderDecoder(9, 9, Seq2SeqConfig(embed_dim=8, hidden=8, layers=2, context=context, attention=attention))
    model.eval()
    x, lengths, y_in, _ = batch(pairs20()[:4])
    logits, weights = model(x, lengths, y_in)
    for b in range(4):
        alone, _ = model(x[b : b + 1, : lengths[b]], lengths[b : b + 1], y_in[b : b + 1])
        assert torch.allclose(logits[b], alone[0], atol=1e-5)
    state = model.encode(x, lengths)
    for t in range(y_in.shape[1]):
        step_logits, state = model.step(y_in[:, t], state)
        assert torch.allclose(step_logits, logits[:, t], atol=1e-5)
        if weights is not None:
            assert torch.allclose(state["weights"], weights[:, t], atol=1e-6)
    # free running (teacher_forcing=0) at step 0 still sees <bos>; teacher_forcing=1 through the loop equals forward
    tf1, _ = model.decoder(y_in, model.encode(x, lengths), teacher_forcing=1.0)
    assert torch.allclose(tf1, logits, atol=1e-6)
    fr, _ = model.decoder(
        y_in, model.encode(x, lengths), teacher_forcing=0.0, generator=torch.Generator().manual_seed(0)
    )
    assert torch.allclose(fr[:, 0], logits[:, 0], atol=1e-6)


def test_bridge_maps_directions_and_sizes():
    bridge = Bridge((2, 2), (3, 3), enc_layers=1, dec_layers=2, directions=2)
    h_f, c_f, h_b, c_b = (torch.full((1, 2), v) for v in (1.0, 2.0, 3.0, 4.0))
    out = bridge(((h_f, c_f), (h_b, c_b)))
    lin_h, lin_c = bridge.proj[1][0], bridge.proj[1][1]
    assert torch.allclose(out[1][0], torch.tanh(lin_h(torch.tensor([[1.0, 1.0, 3.0, 3.0]]))))
    assert torch.allclose(out[1][1], lin_c(torch.tensor([[2.0, 2.0, 4.0, 4.0]])))
    assert Bridge((4,), (4,), 2, 2, 1).identity


def test_config_errors():
    with pytest.raises(ValueError, match="model.context must be one of"):
        Seq2SeqConfig(context="sideways")
    with pytest.raises(ValueError, match="model.attention is 'none' but model.context is 'attention'"):
        Seq2SeqConfig(attention="none")
    with pytest.raises(ValueError, match="model.decoder_hidden must equal the encoder width 64"):
        Seq2SeqConfig(hidden=32, attention="dot", decoder_hidden=32)
    with pytest.raises(ValueError, match="model.attention must be one of"):
        Seq2SeqConfig(attention="bahdanau")


@pytest.mark.parametrize("conditioning", ["init", "every_step"])
def test_conditioned_decoder_learns_a_word_per_class(conditioning):
    torch.manual_seed(0)
    words = [encode("abc"), encode("fed"), encode("cab")]
    model = ConditionedDecoder(9, num_classes=3, feature_size=8, embed_dim=8, hidden=16, conditioning=conditioning)
    cls = torch.arange(3)
    y_in = torch.tensor([[BOS] + w for w in words])
    y_out = torch.tensor([w + [EOS] for w in words])
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(80):
        loss = F.cross_entropy(model(cls, y_in).reshape(-1, 9), y_out.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert greedy_decode(model.step, model.start(cls), BOS, EOS, 3, max_len=6) == words
