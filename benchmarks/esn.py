"""Our echo state network against reservoirpy in the same process: Mackey-Glass k-step-ahead NRMSE (k = 1, 10, 84),
NARMA10 NRMSE, and training time, at equal reservoir sizes and hyperparameters, over several seeds.

Protocol (the same for both libraries): the first 2000 steps of a series (4000 with ``--full``) are for training
(the first 100 states dropped), the next 1000 (2000) for testing, the reservoir state carried over from training
into the test part. Mackey-Glass (tau = 17, reservoirpy's discretisation, standardised with the training
statistics): direct k-step-ahead prediction, input x(t), target x(t+k). NARMA10: input u(t), target y(t).
NRMSE = RMSE / std(test targets). Training time = running the reservoir over the training inputs + the ridge fit,
for both; building the model (drawing the matrices, scaling to the spectral radius) is outside the timer for both
(reservoirpy's model is initialised before its ``fit``, which would otherwise build it lazily inside the timer).
Both use tanh units, sparse W (connectivity 0.1) scaled to the same spectral radius, the same leak rate, input
scaling, ridge penalty and input connectivity (Mackey-Glass 1.0, NARMA10 0.1: each input weight nonzero with that
probability); the random matrices differ (reservoirpy: normal W, Bernoulli +-1 W_in; ours: uniform W and W_in),
so per-seed figures differ and the medians over seeds are compared.

Default run (a few minutes): 100 and 500 units, 3 seeds. ``--full`` : longer series. The speed-up is the median
over seeds of the per-seed ratio reservoirpy time / our time (each pair timed back to back).

    python benchmarks/esn.py [--units 100 500] [--seeds 3] [--full] [--threads 1] [--blas-threads 1]

Both libraries run single-threaded by default (torch 1 thread, numpy's BLAS 1 thread): ours runs its loop and ridge
Gram matrix through numpy too, reservoirpy is numpy and scipy.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from unrolled.data.series import mackey_glass, narma
from unrolled.reservoir.esn import ESN
from unrolled.reservoir.reservoir import ReservoirConfig

TASKS = {  # name -> (spectral radius, leak rate, input scaling, ridge, input connectivity), the same for both
    "mg": (1.25, 0.3, 1.0, 1e-8, 1.0),
    "narma10": (0.9, 1.0, 1.0, 1e-8, 0.1),
}


def mg_data(n: int, train: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    x = mackey_glass(n + k, seed=0)
    x = (x - x[:train].mean()) / x[:train].std()
    return x[:-k, None], x[k:, None]


def narma_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    u, y = narma(n + 200, order=10, seed=0)
    return u[200:, None], y[200:, None]  # drop the zero start-up


def nrmse(pred: np.ndarray, target: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - target) ** 2)) / np.std(target))


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process, all threads) since ``start``: on a loaded machine the CPU time
    is the steadier estimate of a quiet machine's wall time (both libraries run mostly on one thread)."""
    wall, cpu = clock()
    return wall - start[0], cpu - start[1]


DTYPE = {"float32": torch.float32, "float64": torch.float64}


def ours(u, y, units, params, seed, train, test, washout, dtype=torch.float32):
    sr, lr, scal, ridge, dens = params
    cfg = ReservoirConfig(
        units=units,
        input_size=1,
        spectral_radius=sr,
        leak_rate=lr,
        input_scaling=scal,
        density=0.1,
        input_density=dens,
        seed=seed,
    )
    esn = ESN(cfg, 1, ridge=ridge, washout=washout).to(dtype)  # states in dtype, the ridge solve in float64
    U = torch.tensor(u, dtype=dtype)[None]  # (1, T, 1)
    Y = torch.tensor(y, dtype=dtype)[None]
    t0 = clock()
    esn.fit(U[:, :train], Y[:, :train])
    fit_s = since(t0)
    _, state = esn.reservoir(U[:, :train])
    pred, _ = esn(U[:, train : train + test], state=state)
    return nrmse(pred[0].double().numpy(), y[train : train + test]), fit_s


