"""Embedding dropout: whole words dropped (every occurrence), inverted scaling, identity in evaluation."""

import torch
from torch import nn

from unrolled.layers.embedding_dropout import embedding_dropout


def test_drops_whole_words():
    torch.manual_seed(0)
    emb = nn.Embedding(50, 4)
    ids = torch.arange(50).repeat(3, 1)  # (3, 50): every word three times
    out = embedding_dropout(emb, ids, 0.5, training=True)  # (3, 50, 4)
    dropped = (out == 0).all(-1)  # (3, 50)
    assert torch.equal(dropped[0], dropped[1]) and torch.equal(dropped[0], dropped[2])  # per word, not per place
    assert 5 < int(dropped[0].sum()) < 45
    kept = ~dropped[0]
    torch.testing.assert_close(out[0, kept], 2 * emb.weight[kept])
    assert torch.equal(embedding_dropout(emb, ids, 0.5, training=False), emb(ids))
