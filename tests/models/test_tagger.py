"""SequenceTagger: overfits tiny data (softmax and CRF, with characters), padding changes nothing, pretrained
vectors, config and batch errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from unrolled.models.tagger import SequenceTagger, TagBatch, TaggerConfig

# word ids 1..6, tags: 0 = O, 1 = B-X, 2 = I-X; the tag depends on the neighbours (needs both directions)
WORDS = [[1, 2, 3, 4], [2, 3, 1], [5, 3, 6, 2, 1], [4, 4]]
TAGS = [[0, 1, 2, 0], [1, 2, 0], [0, 1, 2, 2, 0], [0, 0]]
CHARS = [[[w, w + 1] for w in s] for s in WORDS]  # two characters per word


def _train(tagger: SequenceTagger, batch: TagBatch, steps: int) -> float:
    opt = torch.optim.Adam(tagger.parameters(), lr=0.05)
    tagger.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = tagger(batch)
        loss.backward()
        opt.step()
    tagger.eval()
    return loss.item()


@pytest.mark.parametrize(("crf", "chars"), [(False, False), (True, False), (True, True), (False, True)])
def test_overfits_tiny_sentences(crf: bool, chars: bool) -> None:
    torch.manual_seed(0)
    config = TaggerConfig(embed_dim=8, hidden=8, dropout=0.0, crf=crf, char_encoder=chars, char_hidden=4)
    tagger = SequenceTagger(7, 3, config, num_chars=8 if chars else None)
    batch = TagBatch.collate(WORDS, TAGS, CHARS if chars else None)
    loss = _train(tagger, batch, 60)
    assert loss < 0.1
    assert tagger.decode(batch) == TAGS


def test_softmax_loss_by_hand_and_padding_changes_nothing() -> None:
    torch.manual_seed(1)
    tagger = SequenceTagger(7, 3, TaggerConfig(embed_dim=4, hidden=5, char_encoder=True, char_hidden=3), num_chars=8)
    tagger.eval()
    batch = TagBatch.collate(WORDS, TAGS, CHARS)
    scores = tagger.emissions(batch)
    for k in range(len(WORDS)):
        alone = tagger.emissions(TagBatch.collate([WORDS[k]], [TAGS[k]], [CHARS[k]]))
        assert torch.allclose(scores[k, : len(WORDS[k])], alone[0], atol=1e-6)
    flat = torch.cat([scores[k, : len(w)] for k, w in enumerate(WORDS)])
    want = F.cross_entropy(flat, torch.tensor([t for s in TAGS for t in s]))
    assert torch.allclose(tagger(batch), want)


def test_crf_loss_is_token_mean_nll_and_decode_is_viterbi() -> None:
    torch.manual_seed(2)
    tagger = SequenceTagger(7, 3, TaggerConfig(embed_dim=4, hidden=5, crf=True))
    tagger.eval()
    batch = TagBatch.collate(WORDS, TAGS)
    scores = tagger.emissions(batch)
    nll = tagger.crf(scores, batch.tags, batch.lengths, reduction="sum") / sum(map(len, WORDS))
    assert torch.allclose(tagger(batch), nll)
    paths, _ = tagger.crf.viterbi(scores, batch.lengths)
    assert tagger.decode(batch) == [paths[k, : len(w)].tolist() for k, w in enumerate(WORDS)]


def test_constraints_respected_when_decoding() -> None:
    # I-X (2) never after O (0) and never first
    allowed = [[True, True, False], [True, True, True], [True, True, True]]
    torch.manual_seed(3)
    tagger = SequenceTagger(
        7, 3, TaggerConfig(embed_dim=4, hidden=5, crf=True), allowed=allowed, allowed_start=[True, True, False]
    )
    with torch.no_grad():
        tagger.output.bias.copy_(torch.tensor([0.0, -5.0, 5.0]))  # emissions favour I-X everywhere
    tagger.eval()
    for path in tagger.decode(TagBatch.collate(WORDS)):
        assert path[0] != 2 and all(not (a == 0 and b == 2) for a, b in zip(path, path[1:], strict=False))


def test_pretrained_vectors_and_freezing() -> None:
    vectors = torch.randn(7, 4)
    tagger = SequenceTagger(7, 3, TaggerConfig(embed_dim=4, hidden=4, freeze_embeddings=True), pretrained=vectors)
    assert torch.equal(tagger.embedding.weight[1:], vectors[1:])
    assert torch.equal(tagger.embedding.weight[0], torch.zeros(4))  # padding row
    _train(tagger, TagBatch.collate(WORDS, TAGS), 2)
    assert torch.equal(tagger.embedding.weight[1:], vectors[1:])
    tuned = SequenceTagger(7, 3, TaggerConfig(embed_dim=4, hidden=4), pretrained=vectors)
    _train(tuned, TagBatch.collate(WORDS, TAGS), 2)
    assert not torch.equal(tuned.embedding.weight[1:], vectors[1:])


def test_unidirectional_any_cell() -> None:
    torch.manual_seed(4)
    tagger = SequenceTagger(7, 3, TaggerConfig(cell="gru", embed_dim=4, hidden=4, bidirectional=False, layers=2))
    tagger.eval()
    batch = TagBatch.collate(WORDS, TAGS)
    # left to right: the scores of a prefix do not depend on what follows
    prefix = tagger.emissions(TagBatch.collate([WORDS[2][:2]]))
    assert torch.allclose(tagger.emissions(batch)[2, :2], prefix[0], atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cell": "transformer"}, "model.cell must be one of"),
        ({"hidden": 0}, "model.hidden must be a positive integer"),
        ({"dropout": 1.0}, "model.dropout must be in \\[0, 1\\)"),
        ({"crf": "yes"}, "model.crf must be true or false"),
        ({"cell_options": []}, "model.cell_options must be a table"),
    ],
)
def test_config_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TaggerConfig(**kwargs)


def test_model_and_batch_errors() -> None:
    config = TaggerConfig(embed_dim=4, hidden=4)
    with pytest.raises(ValueError, match="pretrained vectors of shape \\(V, E\\) = \\(7, 4\\), got \\(7, 5\\)"):
        SequenceTagger(7, 3, config, pretrained=torch.zeros(7, 5))
    with pytest.raises(ValueError, match="num_tags to be a positive integer"):
        SequenceTagger(7, 0, config)
    with pytest.raises(ValueError, match="char_encoder expected num_chars >= 2"):
        SequenceTagger(7, 3, TaggerConfig(char_encoder=True))
    tagger = SequenceTagger(7, 3, config)
    with pytest.raises(ValueError, match="expected a batch with tags"):
        tagger(TagBatch.collate(WORDS))
    with pytest.raises(TypeError, match="expected a TagBatch"):
        tagger(WORDS)
    with_chars = SequenceTagger(7, 3, TaggerConfig(embed_dim=4, hidden=4, char_encoder=True), num_chars=8)
    with pytest.raises(ValueError, match="expected a batch with chars"):
        with_chars.emissions(TagBatch.collate(WORDS))
    with pytest.raises(ValueError, match="sentence 2 of the batch is empty"):
        TagBatch.collate([[1], []])
    with pytest.raises(ValueError, match="sentence 1: expected 2 tags"):
        TagBatch.collate([[1, 2]], [[0]])
    with pytest.raises(ValueError, match="sentence 1, word 2 has no characters"):
        TagBatch.collate([[1, 2]], None, [[[1], []]])
    with pytest.raises(ValueError, match="at least one sentence"):
        TagBatch.collate([])