def batched_fit_times(units: int, n_series: int, train: int, washout: int, dtype: torch.dtype) -> tuple[tuple, tuple]:
    """Training on n_series Mackey-Glass series (different seeds) at once: ours in one batched recurrence (B =
    n_series), reservoirpy given the list of series."""
    from reservoirpy.nodes import Reservoir, Ridge

    xs = [mackey_glass(train + 1, seed=s) for s in range(n_series)]
    u = np.stack([x[:-1] for x in xs])[..., None]  # (B, T, 1)
    y = np.stack([x[1:] for x in xs])[..., None]
    sr, lr, scal, ridge, dens = TASKS["mg"]
    cfg = ReservoirConfig(units=units, input_size=1, spectral_radius=sr, leak_rate=lr, input_scaling=scal, seed=0)
    esn = ESN(cfg, 1, ridge=ridge, washout=washout).to(dtype)
    U, Y = torch.tensor(u, dtype=dtype), torch.tensor(y, dtype=dtype)
    t0 = clock()
    esn.fit(U, Y)
    ours_s = since(t0)
    model = Reservoir(
        units=units, sr=sr, lr=lr, input_scaling=scal, rc_connectivity=0.1, input_connectivity=dens, seed=0
    ) >> Ridge(ridge)
    model.initialize(u[0], y[0])  # build W, W_in (and the spectral radius) outside the timer, as ours is
    t0 = clock()
    model.fit(list(u), list(y), warmup=washout)
    return ours_s, since(t0)


def theirs(u, y, units, params, seed, train, test, washout):
    from reservoirpy.nodes import Reservoir, Ridge

    sr, lr, scal, ridge, dens = params
    res = Reservoir(
        units=units, sr=sr, lr=lr, input_scaling=scal, rc_connectivity=0.1, input_connectivity=dens, seed=seed
    )
    model = res >> Ridge(ridge=ridge)
    model.initialize(u[:train], y[:train])  # build W, W_in (and the spectral radius) outside the timer, as ours is
    t0 = clock()
    model.fit(u[:train], y[:train], warmup=washout)
    fit_s = since(t0)
    pred = model.run(u[train : train + test])  # continues from the state reached in training
    return nrmse(pred, y[train : train + test]), fit_s


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--units", type=int, nargs="+", default=[100, 500])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--full", action="store_true", help="train 4000 / test 2000 steps instead of 2000 / 1000")
    p.add_argument("--threads", type=int, default=1, help="torch threads for ours (default 1)")
    p.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="numpy's BLAS threads, for both libraries (default 1: a multithreaded BLAS call inside a per-step loop "
        "is many times slower on a loaded machine; 0 leaves numpy's default)",
    )
    p.add_argument("--dtype", choices=sorted(DTYPE), default="float32", help="our reservoir states' dtype")
    p.add_argument("--batch", type=int, default=16, help="series in the batched training-time row")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    try:
        import reservoirpy  # noqa: F401
        from threadpoolctl import threadpool_limits  # comes with scikit-learn
    except ImportError:
        raise SystemExit(
            "benchmarks/esn.py needs reservoirpy and scikit-learn (pip install 'unrolled[bench]')"
        ) from None
    if a.blas_threads > 0:
        threadpool_limits(a.blas_threads, user_api="blas")
    train, test, washout = (4000, 2000, 100) if a.full else (2000, 1000, 100)
    n = train + test
    cases = [(f"MG {k}-step", *mg_data(n, train, k), TASKS["mg"]) for k in (1, 10, 84)]
    cases.append(("NARMA10", *narma_data(n), TASKS["narma10"]))
    print(
        f"train {train}, test {test}, washout {washout}, seeds {a.seeds}; medians over seeds; torch threads "
        f"{a.threads}, BLAS threads {a.blas_threads or 'default'}"
    )
    print(
        f"{'task':<12} {'units':>5} {'ours NRMSE':>11} {'rpy NRMSE':>10} "
        f"{'ours fit s':>10} {'rpy fit s':>9} {'speedup':>7} {'CPU-time speedup':>16}"
    )
    for name, u, y, params in cases:
        for units in a.units:
            rows = [
                (
                    ours(u, y, units, params, s, train, test, washout, DTYPE[a.dtype]),
                    theirs(u, y, units, params, s, train, test, washout),
                )
                for s in range(a.seeds)
            ]
            on = statistics.median(r[0][0] for r in rows)
            tn = statistics.median(r[1][0] for r in rows)
            ot = statistics.median(r[0][1][0] for r in rows)
            tt = statistics.median(r[1][1][0] for r in rows)
            ratio = statistics.median(r[1][1][0] / r[0][1][0] for r in rows)
            cpu = statistics.median(r[1][1][1] / r[0][1][1] for r in rows)
            print(
                f"{name:<12} {units:>5} {on:>11.2e} {tn:>10.2e} {ot:>10.3f} {tt:>9.3f} {ratio:>6.1f}x {cpu:>15.1f}x",
                flush=True,
            )
    print(f"training on {a.batch} Mackey-Glass series of {train} steps at once (ours: one batched recurrence)")
    for units in a.units:
        ot, tt = batched_fit_times(units, a.batch, train, washout, DTYPE[a.dtype])
        print(
            f"{'MG batch':<12} {units:>5} {'':>11} {'':>10} {ot[0]:>10.3f} {tt[0]:>9.3f} {tt[0] / ot[0]:>6.1f}x "
            f"{tt[1] / ot[1]:>15.1f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
