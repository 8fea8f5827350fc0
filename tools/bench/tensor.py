# PyTorch side of `plexus bench tensor`: dtype conversion throughput (GB/s of output).
out = {}
for n in ([1 << 20] if QUICK else [1 << 20, 1 << 24]):
    h = torch.randn(n).half()
    b = torch.randn(n).bfloat16()
    out[f"float16->float32 {n}"] = n * 4 / median(lambda: h.float()) / 1e9
    out[f"bfloat16->float32 {n}"] = n * 4 / median(lambda: b.float()) / 1e9
print(json.dumps(out))
