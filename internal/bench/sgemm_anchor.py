#!/usr/bin/python3
"""OpenBLAS's SGEMM at the shapes of BenchmarkSGEMM (transformer/kernels/sgemm_bench_test.go).

  OPENBLAS_CORETYPE=CooperLake OPENBLAS_NUM_THREADS=1 /usr/bin/python3 internal/bench/sgemm_anchor.py
  OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=2 /usr/bin/python3 internal/bench/sgemm_anchor.py

One line per shape: name (as BenchmarkSGEMM names it), GFLOP/s of wall time, cores (process CPU
time per wall second: OpenBLAS threads spin at barriers, so this counts their waiting too),
GFLOP per CPU-second, and the OpenBLAS core and thread count actually loaded.  Compare with
`go test -run XXX -bench 'SGEMM$/avx512' -cpu 1,2 ./transformer/kernels/`, run interleaved with
this script (a shared machine drifts), and quote ranges.  Needs Debian's python3-torch; set the
core type to the fastest one the CPU supports (torch_anchor.py searches them): OpenBLAS 0.3.21
does not recognise every CPU and may fall back to a generic kernel.
"""
import ctypes
import time

import torch

# (name, transA, transB, M, N, K): the GPT-2-small products of BenchmarkSGEMM.
SHAPES = [
    ("attn_qkv_fwd", False, False, 512, 2304, 768),
    ("attn_qkv_dx", False, True, 512, 768, 2304),
    ("attn_qkv_dw", True, False, 768, 2304, 512),
    ("attn_proj_fwd", False, False, 512, 768, 768),
    ("mlp_fc_fwd", False, False, 512, 3072, 768),
    ("mlp_fc_dx", False, True, 512, 768, 3072),
    ("mlp_fc_dw", True, False, 768, 3072, 512),
    ("mlp_proj_fwd", False, False, 512, 768, 3072),
]


def openblas_core():
    """'core/tN' of the OpenBLAS torch loaded, or '?' if its BLAS is not OpenBLAS."""
    with open("/proc/self/maps") as f:
        paths = [line.split(None, 5)[5].strip() for line in f if "libopenblas" in line]
    if not paths:
        return "?"
    lib = ctypes.CDLL(paths[0])
    lib.openblas_get_corename.restype = ctypes.c_char_p
    return "%s/t%d" % (lib.openblas_get_corename().decode(), lib.openblas_get_num_threads())


def main():
    torch.set_num_threads(1)  # OpenBLAS's own threads do the work (OPENBLAS_NUM_THREADS)
    core = openblas_core()
    g = torch.Generator().manual_seed(1)
    for name, ta, tb, M, N, K in SHAPES:
        a = torch.randn(K, M, generator=g).t() if ta else torch.randn(M, K, generator=g)
        b = torch.randn(N, K, generator=g).t() if tb else torch.randn(K, N, generator=g)
        c = torch.empty(M, N)
        torch.mm(a, b, out=c)
        n, t0, c0 = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - t0 < 0.3:
            torch.mm(a, b, out=c)
            n += 1
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        flops = 2.0 * M * N * K * n
        print("%s_%dx%dx%d_%s%s %.1f GFLOP/s %.2f cores %.1f GFLOP/cpu-s %s" % (
            name, M, N, K, "T" if ta else "N", "T" if tb else "N",
            flops / wall / 1e9, cpu / wall, flops / cpu / 1e9, core))


if __name__ == "__main__":
    main()
