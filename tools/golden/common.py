"""Shared helpers for the plexus golden-fixture scripts.

Every script in tools/golden/ imports this module to seed torch the same way and to
write fixtures in the two formats the Go side reads: safetensors (written by hand,
since Debian has no safetensors package) and .npy (via numpy).

Run scripts with Debian's interpreter, from anywhere:

    /usr/bin/python3 tools/golden/weights.py

Usage inside a script:

    import common
    common.seed(0)
    out = common.testdata("core/nn/weights")       # <repo>/core/nn/weights/testdata
    common.save_safetensors(out / "x.safetensors", {"w": torch.randn(3, 4)})
    common.save_npy(out / "y.npy", torch.randn(2, 2))
"""

import json
import os
import pathlib
import random
import struct

import numpy as np
import torch

# REPO is the repository root: tools/golden/common.py -> ../..
REPO = pathlib.Path(__file__).resolve().parent.parent.parent

# torch dtype -> safetensors dtype tag. The Go reader accepts exactly these
# (plus F64); keep the two lists in step.
ST_DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
_ST_TO_TORCH = {v: k for k, v in ST_DTYPES.items()}


def seed(s=0):
    """Seed torch, numpy and random, and pin torch to deterministic algorithms."""
    torch.manual_seed(s)
    np.random.seed(s)
    random.seed(s)
    torch.use_deterministic_algorithms(True, warn_only=True)


def testdata(pkg):
    """Return <repo>/<pkg>/testdata as a Path, creating it if needed."""
    p = REPO / pkg / "testdata"
    p.mkdir(parents=True, exist_ok=True)
    return p


def tensor_bytes(t):
    """Raw little-endian bytes of a tensor in row-major (contiguous) order."""
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        # numpy has no bfloat16: reinterpret the 16-bit pattern.
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    if t.dtype == torch.bool:
        return t.numpy().astype(np.uint8).tobytes()
    a = t.numpy()
    return a.astype(a.dtype.newbyteorder("<")).tobytes()


def save_safetensors(path, tensors, metadata=None):
    """Write tensors (name -> torch.Tensor) as a safetensors file.

    Layout: 8-byte little-endian header length, a JSON header
    {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}},
    padded with spaces to a multiple of 8, then the raw bytes in header order.
    """
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        if t.dtype not in ST_DTYPES:
            raise ValueError(f"{name}: dtype {t.dtype} has no safetensors tag here")
        b = tensor_bytes(t)
        header[name] = {
            "dtype": ST_DTYPES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(b)],
        }
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path):
    """Read a safetensors file back into (dict of torch.Tensor, metadata)."""
    data = pathlib.Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = _ST_TO_TORCH[info["dtype"]]
        raw = bytearray(data[base + b : base + e])
        if dt == torch.bool:
            t = torch.frombuffer(raw, dtype=torch.uint8).bool() if raw else torch.empty(0, dtype=dt)
        else:
            t = torch.frombuffer(raw, dtype=dt) if raw else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"])
    return out, meta


def save_npy(path, x, dtype=None):
    """Write a tensor or array as .npy (float32 unless dtype says otherwise).

    bfloat16 cannot be stored in .npy; it is widened to float32.
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dtype == torch.bfloat16:
            x = x.float()
        x = x.numpy()
    x = np.ascontiguousarray(x, dtype=dtype if dtype is not None else (np.float32 if x.dtype.kind == "f" else x.dtype))
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, x)


def rel_err(ours, ref):
    """max|ours-ref| / max|ref| in float32, the project's one agreement measure."""
    ours = torch.as_tensor(ours, dtype=torch.float32)
    ref = torch.as_tensor(ref, dtype=torch.float32)
    denom = ref.abs().max().item()
    diff = (ours - ref).abs().max().item()
    return diff / denom if denom else diff


def write_json(path, obj):
    """Write obj as indented JSON (configs beside weights)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
