"""Fixtures for core/nn/weights: checkpoints saved by torch, and what they must load as.

    /usr/bin/python3 tools/golden/weights.py

For each checkpoint X.pth/X.pt/X.bin the script writes X.expected.safetensors with the
tensors the Go reader must return (contiguous, same names, same dtypes) via
common.save_safetensors, so the Go test checks the PyTorch reader against torch and the
safetensors reader against this independent writer at once. All files are tiny.
"""

import collections
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402

OUT = common.testdata("core/nn/weights")


def dtype_dict():
    """Every dtype plexus reads, plus the layouts torch produces."""
    base = torch.randn(4, 6)
    d = collections.OrderedDict()
    d["f32"] = torch.randn(3, 4)
    d["f16"] = torch.randn(2, 5).half()
    d["bf16"] = torch.randn(3, 2).bfloat16()
    d["f64"] = torch.randn(3).double()
    d["i64"] = torch.arange(-3, 9, dtype=torch.int64).reshape(3, 4)
    d["i32"] = torch.arange(5, dtype=torch.int32) * -7
    d["u8"] = torch.tensor([0, 1, 200, 255], dtype=torch.uint8)
    d["bool"] = torch.tensor([True, False, True])
    d["scalar"] = torch.tensor(3.25)
    d["empty"] = torch.zeros(0, 3)
    # Layouts: a transposed view and a column slice (non-contiguous, with an offset),
    # a row view (contiguous, offset into a shared storage), and the base itself.
    d["base"] = base
    d["base_t"] = base.t()
    d["base_cols"] = base[:, 2:5]
    d["base_row2"] = base[2]
    d["half_t"] = torch.randn(3, 2).half().t()
    d["param"] = torch.nn.Parameter(torch.randn(2, 2))
    d["big_i64"] = torch.tensor([2**40, -(2**62)], dtype=torch.int64)
    return d


def contiguous(d):
    return {k: v.detach().contiguous() for k, v in d.items()}


def model():
    torch.manual_seed(1)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 2),
    )


def main():
    common.seed(0)
    d = dtype_dict()
    torch.save(d, OUT / "dtypes.pth")
    torch.save(d, OUT / "dtypes_legacy.pth", _use_new_zipfile_serialization=False)
    common.save_safetensors(OUT / "dtypes.expected.safetensors", contiguous(d), {"format": "pt", "source": "weights.py"})

    m = model()
    opt = torch.optim.Adam(m.parameters())
    m(torch.randn(2, 3, 3, 3)).sum().backward()
    opt.step()  # optimizer state holds tensors keyed by ints: must be left out
    sd = m.state_dict()  # OrderedDict with _metadata, num_batches_tracked (int64)
    common.save_safetensors(OUT / "model.expected.safetensors", contiguous(sd))
    torch.save({"state_dict": sd, "optimizer": opt.state_dict(), "epoch": 3}, OUT / "wrapped_state_dict.pth")
    torch.save({"model": sd, "args": {"lr": 0.1, "name": "tiny"}}, OUT / "wrapped_model.pt")
    torch.save(m, OUT / "module.pt")  # a whole pickled nn.Module
    # A Hugging Face style checkpoint: prefixed names, config.json beside it.
    hf = collections.OrderedDict(("bert." + k, v) for k, v in sd.items())
    hfdir = OUT / "hf"
    hfdir.mkdir(exist_ok=True)
    torch.save(hf, hfdir / "pytorch_model.bin")
    common.write_json(hfdir / "config.json", {"architecture": "tiny", "hidden_size": 4})
    # Sharded checkpoints as transformers writes them: shards plus an index whose
    # weight_map names each tensor's shard.
    names = sorted(sd)
    halves = [names[: len(names) // 2], names[len(names) // 2 :]]
    for kind, ext in (("safetensors", "safetensors"), ("bin", "bin")):
        d = OUT / ("sharded_" + kind)
        d.mkdir(exist_ok=True)
        weight_map = {}
        for i, part in enumerate(halves):
            shard = f"model-{i + 1:05d}-of-00002.{ext}"
            tensors = {k: sd[k].contiguous() for k in part}
            if ext == "safetensors":
                common.save_safetensors(d / shard, tensors, {"format": "pt"})
            else:
                torch.save(tensors, d / shard)
            weight_map.update({k: shard for k in part})
        index = "model.safetensors.index.json" if ext == "safetensors" else "pytorch_model.bin.index.json"
        common.write_json(d / index, {"metadata": {"total_size": 0}, "weight_map": weight_map})


if __name__ == "__main__":
    main()
