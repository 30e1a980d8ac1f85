"""Classical baselines against statsmodels in the same process: AR(p) by least squares and Yule-Walker, AIC/BIC
order selection, and the Kalman filter log-likelihood of linear dynamical systems.

For each case: the largest absolute coefficient difference, the log-likelihood difference, and the fit-time ratio
unrolled / statsmodels (median over interleaved rounds of the same-round ratio; < 1 means unrolled is faster).

    python benchmarks/classical.py            # full: 15 rounds (about a minute)
    python benchmarks/classical.py --quick    # 3 rounds (a few seconds)
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved, machine, set_threads  # noqa: E402
from unrolled.data.series_csv import statsmodels_dataset  # noqa: E402
from unrolled.models.ar import ARModel, select_order  # noqa: E402
from unrolled.models.lds import LinearDynamicalSystem  # noqa: E402


def _statsmodels():
    try:
        from statsmodels.regression.linear_model import yule_walker
        from statsmodels.tsa.ar_model import AutoReg, ar_select_order
        from statsmodels.tsa.statespace.mlemodel import MLEModel
    except ImportError:
        raise SystemExit("benchmarks/classical.py needs statsmodels: pip install 'unrolled[bench]'") from None
    return AutoReg, ar_select_order, yule_walker, MLEModel


def ar_rows(name: str, y: np.ndarray, p: int, repeats: int) -> list[str]:
    AutoReg, ar_select_order, yule_walker, _ = _statsmodels()
    ours, ref = ARModel.fit(y, p), AutoReg(y, p, trend="c").fit()
    coef = np.abs(np.r_[ours.intercept, ours.coef] - ref.params).max()
    t = interleaved({"ours": lambda: ARModel.fit(y, p), "sm": lambda: AutoReg(y, p, trend="c").fit()}, repeats)
    rows = [
        f"| {name} | AR({p}) OLS vs AutoReg | {coef:.1e} | {ours.log_likelihood() - ref.llf:.1e} | "
        f"{t.ratio('ours', 'sm'):.2f} |"
    ]
    rho, sigma = yule_walker(y, p, method="mle")
    yw = ARModel.fit(y, p, method="yule_walker")
    coef = max(np.abs(yw.coef - rho).max(), abs(yw.sigma2 - sigma**2))
    t = interleaved(
        {"ours": lambda: ARModel.fit(y, p, method="yule_walker"), "sm": lambda: yule_walker(y, p, method="mle")},
        repeats,
    )
    rows.append(f"| {name} | AR({p}) Yule-Walker vs yule_walker | {coef:.1e} | n/a | {t.ratio('ours', 'sm'):.2f} |")
    pmax = 12
    sel, ref_sel = select_order(y, pmax, "bic"), ar_select_order(y, pmax, ic="bic")
    same = sel.order == max(ref_sel.ar_lags, default=0)
    t = interleaved(
        {"ours": lambda: select_order(y, pmax, "bic"), "sm": lambda: ar_select_order(y, pmax, ic="bic")}, repeats
    )
    rows.append(
        f"| {name} | BIC order 0..{pmax} vs ar_select_order | order {sel.order} "
        f"({'same' if same else 'DIFFERENT'}) | n/a | {t.ratio('ours', 'sm'):.2f} |"
    )
    return rows


def kalman_row(name: str, lds: LinearDynamicalSystem, y: np.ndarray, repeats: int) -> str:
    _, _, _, MLEModel = _statsmodels()
    mod = MLEModel(y, k_states=lds.state_dim)
    mod["design"], mod["obs_cov"], mod["obs_intercept"] = lds.observation, lds.obs_cov, lds.offset
    mod["transition"], mod["selection"], mod["state_cov"] = lds.transition, np.eye(lds.state_dim), lds.state_cov
    mod.ssm.initialize_known(lds.init_mean, lds.init_cov)
    diff = lds.log_likelihood(y) - mod.ssm.loglike()
    t = interleaved({"ours": lambda: lds.log_likelihood(y), "sm": lambda: mod.ssm.loglike()}, repeats)
    return f"| {name} | Kalman log-likelihood vs statsmodels | n/a | {diff:.1e} | {t.ratio('ours', 'sm'):.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    repeats = 3 if args.quick else args.rounds
    set_threads(args.threads)
    warnings.simplefilter("ignore", FutureWarning)
    print(f"# {machine()}")
    print("| data | comparison | coefficients max abs diff | log-likelihood diff | time ratio (ours/statsmodels) |")
    print("|---|---|---:|---:|---:|")
    rows = ar_rows("simulated AR(5), T=2000", ARModel(0.3, [0.5, -0.3, 0.2, 0.1, -0.1], 1.0).simulate(2000), 5, repeats)
    rows += ar_rows("sunspots, T=309", statsmodels_dataset("sunspots").values[:, 0], 9, repeats)
    level = LinearDynamicalSystem([[1.0]], [[1.0]], [[0.4]], [[0.7]], init_mean=[0.0], init_cov=[[10.0]])
    _, y1 = level.sample(2000, seed=1)
    y1[100:120] = np.nan
    rows.append(kalman_row("local level, T=2000, 20 missing", level, y1, repeats))
    lds = LinearDynamicalSystem(
        [[0.8, 0.1], [-0.2, 0.7]],
        [[1.0, 0.5], [0.3, -1.0]],
        [[0.5, 0.1], [0.1, 0.3]],
        [[0.4, 0.05], [0.05, 0.6]],
        offset=[0.2, -0.1],
    )
    _, y2 = lds.sample(500, seed=2)
    y2[50, 0] = np.nan
    rows.append(kalman_row("S=2, D=2, T=500", lds, y2, repeats))
    nile = statsmodels_dataset("nile").values
    fitted = LinearDynamicalSystem.fit(nile, state_dim=1, n_iter=200)
    rows.append(kalman_row("Nile, EM-fitted local model", fitted, nile, repeats))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
