"""Golden fixtures for core/nn's TransformerLayer, with seeded random weights.

    /usr/bin/python3 tools/golden/transformer.py

One safetensors file per case in core/nn/testdata/ (transformer_*.safetensors), laid
out like tools/golden/nn.py's: parameters under their PyTorch names, inputs under
"in.*", the reference under "out.*", the layer's config as JSON metadata. The cases are
torch.nn.TransformerEncoderLayer (post- and pre-norm, fused in_proj_weight) and
torchaudio's wav2vec2 EncoderLayer (post- and pre-norm, separate q/k/v projections,
torchaudio's additive -10000 padding mask), all batched with padding. LayerNorm
parameters are randomised so that swapping the two norms would fail the test.
"""

import json
import pathlib
import sys

import torch
import torch.nn as tnn
from torchaudio.models.wav2vec2 import components as w2v

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402

OUT = common.testdata("core/nn")


class Wrap(tnn.Module):
    def __init__(self, **mods):
        super().__init__()
        for k, v in mods.items():
            self.add_module(k, v)


def randomize_norms(m):
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, tnn.LayerNorm):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0, 0.2)


def save(name, module, inputs, outputs, config):
    tensors = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
    for k, v in inputs.items():
        tensors["in." + k] = v.detach().contiguous()
    for k, v in outputs.items():
        tensors["out." + k] = v.detach().contiguous()
    common.save_safetensors(OUT / (name + ".safetensors"), tensors, {"config": json.dumps(config, sort_keys=True)})


def padded_input(lengths, dim):
    x = torch.randn(len(lengths), max(lengths), dim)
    pad = torch.arange(max(lengths))[None, :] >= torch.tensor(lengths)[:, None]
    return x, pad


def torch_cases():
    for name, norm_first, act, eps in [
        ("transformer_torch_post_relu", False, "relu", 1e-5),
        ("transformer_torch_pre_gelu", True, "gelu", 1e-6),
    ]:
        layer = tnn.TransformerEncoderLayer(32, 4, dim_feedforward=48, dropout=0.0, activation=act,
                                            layer_norm_eps=eps, batch_first=True, norm_first=norm_first)
        randomize_norms(layer)
        layer.eval()
        x, pad = padded_input([7, 4, 1], 32)
        # Parameters require grad, so PyTorch 1.13 skips its fused inference fast path
        # (which zeroes padded rows); the reference is the plain composition.
        y = layer(x, src_key_padding_mask=pad)
        save(name, Wrap(enc=layer), {"x": x, "key_padding_mask": pad.float()}, {"y": y},
             {"prefix": "enc", "heads": 4, "pre_norm": norm_first, "activation": act, "eps": eps,
              "names": "torch"})


def wav2vec2_cases():
    for name, norm_first in [("transformer_wav2vec2_post", False), ("transformer_wav2vec2_pre", True)]:
        layer = w2v.EncoderLayer(
            attention=w2v.SelfAttention(embed_dim=48, num_heads=6),
            dropout=0.0,
            layer_norm_first=norm_first,
            feed_forward=w2v.FeedForward(48, 80, 0.0, 0.0),
        )
        randomize_norms(layer)
        layer.eval()
        x, pad = padded_input([9, 5], 48)
        # torchaudio's Encoder._preprocess: -10000 at padded keys, every query.
        mask = (-10000.0 * pad[:, None, None, :].float()).expand(2, 1, 9, 9)
        y = layer(x, mask)
        save(name, Wrap(layers=Wrap(**{"3": layer})), {"x": x, "key_padding_mask": pad.float()}, {"y": y},
             {"prefix": "layers.3", "heads": 6, "pre_norm": norm_first, "activation": "gelu", "eps": 1e-5,
              "names": "wav2vec2"})


def main():
    common.seed(0)
    torch_cases()
    wav2vec2_cases()
    files = list(OUT.glob("transformer_*.safetensors"))
    print(f"core/nn/testdata: {len(files)} transformer fixtures, {sum(p.stat().st_size for p in files)} bytes")


if __name__ == "__main__":
    main()
