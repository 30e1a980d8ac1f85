"""An LSTM forecaster against AR on sunspots (statsmodels) and Mackey-Glass, and the drift of recursive against
direct multi-step forecasting as the horizon grows.

Protocol: each series is split in time 70/10/20 (train/valid/test), standardised with the training statistics.
AR: order by BIC (up to 30) on the training part, OLS fit, forecasts from every test origin with the full history.
LSTM (recursive: one-step model fed its predictions; direct: encoder-decoder emitting all H steps): hidden 32,
window 48, Adam 3e-3, trained on the training windows for ``--epochs`` passes (the best of them on validation).
Scores on the original scale: RMSE and NRMSE (RMSE / std of the actual test values) over all test origins and
steps, and the RMSE at each horizon step (the drift curve). ``--plot DIR`` writes the drift curves as PNGs.

    python benchmarks/forecasting.py [--horizon 12] [--epochs 15] [--full] [--plot DIR]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from unrolled.data.series import mackey_glass
from unrolled.data.windows import StandardScaler, make_windows, split
from unrolled.models.ar import ARModel, select_order
from unrolled.models.forecaster import Forecaster, ForecasterConfig


def series(name: str, full: bool) -> np.ndarray:
    if name == "mackey-glass":
        return mackey_glass(4000 if full else 1500, seed=0)
    from unrolled.data.series_csv import statsmodels_dataset

    return statsmodels_dataset("sunspots").values[:, 0]


def train_lstm(z, parts, strategy, horizon, window, epochs, seed=0):
    torch.manual_seed(seed)
    f = Forecaster(ForecasterConfig(hidden_size=32, horizon=horizon, strategy=strategy))
    w = make_windows(z, window, horizon, last_target=parts.train_end)
    v = make_windows(z, window, horizon, first_target=parts.train_end, last_target=parts.valid_end)
    x, y = torch.tensor(w.inputs, dtype=torch.float32), torch.tensor(w.targets, dtype=torch.float32)
    xv, yv = torch.tensor(v.inputs, dtype=torch.float32), torch.tensor(v.targets, dtype=torch.float32)
    opt = torch.optim.Adam(f.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    best, best_state = float("inf"), None
    for _ in range(epochs):
        f.train()
        for idx in torch.randperm(len(x), generator=g).split(32):
            opt.zero_grad()
            f.loss(x[idx], y[idx]).backward()
            torch.nn.utils.clip_grad_norm_(f.parameters(), 5.0)
            opt.step()
        f.eval()
        val = float(((f.forecast(xv, horizon=horizon).mean - yv) ** 2).mean())
        if val < best:
            best, best_state = val, {k: t.clone() for k, t in f.state_dict().items()}
    f.load_state_dict(best_state)
    return f


def evaluate(pred: np.ndarray, actual: np.ndarray) -> tuple[float, float, np.ndarray]:
    rmse = float(np.sqrt(np.mean((pred - actual) ** 2)))
    return rmse, rmse / float(np.std(actual)), np.sqrt(((pred - actual) ** 2).mean(axis=0))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--horizon", type=int, default=12)
    p.add_argument("--window", type=int, default=48)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--full", action="store_true", help="a longer Mackey-Glass series (4000 steps) and 40 epochs")
    p.add_argument("--plot", metavar="DIR", help="write drift-curve PNGs here")
    p.add_argument("--series", nargs="+", default=["sunspots", "mackey-glass"])
    a = p.parse_args()
    torch.set_num_threads(1)
    epochs = 40 if a.full else a.epochs
    H, W = a.horizon, a.window
    for name in a.series:
        x = series(name, a.full)
        parts = split(len(x), 0.1, 0.2)
        sc = StandardScaler().fit(x[: parts.train_end])
        z = sc.transform(x[:, None])  # (T, 1)
        mu, sd = sc.shift[0], sc.scale[0]
        origins = list(range(parts.valid_end, len(x) - H + 1))
        actual = np.stack([x[t : t + H] for t in origins])  # (N, H)
        print(f"\n{name}: {len(x)} steps, test origins {len(origins)}, horizon {H}, window {W}, epochs {epochs}")
        print(f"{'model':<18} {'RMSE':>9} {'NRMSE':>7} {'fit s':>7}  RMSE at steps 1, H/2, H")
        curves = {}
        t0 = time.perf_counter()
        order = select_order(z[: parts.train_end, 0], 30, "bic").order
        ar = ARModel.fit(z[: parts.train_end, 0], max(order, 1))
        fit_s = time.perf_counter() - t0
        pred = np.stack([ar.forecast(H, history=z[:t, 0]).mean for t in origins]) * sd + mu
        rows = [(f"AR({ar.order})", pred, fit_s)]
        for strategy in ("recursive", "direct"):
            t0 = time.perf_counter()
            f = train_lstm(z, parts, strategy, H, W, epochs)
            fit_s = time.perf_counter() - t0
            xin = torch.tensor(np.stack([z[t - W : t] for t in origins]), dtype=torch.float32)
            pred = f.forecast(xin, horizon=H).mean[..., 0].double().numpy() * sd + mu
            rows.append((f"LSTM {strategy}", pred, fit_s))
        for label, pred, fit_s in rows:
            rmse, nrmse, by_step = evaluate(pred, actual)
            curves[label] = by_step
            print(
                f"{label:<18} {rmse:>9.4g} {nrmse:>7.3f} {fit_s:>7.1f}  "
                f"{by_step[0]:.4g}, {by_step[H // 2 - 1]:.4g}, {by_step[-1]:.4g}",
                flush=True,
            )
        if a.plot:
            from pathlib import Path

            from unrolled.viz.forecast import plot_drift

            Path(a.plot).mkdir(parents=True, exist_ok=True)
            out = Path(a.plot) / f"drift_{name}.png"
            plot_drift(out, curves)
            print(f"drift curves: {out}")


if __name__ == "__main__":
    main()
