"""The Keras course example in Keras 3 (torch backend) and in unrolled: same data, same epochs; time and accuracy.

Both models are Embedding(V, 16) -> SimpleRNN(8) (our Elman cell) -> Dense(1, sigmoid), trained with Adam
(lr 0.01) on binary cross-entropy, full batch (the four sentences, one step per epoch), then asked for the four
probabilities. The token ids are the same (our tokenizer and vocabulary); Keras gets them front-padded (its
convention, so that its last step is a real word), ours gets lengths. Each repeat uses a new seed for both;
medians over repeats are printed, and the ratio of the training times per repeat.

    python benchmarks/keras_course.py                    # 5 repeats of 100 epochs
    python benchmarks/keras_course.py --epochs 300 --repeats 11
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from _timing import machine, set_threads  # noqa: E402
from keras_course import LABELS, SENTENCES  # noqa: E402
from unrolled.data import pad_batch  # noqa: E402
from unrolled.models.classifier import ClassifierConfig, SequenceClassifier  # noqa: E402
from unrolled.text import Vocabulary, WordTokenizer  # noqa: E402


def data():
    tokens = [WordTokenizer().tokenize(s.lower()) for s in SENTENCES]
    vocab = Vocabulary.build(t for sent in tokens for t in sent)
    ids = [vocab.encode(t) for t in tokens]
    return vocab, ids, np.array(LABELS)


def run_keras(vocab, ids, y, epochs: int, seed: int) -> tuple[float, float, float]:
    try:
        import keras
    except ImportError:
        raise SystemExit("keras is needed for the peer (pip install 'unrolled[bench]')") from None
    keras.utils.set_random_seed(seed)
    x = keras.utils.pad_sequences(ids, padding="pre", value=vocab.pad_id)
    model = keras.Sequential(
        [
            keras.Input(shape=(x.shape[1],)),
            keras.layers.Embedding(len(vocab), 16),
            keras.layers.SimpleRNN(8),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, batch_size=len(y), verbose=0, shuffle=False)
    train = time.perf_counter() - start
    start = time.perf_counter()
    p = model.predict(x, verbose=0)[:, 0]
    predict = time.perf_counter() - start
    return train, predict, float(((p > 0.5).astype(int) == y).mean())


def run_ours(vocab, ids, y, epochs: int, seed: int) -> tuple[float, float, float]:
    torch.manual_seed(seed)
    x, lengths = pad_batch([torch.tensor(s) for s in ids], vocab.pad_id)
    target = torch.tensor(y)
    config = ClassifierConfig(cell="elman", embed_dim=16, hidden=8, head="binary")
    model = SequenceClassifier(2, vocab_size=len(vocab), config=config, pad_id=vocab.pad_id)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    start = time.perf_counter()
    for _ in range(epochs):
        opt.zero_grad()
        loss = model.loss(model(x, lengths), target)
        loss.backward()
        opt.step()
    train = time.perf_counter() - start
    model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        p = model.probabilities(model(x, lengths))[:, 1]
    predict = time.perf_counter() - start
    return train, predict, float(((p > 0.5).long() == target).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    set_threads(args.threads)
    vocab, ids, y = data()
    print(f"# {machine()}; {len(SENTENCES)} sentences, {args.epochs} epochs, {args.repeats} repeats")
    results: dict[str, list[tuple[float, float, float]]] = {"keras": [], "unrolled": []}
    run_keras(vocab, ids, y, 2, 0)  # warm-up (imports, first-call costs) for both
    run_ours(vocab, ids, y, 2, 0)
    for r in range(args.repeats):
        order = [("keras", run_keras), ("unrolled", run_ours)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            results[name].append(fn(vocab, ids, y, args.epochs, seed=r))
    for name, rows in results.items():
        train = statistics.median(t for t, _, _ in rows)
        pred = statistics.median(p for _, p, _ in rows)
        accs = [a for _, _, a in rows]
        print(
            f"{name:9} train {train:.3f} s ({1000 * train / args.epochs:.2f} ms/epoch)  predict {1000 * pred:.2f} ms"
            f"  accuracy median {statistics.median(accs):.2f} (min {min(accs):.2f}) over {len(rows)} seeds"
        )
    ratio = statistics.median(k[0] / o[0] for k, o in zip(results["keras"], results["unrolled"]))
    print(f"training time keras / unrolled: {ratio:.2f}x (median of per-repeat ratios)")


if __name__ == "__main__":
    main()
