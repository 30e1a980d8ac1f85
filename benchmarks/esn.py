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

What each side may use (printed at the top of the output). Ours: 1 torch thread, numpy's BLAS limited to
``--blas-threads`` (1), the reservoir loop on the main thread and, where ``ESN.fit`` overlaps
(``unrolled.reservoir.overlapped_fit``: CPU, one or a few series, >= 2 cores), one worker thread that sums the
ridge normal equations while the loop runs, each with BLAS held to 1 thread: at most 2 cores. "ours seq" is the
same fit with ``overlap=False`` (one core). reservoirpy: numpy/scipy with BLAS limited to ``--blas-threads`` (1)
in the "rpy fit s" column; its reservoir loop is a sequential Python loop over time steps, which cannot use a second
core whatever the BLAS threads. For fairness the "rpy dflt s" column times reservoirpy again with numpy's default
BLAS threads (its Gram/ridge products may then use every core); "speed-up" is against the faster of the two.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from unrolled.data.series import mackey_glass, narma
from unrolled.reservoir.esn import ESN
from unrolled.reservoir.overlapped_fit import can_overlap
from unrolled.reservoir.reservoir import Reservoir, ReservoirConfig

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


def ours(u, y, units, params, seed, train, test, washout, dtype=torch.float32, overlap=True):
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
    esn = ESN(cfg, 1, ridge=ridge, washout=washout, overlap=overlap).to(dtype)  # float64 ridge solve
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
        from threadpoolctl import ThreadpoolController  # comes with scikit-learn
    except ImportError:
        raise SystemExit(
            "benchmarks/esn.py needs reservoirpy and scikit-learn (pip install 'unrolled[bench]')"
        ) from None

    blas = ThreadpoolController()
    default_blas = max((i["num_threads"] for i in blas.info() if i["user_api"] == "blas"), default=1)

    def limited():  # numpy's BLAS held to --blas-threads (process-wide) inside, its default outside
        return blas.limit(limits=a.blas_threads if a.blas_threads > 0 else None, user_api="blas")

    train, test, washout = (4000, 2000, 100) if a.full else (2000, 1000, 100)
    n = train + test
    cases = [(f"MG {k}-step", *mg_data(n, train, k), TASKS["mg"]) for k in (1, 10, 84)]
    cases.append(("NARMA10", *narma_data(n), TASKS["narma10"]))
    x = torch.randn(1, 700, 1)  # warm-up outside the timers: the overlap's threadpoolctl controller, thread start
    ESN(ReservoirConfig(units=20), 1, washout=10).fit(x, x)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    overlaps = can_overlap(Reservoir(ReservoirConfig(units=max(a.units))), torch.zeros(1, train, 1), washout=washout)
    print(
        f"train {train}, test {test}, washout {washout}, seeds {a.seeds}; medians over seeds; {cores} cores; "
        f"numpy BLAS default threads {default_blas}"
    )
    print(
        f"ours: {a.threads} torch thread(s), BLAS threads {a.blas_threads or 'default'}; ESN.fit overlap "
        f"{'on: the loop + 1 worker thread summing X^T X (BLAS 1 thread each, 2 cores)' if overlaps else 'off'} "
        f"('ours seq': overlap=False, 1 core)"
    )
    print(
        f"reservoirpy: BLAS threads {a.blas_threads or 'default'} ('rpy fit s'), then default {default_blas} "
        f"('rpy dflt s'); its reservoir loop is a sequential Python loop (one core either way)"
    )
    print(
        f"{'task':<12} {'units':>5} {'ours NRMSE':>11} {'rpy NRMSE':>10} {'ours fit s':>10} {'ours seq s':>10} "
        f"{'rpy fit s':>9} {'rpy dflt s':>10} {'speedup':>7} {'vs seq':>6} {'CPU-time speedup':>16}"
    )
    for name, u, y, params in cases:
        for units in a.units:
            rows = []
            for s in range(a.seeds):
                with limited():
                    order = (True, False) if s % 2 == 0 else (False, True)  # alternate which of ours runs first
                    got = {ov: ours(u, y, units, params, s, train, test, washout, DTYPE[a.dtype], ov) for ov in order}
                    o, q = got[True], got[False]
                    r = theirs(u, y, units, params, s, train, test, washout)
                rd = theirs(u, y, units, params, s, train, test, washout)  # numpy's default BLAS threads
                time.sleep(0.3)  # let OpenBLAS's threads stop spinning after that call (they hold a core ~0.1 s)
                rows.append((o, q, r, rd))
            on = statistics.median(r[0][0] for r in rows)
            tn = statistics.median(r[2][0] for r in rows)
            ot, qt, tt, dt = (statistics.median(r[i][1][0] for r in rows) for i in range(4))
            ratio = statistics.median(min(r[2][1][0], r[3][1][0]) / r[0][1][0] for r in rows)
            seq = statistics.median(min(r[2][1][0], r[3][1][0]) / r[1][1][0] for r in rows)
            cpu = statistics.median(r[2][1][1] / r[0][1][1] for r in rows)
            print(
                f"{name:<12} {units:>5} {on:>11.2e} {tn:>10.2e} {ot:>10.3f} {qt:>10.3f} {tt:>9.3f} {dt:>10.3f} "
                f"{ratio:>6.1f}x {seq:>5.1f}x {cpu:>15.1f}x",
                flush=True,
            )
    print(f"training on {a.batch} Mackey-Glass series of {train} steps at once (ours: one batched recurrence)")
    for units in a.units:
        with limited():
            ot, tt = batched_fit_times(units, a.batch, train, washout, DTYPE[a.dtype])
        print(
            f"{'MG batch':<12} {units:>5} {'':>11} {'':>10} {ot[0]:>10.3f} {'':>10} {tt[0]:>9.3f} {'':>10} "
            f"{tt[0] / ot[0]:>6.1f}x {'':>6} {tt[1] / ot[1]:>15.1f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
