"""The Keras text-classification example every course shows, in a few lines of unrolled.

Keras::

    tokenizer = Tokenizer(); tokenizer.fit_on_texts(sentences)
    x = pad_sequences(tokenizer.texts_to_sequences(sentences))
    model = Sequential([Embedding(vocab, 16), SimpleRNN(8), Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy"); model.fit(x, y, epochs=100); model.predict(x)

unrolled: the same model is ``SequenceClassifier`` with an Elman cell (SimpleRNN), a 16-wide embedding, 8 hidden
units, the last state and one sigmoid output. Padding is explicit (lengths), so the padded steps never reach the
recurrence (Keras pads at the front instead so that the last step is a real word).

    python examples/keras_course.py
"""

from __future__ import annotations

import itertools

import torch

from unrolled.data import pad_batch
from unrolled.models.classifier import ClassifierConfig, SequenceClassifier
from unrolled.text import Vocabulary, WordTokenizer

SENTENCES = ["I love my dog", "I love my cat", "I hate rainy days", "this film was awful"]
LABELS = [1, 1, 0, 0]


def main(epochs: int = 100, seed: int = 0) -> float:
    torch.manual_seed(seed)
    # tokenize and pad
    tokens = [WordTokenizer().tokenize(s.lower()) for s in SENTENCES]
    vocab = Vocabulary.build(itertools.chain.from_iterable(tokens))
    x, lengths = pad_batch([torch.tensor(vocab.encode(t)) for t in tokens], vocab.pad_id)  # (4, T), (4,)
    y = torch.tensor(LABELS)
    # Embedding(16) -> SimpleRNN(8) -> Dense(1, sigmoid)
    config = ClassifierConfig(cell="elman", embed_dim=16, hidden=8, pooling="last", head="binary")
    model = SequenceClassifier(2, vocab_size=len(vocab), config=config, pad_id=vocab.pad_id)
    # train (Adam, binary cross-entropy, full batch)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = model.loss(model(x, lengths), y)
        loss.backward()
        optimizer.step()
    # predict
    model.eval()
    with torch.no_grad():
        p = model.probabilities(model(x, lengths))[:, 1]  # p(label 1)
    for sentence, label, prob in zip(SENTENCES, LABELS, p.tolist()):
        print(f"{sentence!r:24} label {label}  p(1) = {prob:.3f}")
    accuracy = ((p > 0.5).long() == y).float().mean().item()
    print(f"final loss {loss.item():.4f}  accuracy {accuracy:.2f}")
    return accuracy


if __name__ == "__main__":
    main()
