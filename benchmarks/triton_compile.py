"""Compile every fused Triton kernel (``unrolled.layers.triton``) for a GPU target on a machine without a GPU, and
print each one's registers and stack (spills) from ``cuobjdump -res-usage``.

Not a timing: it catches what Triton's CPU interpreter (the tests) forgives (types that change inside loops,
shapes tl.dot refuses) and shows register spills before a GPU is at hand. Needs ``triton`` (it ships ptxas and
cuobjdump). About 15 s per kernel on one core; ``--quick`` compiles one variant of each.

    python benchmarks/triton_compile.py                  # sm_90 (H100/H200), with and without lengths
    python benchmarks/triton_compile.py --quick --warps 16 --block-h 128
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile

os.environ.pop("TRITON_INTERPRET", None)  # compile for the GPU, not the interpreter

import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

from unrolled.layers.triton import (  # noqa: E402
    elman_jit,
    gru_jit,
    layernorm_gru_jit,
    layernorm_jit,
    leaky_jit,
    lstm_jit,
)

CUOBJDUMP = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")


def signature(fn, floats: tuple[str, ...] = ()) -> dict[str, str]:
    """Argument types: constexprs as declared, ``len_ptr`` int64, other pointers fp32, ``floats`` fp32, rest i32."""
    types = {}
    for p in fn.params:
        if p.is_constexpr:
            types[p.name] = "constexpr"
        elif p.name == "len_ptr":
            types[p.name] = "*i64"
        elif p.name.endswith("_ptr"):
            types[p.name] = "*fp32"
        else:
            types[p.name] = "fp32" if p.name in floats else "i32"
    return types


def compile_one(fn, consts: dict, target: GPUTarget, warps: int, floats: tuple[str, ...] = ()) -> str:
    src = ASTSource(
        fn=fn,
        signature=signature(fn, floats),
        constexprs={(fn.arg_names.index(k),): v for k, v in consts.items()},
    )
    try:
        kernel = triton.compile(src, target=target, options={"num_warps": warps})
    except Exception as e:  # report and go on: one line per kernel
        return f"ERROR {type(e).__name__}: {str(e).splitlines()[-1] if str(e) else ''}"
    with tempfile.NamedTemporaryFile(suffix=".cubin", delete=False) as f:
        f.write(kernel.asm["cubin"])
    out = subprocess.run([CUOBJDUMP, "-res-usage", f.name], capture_output=True, text=True).stdout
    os.unlink(f.name)
    usage = [line.strip() for line in out.splitlines() if "REG:" in line]
    return " ".join(usage[0].split()[:2]) if usage else "compiled (no usage line)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", type=int, default=90, help="compute capability as an integer (default 90)")
    parser.add_argument("--warps", type=int, default=8, help="num_warps (default 8, what the launches use at 64)")
    parser.add_argument("--block-h", type=int, default=64, help="BLOCK_H of the on-chip kernels (default 64)")
    parser.add_argument("--quick", action="store_true", help="without lengths only")
    parser.add_argument("--only", default=None, help="comma-separated kernel names (default: all)")
    args = parser.parse_args(argv)
    target = GPUTarget("cuda", args.arch, 32)
    bh = args.block_h
    for has_len in (False,) if args.quick else (False, True):
        base = {"HAS_LEN": has_len, "BLOCK_B": 16, "PRECISION": "ieee"}
        grads = {"HAS_DOUT": True, "HAS_DFINAL": True}
        kernels = [
            (elman_jit.elman_forward, {**base, "ACT": 0, "BLOCK_H": bh}, ()),
            (elman_jit.elman_backward, {**base, **grads, "ACT": 0, "BLOCK_H": bh}, ()),
            (leaky_jit.leaky_forward, {**base, "ACT": 0, "BLOCK_H": bh}, ()),
            (leaky_jit.leaky_backward, {**base, **grads, "ACT": 0, "BLOCK_H": bh}, ()),
            (gru_jit.gru_before_forward, {**base, "BLOCK_H": bh}, ()),
            (gru_jit.gru_before_backward, {**base, **grads, "BLOCK_H": bh}, ()),
            (layernorm_jit.ln_lstm_forward, {**base, "BLOCK_H": bh}, ("eps2", "eps3")),
            (
                layernorm_jit.ln_lstm_backward,
                {**base, "HAS_DOUT": True, "HAS_DH": True, "HAS_DC": True, "BLOCK_H": bh},
                (),
            ),
            (layernorm_gru_jit.ln_gru_forward, {**base, "AFTER": True, "BLOCK_H": bh}, ("eps2", "eps3")),
            (layernorm_gru_jit.ln_gru_backward, {**base, **grads, "AFTER": True, "BLOCK_H": bh}, ()),
            (layernorm_gru_jit.ln_gru_forward, {**base, "AFTER": False, "BLOCK_H": bh}, ("eps2", "eps3")),
            (layernorm_gru_jit.ln_gru_backward, {**base, **grads, "AFTER": False, "BLOCK_H": bh}, ()),
            (lstm_jit.peephole_lstm_forward, {**base, "BLOCK_H": bh}, ()),
            (
                lstm_jit.peephole_lstm_backward,
                {**base, "HAS_DOUT": True, "HAS_DH": True, "HAS_DC": True, "BLOCK_H": bh},
                (),
            ),
            (elman_jit.elman_forward_streamed, {**base, "ACT": 0, "BLOCK_K": 64}, ()),
            (elman_jit.elman_backward_streamed, {**base, "HAS_DOUT": True, "ACT": 0, "BLOCK_K": 64}, ()),
            (leaky_jit.leaky_forward_streamed, {**base, "ACT": 0, "BLOCK_K": 64}, ()),
            (leaky_jit.leaky_backward_streamed, {**base, "HAS_DOUT": True, "ACT": 0, "BLOCK_K": 64}, ()),
        ]
        for fn, consts, floats in kernels:
            if args.only and fn.__name__ not in args.only.split(","):
                continue
            result = compile_one(fn, consts, target, args.warps, floats)
            name = fn.__name__ + ("" if "AFTER" not in consts else " after" if consts["AFTER"] else " before")
            print(f"sm_{args.arch} warps={args.warps} lengths={has_len} {name}: {result}", flush=True)


if __name__ == "__main__":
    main()
