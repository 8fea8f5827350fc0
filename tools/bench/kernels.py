# PyTorch side of `plexus bench kernels`: SGEMM (torch.mm, and oneDNN through mkldnn_linear)
# and conv2d (F.conv2d) GFLOP/s.
# Keys must match cmd/plexus/bench_kernels.go.
import torch.nn.functional as F

out = {}
torch.manual_seed(0)


def once(fn):
    # Debian's torch.mm runs the reference BLAS: 4096³ takes about a minute, so large
    # products are timed once instead of WARMUP + RUNS times.
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


gemms = [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048), (4096, 4096, 4096),
         (128, 768, 768), (128, 3072, 768), (64, 3136, 576)]
if QUICK:
    gemms = [(256, 256, 256), (1024, 1024, 1024), (128, 768, 768)]
for m, n, k in gemms:
    a, b = torch.rand(m, k), torch.rand(k, n)
    c = torch.empty(m, n)
    timer = once if m * n * k >= 1024 ** 3 else median
    out[f"sgemm {m}x{n}x{k}"] = 2 * m * n * k / timer(lambda: torch.mm(a, b, out=c)) / 1e9
    # The same product through oneDNN's GEMM (mkldnn_linear computes x·Wᵀ): Debian's
    # torch.mm calls the reference BLAS (libblas3), so this is the fast GEMM PyTorch
    # has on this machine.
    with torch.no_grad():
        am, wm = a.to_mkldnn(), b.t().contiguous().to_mkldnn()
        bias = torch.zeros(n).to_mkldnn()
        out[f"onednn {m}x{n}x{k}"] = 2 * m * n * k / median(lambda: torch._C._nn.mkldnn_linear(am, wm, bias)) / 1e9

convs = [(64, 56, 3), (128, 28, 3), (256, 14, 3), (512, 7, 3), (256, 56, 1)]
batches = [1] if QUICK else [1, 8]
with torch.no_grad():
    for bt in batches:
        for c, hw, k in convs:
            o = 64 if k == 1 else c
            x = torch.rand(bt, c, hw, hw)
            w = torch.rand(o, c, k, k)
            bias = torch.rand(o)
            fl = 2 * bt * o * c * k * k * hw * hw
            out[f"conv {k}x{k} {c}->{o} {hw}x{hw} b{bt}"] = fl / median(lambda: F.conv2d(x, w, bias, padding=k // 2)) / 1e9
print(json.dumps(out))
