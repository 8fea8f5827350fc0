#!/usr/bin/python3
"""Golden fixtures for core/kernels: PyTorch results on odd sizes and strided inputs.

Run from the repository root with Debian's torch:  /usr/bin/python3 tools/golden/kernels.py
It writes core/kernels/testdata/golden.safetensors; each case's parameters are JSON in
the file's __metadata__ under the case name, its tensors are named "<case>.<tensor>".
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

torch.manual_seed(20261130)
torch.set_num_threads(1)

tensors = {}
meta = {}


def put(case, params, **ts):
    meta[case] = json.dumps(params, sort_keys=True)
    for name, t in ts.items():
        tensors[f"{case}.{name}"] = t.detach().contiguous()


def rnd(*shape, scale=1.0):
    return (torch.rand(*shape) * 2 - 1) * scale


# --- sgemm: op(A) m×k, op(B) k×n, C m×n stored with leading-dimension padding. ---
for i, (m, n, k, ta, tb) in enumerate([
        (257, 33, 7, False, False), (7, 257, 33, True, False), (33, 7, 257, False, True),
        (1, 257, 33, True, True), (257, 1, 7, False, False), (33, 33, 1, True, False),
        (1, 1, 257, False, True), (257, 257, 33, True, True), (7, 7, 7, False, False)]):
    pad = 3
    ar, ac = (k, m) if ta else (m, k)
    br, bc = (n, k) if tb else (k, n)
    a = rnd(ar, ac + pad)
    b = rnd(br, bc + pad)
    c = rnd(m, n + pad)
    A = a[:, :ac].t() if ta else a[:, :ac]
    B = b[:, :bc].t() if tb else b[:, :bc]
    alpha, beta = 1.25, -0.5
    want = c.clone()
    want[:, :n] = alpha * (A.double() @ B.double()).float() + beta * c[:, :n]
    put(f"sgemm{i}", dict(m=m, n=n, k=k, ta=ta, tb=tb, lda=ac + pad, ldb=bc + pad, ldc=n + pad,
                          alpha=alpha, beta=beta), a=a, b=b, c=c, want=want)

# --- batched sgemm ---
for i, (bt, m, n, k, ta, tb) in enumerate([(3, 7, 33, 1, False, True), (4, 33, 7, 257, True, False)]):
    a = rnd(bt, *((k, m) if ta else (m, k)))
    b = rnd(bt, *((n, k) if tb else (k, n)))
    A = a.transpose(1, 2) if ta else a
    B = b.transpose(1, 2) if tb else b
    put(f"bmm{i}", dict(batch=bt, m=m, n=n, k=k, ta=ta, tb=tb), a=a, b=b, want=torch.bmm(A, B))

# --- conv2d ---
conv_cases = [
    # N, C, H, W, O, KH, KW, stride, pad, dil, groups, bias, relu, residual
    (1, 7, 9, 9, 33, 3, 3, 1, 1, 1, 1, True, False, False),
    (2, 8, 13, 11, 16, 3, 3, 2, 1, 1, 1, True, True, True),
    (1, 8, 10, 10, 8, 3, 3, 1, 2, 2, 4, False, False, False),
    (3, 16, 7, 7, 33, 3, 3, 1, 1, 1, 1, True, True, False),
    (1, 33, 5, 5, 7, 1, 1, 1, 0, 1, 1, True, False, False),
    (2, 3, 17, 17, 8, 7, 7, 2, 3, 1, 1, False, True, False),
    (1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, True, False, False),
    (2, 16, 8, 8, 32, 1, 1, 2, 0, 1, 1, False, False, True),
    (2, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1, True, True, True),
    (1, 4, 33, 33, 4, 3, 5, (1, 2), (2, 1), (2, 1), 2, True, False, False),
]
for i, (n, c, h, w, o, kh, kw, s, p, d, g, hb, relu, res) in enumerate(conv_cases):
    x = rnd(n, c, h, w)
    wt = rnd(o, c // g, kh, kw, scale=1 / math.sqrt(c // g * kh * kw))
    bias = rnd(o) if hb else None
    y = F.conv2d(x, wt, bias, stride=s, padding=p, dilation=d, groups=g)
    ts = dict(x=x, w=wt)
    if hb:
        ts["bias"] = bias
    if res:
        r = rnd(*y.shape)
        ts["residual"] = r
        y = y + r
    if relu:
        y = F.relu(y)
    pair = lambda v: list(v) if isinstance(v, tuple) else [v, v]
    put(f"conv2d{i}", dict(n=n, c=c, h=h, w=w, o=o, kh=kh, kw=kw, stride=pair(s), pad=pair(p),
                           dil=pair(d), groups=g, relu=relu, out=list(y.shape)), want=y, **ts)

# --- conv1d (WaveNet: dilated, causal, grouped) ---
for i, (n, c, l, o, k, s, p, d, g, causal) in enumerate([
        (2, 7, 33, 9, 3, 1, 1, 1, 1, False), (1, 8, 40, 8, 2, 1, 0, 4, 1, True),
        (2, 8, 17, 16, 3, 2, 1, 1, 4, False), (1, 16, 33, 16, 3, 1, 0, 2, 16, True),
        (1, 1, 1, 1, 1, 1, 0, 1, 1, False)]):
    x = rnd(n, c, l)
    wt = rnd(o, c // g, k)
    bias = rnd(o)
    if causal:
        y = F.conv1d(F.pad(x, (d * (k - 1), 0)), wt, bias, stride=s, dilation=d, groups=g)
    else:
        y = F.conv1d(x, wt, bias, stride=s, padding=p, dilation=d, groups=g)
    put(f"conv1d{i}", dict(n=n, c=c, l=l, o=o, k=k, stride=s, pad=p, dil=d, groups=g, causal=causal,
                           out=list(y.shape)), x=x, w=wt, bias=bias, want=y)

# --- pooling ---
for i, (kind, shape, k, s, p, cip) in enumerate([
        ("max", (2, 3, 9, 9), 3, 2, 1, True), ("max", (1, 2, 7, 7), 2, 2, 0, True),
        ("avg", (2, 3, 9, 8), 3, 1, 1, True), ("avg", (2, 3, 9, 8), 3, 2, 1, False),
        ("max", (1, 1, 1, 1), 1, 1, 0, True), ("avg", (1, 7, 33, 33), 2, 2, 0, True)]):
    x = rnd(*shape)
    if kind == "max":
        y = F.max_pool2d(x, k, s, p)
    else:
        y = F.avg_pool2d(x, k, s, p, count_include_pad=cip)
    put(f"pool{i}", dict(kind=kind, shape=list(shape), k=k, s=s, p=p, cip=cip, out=list(y.shape)), x=x, want=y)
for i, (shape, oh, ow) in enumerate([((2, 3, 7, 7), 1, 1), ((1, 2, 7, 7), 3, 3), ((1, 2, 5, 9), 3, 4)]):
    x = rnd(*shape)
    put(f"apool{i}", dict(shape=list(shape), oh=oh, ow=ow), x=x, want=F.adaptive_avg_pool2d(x, (oh, ow)))

# --- softmax, norms, activations ---
for i, n in enumerate([1, 7, 33, 257]):
    x = rnd(3, n + 5, scale=8)  # rows padded by 5: the strided form
    want = x.clone()
    want[:, :n] = torch.softmax(x[:, :n], dim=-1)
    put(f"softmax{i}", dict(rows=3, n=n, ld=n + 5), x=x, want=want)
    y = rnd(5, n, scale=3) + 1
    g, b = rnd(n), rnd(n)
    put(f"layernorm{i}", dict(rows=5, n=n, eps=1e-5), x=y, gamma=g, beta=b,
        want=F.layer_norm(y, (n,), g, b, 1e-5))
for i, (n, c, hw, groups) in enumerate([(2, 6, 35, 3), (1, 33, 7, 3), (3, 4, 1, 4), (1, 8, 33, 1)]):
    x = rnd(n, c, hw, scale=2) + 0.5
    g, b = rnd(c), rnd(c)
    put(f"groupnorm{i}", dict(n=n, c=c, hw=hw, groups=groups, eps=1e-5), x=x, gamma=g, beta=b,
        want=F.group_norm(x, groups, g, b, 1e-5))
x = torch.cat([rnd(257 * 7, scale=6), torch.tensor([0.0, 1e-6, -1e-6, 30.0, -30.0, 90.0, -90.0, 1e-3, -0.05])])
put("act", {}, x=x, gelu=F.gelu(x), relu=F.relu(x), tanh=torch.tanh(x), sigmoid=torch.sigmoid(x))

# --- LSTM cell ---
for i, (bt, ins, hid) in enumerate([(3, 7, 33), (1, 1, 7), (2, 257, 33)]):
    cell = torch.nn.LSTMCell(ins, hid)
    x, h, c = rnd(bt, ins), rnd(bt, hid), rnd(bt, hid)
    h1, c1 = cell(x, (h, c))
    put(f"lstm{i}", dict(batch=bt, ins=ins, hid=hid), x=x, h=h, c=c, wih=cell.weight_ih,
        whh=cell.weight_hh, bih=cell.bias_ih, bhh=cell.bias_hh, h1=h1, c1=c1)


# --- attention ---
def sdpa(q, k, v, mask=None, causal=False, scale=None):
    s = (q @ k.transpose(-1, -2)) * (scale if scale else 1 / math.sqrt(q.shape[-1]))
    if mask is not None:
        s = s + mask
    if causal:
        lq, lk = s.shape[-2], s.shape[-1]
        keep = torch.ones(lq, lk, dtype=torch.bool).tril(lk - lq)
        s = s.masked_fill(~keep, float("-inf"))
    return torch.softmax(s, -1) @ v


b_, h_, lq, lk, d, dv = 2, 3, 7, 33, 16, 8
q, k, v = rnd(b_, h_, lq, d), rnd(b_, h_, lk, d), rnd(b_, h_, lk, dv)
mask = rnd(lq, lk, scale=2)
put("attn0", dict(b=b_, h=h_, lq=lq, lk=lk, d=d, dv=dv), q=q, k=k, v=v, mask=mask, want=sdpa(q, k, v, mask))
q, k, v = rnd(1, 2, 33, 8), rnd(1, 2, 33, 8), rnd(1, 2, 33, 8)
put("attn1", dict(b=1, h=2, lq=33, lk=33, d=8, dv=8, causal=True), q=q, k=k, v=v,
    want=sdpa(q, k, v, causal=True))
# Padding mask per batch with -inf, and Q/K/V read in place from a fused (B, L, 3, H, D) projection.
b_, l_, h_, d = 2, 7, 4, 8
qkv = rnd(b_, l_, 3, h_, d)
q, k, v = (qkv[:, :, j].transpose(1, 2) for j in range(3))
lens = [7, 4]
pm = torch.zeros(b_, l_, l_)
for bi, ln in enumerate(lens):
    pm[bi, :, ln:] = float("-inf")
want = sdpa(q, k, v, pm[:, None]).transpose(1, 2)  # out as (B, L, H, D)
put("attn2", dict(b=b_, h=h_, l=l_, d=d), qkv=qkv, mask=pm, want=want)

# --- embedding ---
table = rnd(33, 7)
ids = torch.tensor([0, 32, 5, 5, 17, 1], dtype=torch.int64)
put("embedding", {}, table=table, ids=ids, want=F.embedding(ids, table))

# --- write safetensors: 8-byte LE header length, JSON header, raw little-endian data ---
header, blobs, off = {"__metadata__": meta}, [], 0
for name in sorted(tensors):
    t = tensors[name]
    dt = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
    raw = t.numpy().tobytes()
    header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
    blobs.append(raw)
    off += len(raw)
hb = json.dumps(header, separators=(",", ":")).encode()
hb += b" " * (-len(hb) % 8)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "core", "kernels", "testdata",
                   "golden.safetensors")
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(hb)))
    f.write(hb)
    for b in blobs:
        f.write(b)
print(f"wrote {os.path.normpath(out)}: {len(tensors)} tensors, {off + len(hb) + 8} bytes", file=sys.stderr)
