"""Names by language: Elman, LSTM and GRU classifiers against a character n-gram logistic regression.

The data are the 20 files of ``names/`` (one name per line, the class is the file; 19,950 names, very imbalanced:
Russian 9,408, Vietnamese 72). 10% of every class is held out with a fixed seed (``stratified_split``); the same
split serves every model. The recurrent models read characters (``SequenceClassifier``: embedding -> one layer
-> last state -> softmax), trained with Adam on length-bucketed batches; the peer is scikit-learn's logistic
regression on TF-IDF character 1-3-grams (``char_wb``), trained in the same process on the same split. Accuracy and
macro F1 (``unrolled.metrics.classification``, equal to scikit-learn's) are printed per model, with wall times.

    python benchmarks/names_classification.py                      # default: a few minutes on 2 cores
    python benchmarks/names_classification.py --epochs 20 --hidden 256 --class-weights balanced
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import machine, set_threads  # noqa: E402
from unrolled.data import LengthBucketSampler, pad_batch  # noqa: E402
from unrolled.data.labelled import read_class_folder, stratified_split  # noqa: E402
from unrolled.metrics.classification import accuracy, f1_scores  # noqa: E402
from unrolled.models.classifier import ClassifierConfig, SequenceClassifier, balanced_class_weights  # noqa: E402
from unrolled.text import CharTokenizer, Vocabulary  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "names"


def peer_logistic_regression(train, test, classes) -> tuple[float, float, float]:
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise SystemExit("scikit-learn is needed for the peer (pip install 'unrolled[bench]')") from None
    start = time.perf_counter()
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), lowercase=True)
    x_train, x_test = vec.fit_transform(train.texts), vec.transform(test.texts)
    index = {c: i for i, c in enumerate(classes)}
    y_train = [index[lab[0]] for lab in train.labels]
    y_test = [index[lab[0]] for lab in test.labels]
    clf = LogisticRegression(max_iter=2000, C=10.0).fit(x_train, y_train)
    pred = clf.predict(x_test)
    return accuracy(y_test, pred), f1_scores(y_test, pred, len(classes))["macro"], time.perf_counter() - start


def train_rnn(cell: str, args, train_ids, y_train, test_ids, y_test, vocab, C) -> tuple[float, float, float]:
    torch.manual_seed(args.seed)
    cfg = ClassifierConfig(cell=cell, embed_dim=args.embed, hidden=args.hidden, pooling=args.pooling)
    weights = balanced_class_weights(y_train, C) if args.class_weights == "balanced" else None
    model = SequenceClassifier(C, vocab_size=len(vocab), config=cfg, pad_id=vocab.pad_id, class_weights=weights)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sampler = LengthBucketSampler([len(s) for s in train_ids], args.batch_size, seed=args.seed)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        sampler.set_epoch(epoch)
        for idx in sampler:
            x, lengths = pad_batch([train_ids[i] for i in idx], vocab.pad_id)
            opt.zero_grad()
            loss = model.loss(model(x, lengths), y_train[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
        print(f"  {cell} epoch {epoch + 1}: last batch loss {loss.item():.3f}, {time.perf_counter() - start:.0f} s",
              file=sys.stderr, flush=True)  # fmt: skip
    model.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(test_ids), 512):
            x, lengths = pad_batch(test_ids[i : i + 512], vocab.pad_id)
            preds.append(model.predict(model(x, lengths)))
    pred = torch.cat(preds)
    seconds = time.perf_counter() - start
    return accuracy(y_test, pred), f1_scores(y_test, pred, C)["macro"], seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--cells", default="elman,lstm,gru")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--embed", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.003)
    ap.add_argument("--pooling", default="last")
    ap.add_argument("--class-weights", choices=("none", "balanced"), default="none")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    set_threads(args.threads)

    data = read_class_folder(args.data)
    train, test = stratified_split(data, 0.1, seed=args.seed)
    classes = data.classes
    print(f"# {machine()}")
    print(f"# {len(data)} names, {len(classes)} languages; train {len(train)}, held out {len(test)} (10% per class)")

    tok = CharTokenizer()
    vocab = Vocabulary.build(itertools.chain.from_iterable(tok.tokenize(t) for t in train.texts))
    index = {c: i for i, c in enumerate(classes)}
    enc = [torch.tensor(vocab.encode(tok.tokenize(t))) for t in train.texts]
    test_enc = [torch.tensor(vocab.encode(tok.tokenize(t))) for t in test.texts]
    y_train = torch.tensor([index[lab[0]] for lab in train.labels])
    y_test = torch.tensor([index[lab[0]] for lab in test.labels])

    rows = [("char 1-3-gram logistic regression (sklearn)", *peer_logistic_regression(train, test, classes))]
    print(f"{rows[0][0]:48} accuracy {rows[0][1]:.4f}  macro F1 {rows[0][2]:.4f}  {rows[0][3]:6.1f} s", flush=True)
    for cell in args.cells.split(","):
        acc, f1, secs = train_rnn(cell, args, enc, y_train, test_enc, y_test, vocab, len(classes))
        name = f"{cell} (E={args.embed}, H={args.hidden}, {args.epochs} epochs, {args.pooling})"
        rows.append((name, acc, f1, secs))
        print(f"{name:48} accuracy {acc:.4f}  macro F1 {f1:.4f}  {secs:6.1f} s", flush=True)
    peer_acc, peer_f1 = rows[0][1], rows[0][2]
    for name, acc, f1, _ in rows[1:]:
        print(f"ratio to the peer: {name.split()[0]:6} accuracy {acc / peer_acc:.3f}x  macro F1 {f1 / peer_f1:.3f}x")


if __name__ == "__main__":
    main()
