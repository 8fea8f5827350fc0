"""PyTorch reference WaveNet for speech/wavenet, and its golden fixtures.

    /usr/bin/python3 tools/golden/wavenet.py

The parameter names are r9y9/wavenet_vocoder's, so its checkpoints load as they are:

    first_conv.weight/bias                      Conv1d(in, R, 1); in = 1 (scalar input)
                                                or out_channels (one-hot mu-law input)
    conv_layers.{i}.conv.weight/bias            Conv1d(R, G, K, dilation=2**(i % (L/S))), causal
    conv_layers.{i}.conv1x1c.weight             Conv1d(cin, G, 1, bias=False)  (local cond.)
    conv_layers.{i}.conv1x1g.weight             Conv1d(gin, G, 1, bias=False)  (global cond.)
    conv_layers.{i}.conv1x1_out.weight/bias     Conv1d(G/2, R, 1)
    conv_layers.{i}.conv1x1_skip.weight/bias    Conv1d(G/2, S, 1)
    last_conv_layers.1.weight/bias              Conv1d(S, S, 1)  (after a ReLU)
    last_conv_layers.3.weight/bias              Conv1d(S, out, 1) (after a ReLU)
    embed_speakers.weight                       Embedding(n_speakers, gin)
    upsample_net.up_layers.{2j+1}.weight        Conv2d(1, 1, (1, 2s+1), padding=(0, s), bias=False)
                                                after nearest-neighbour stretch by s

A residual layer splits the G gate channels into halves a, b (conditioning projections
added to each), computes z = tanh(a)·sigmoid(b), and returns
((conv1x1_out(z) + x)·sqrt(0.5), conv1x1_skip(z)); the skips are summed and scaled by
sqrt(1/L). The output is 256-way mu-law logits or, with output "mol", a mixture of
logistics (3·n_mix channels: logits, means, log-scales).

The fixtures (speech/wavenet/testdata/*.safetensors) hold the weights under these names,
the input under in.x (B×in×T), in.c (B×cin×frames), in.g (B speaker ids), the model's
output under out.y and the config JSON in metadata "config".
"""

import json
import math
import pathlib
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402


class Conv1d(nn.Conv1d):
    """Causal dilated convolution: pads (K-1)*dilation and keeps the first T outputs."""

    def forward(self, x):
        y = super().forward(x)
        return y[:, :, : x.size(-1)]


class ResidualConv1dGLU(nn.Module):
    def __init__(self, residual_channels, gate_channels, kernel_size, skip_out_channels, cin_channels, gin_channels, dilation):
        super().__init__()
        pad = (kernel_size - 1) * dilation
        self.conv = Conv1d(residual_channels, gate_channels, kernel_size, padding=pad, dilation=dilation)
        self.conv1x1c = nn.Conv1d(cin_channels, gate_channels, 1, bias=False) if cin_channels > 0 else None
        self.conv1x1g = nn.Conv1d(gin_channels, gate_channels, 1, bias=False) if gin_channels > 0 else None
        half = gate_channels // 2
        self.conv1x1_out = nn.Conv1d(half, residual_channels, 1)
        self.conv1x1_skip = nn.Conv1d(half, skip_out_channels, 1)

    def forward(self, x, c=None, g=None):
        residual = x
        x = self.conv(x)
        a, b = x.split(x.size(1) // 2, dim=1)
        if c is not None:
            ca, cb = self.conv1x1c(c).split(a.size(1), dim=1)
            a, b = a + ca, b + cb
        if g is not None:
            ga, gb = self.conv1x1g(g).split(a.size(1), dim=1)
            a, b = a + ga, b + gb
        z = torch.tanh(a) * torch.sigmoid(b)
        s = self.conv1x1_skip(z)
        x = (self.conv1x1_out(z) + residual) * math.sqrt(0.5)
        return x, s


class Stretch2d(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s

    def forward(self, c):
        return F.interpolate(c, scale_factor=(1, self.s), mode="nearest")


class UpsampleNetwork(nn.Module):
    def __init__(self, scales):
        super().__init__()
        layers = []
        for s in scales:
            conv = nn.Conv2d(1, 1, (1, 2 * s + 1), padding=(0, s), bias=False)
            layers += [Stretch2d(s), conv]
        self.up_layers = nn.ModuleList(layers)

    def forward(self, c):  # B x C x frames -> B x C x frames*prod(scales)
        c = c.unsqueeze(1)
        for f in self.up_layers:
            c = f(c)
        return c.squeeze(1)


class WaveNet(nn.Module):
    def __init__(self, out_channels=256, layers=20, stacks=2, residual_channels=64, gate_channels=128,
                 skip_out_channels=256, kernel_size=2, cin_channels=80, gin_channels=-1, n_speakers=0,
                 upsample_scales=(4, 4, 4), scalar_input=False, **_):
        super().__init__()
        self.scalar_input = scalar_input
        self.out_channels = out_channels
        per = layers // stacks
        self.first_conv = nn.Conv1d(1 if scalar_input else out_channels, residual_channels, 1)
        self.conv_layers = nn.ModuleList([
            ResidualConv1dGLU(residual_channels, gate_channels, kernel_size, skip_out_channels,
                              cin_channels, gin_channels, 2 ** (i % per)) for i in range(layers)])
        self.last_conv_layers = nn.ModuleList([
            nn.ReLU(), nn.Conv1d(skip_out_channels, skip_out_channels, 1),
            nn.ReLU(), nn.Conv1d(skip_out_channels, out_channels, 1)])
        self.embed_speakers = nn.Embedding(n_speakers, gin_channels) if gin_channels > 0 else None
        self.upsample_net = UpsampleNetwork(upsample_scales) if cin_channels > 0 else None

    def forward(self, x, c=None, g=None):
        """x: B x in x T (one-hot or scalar); c: B x cin x frames; g: B speaker ids."""
        T = x.size(-1)
        if g is not None:
            g = self.embed_speakers(g).unsqueeze(-1)  # B x gin x 1, broadcast over time
        if c is not None:
            c = self.upsample_net(c)[:, :, :T]
        x = self.first_conv(x)
        skips = 0
        for f in self.conv_layers:
            x, h = f(x, c, g)
            skips = skips + h
        x = skips * math.sqrt(1.0 / len(self.conv_layers))
        for f in self.last_conv_layers:
            x = f(x)
        return x


def randomize(model):
    """Random weights at a scale that keeps activations away from saturation."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "up_layers" in name:
                p.uniform_(0.05, 0.4)
            elif p.dim() > 1:
                fan_in = p[0].numel()
                p.normal_(0, 1.0 / math.sqrt(fan_in))
            else:
                p.normal_(0, 0.1)


def case(name, cfg, B, T, seed):
    torch.manual_seed(seed)
    m = WaveNet(**cfg).eval()
    randomize(m)
    hop = 1
    for s in cfg.get("upsample_scales", []):
        hop *= s
    if cfg.get("scalar_input"):
        x = torch.rand(B, 1, T) * 1.6 - 0.8
    else:
        ids = torch.randint(0, cfg["out_channels"], (B, T))
        x = F.one_hot(ids, cfg["out_channels"]).transpose(1, 2).float()
    tensors = {k: v.detach().contiguous() for k, v in m.state_dict().items()}
    c = g = None
    if cfg.get("cin_channels", -1) > 0:
        frames = (T + hop - 1) // hop
        c = torch.randn(B, cfg["cin_channels"], frames)
        tensors["in.c"] = c
    if cfg.get("gin_channels", -1) > 0:
        g = torch.randint(0, cfg["n_speakers"], (B,))
        tensors["in.g"] = g
    with torch.no_grad():
        y = m(x, c, g)
    tensors["in.x"] = x
    tensors["out.y"] = y
    full = dict(cfg)
    common.save_safetensors(OUT / (name + ".safetensors"), tensors, {"config": json.dumps(full, sort_keys=True)})
    print(name, list(y.shape), sum(v.numel() for v in m.state_dict().values()), "params")


OUT = common.testdata("speech/wavenet")

if __name__ == "__main__":
    common.seed(0)
    case("mulaw_local", dict(out_channels=256, layers=6, stacks=2, residual_channels=16, gate_channels=32,
                             skip_out_channels=24, kernel_size=2, cin_channels=8, gin_channels=-1,
                             upsample_scales=[2, 3], scalar_input=False), B=2, T=61, seed=1)
    case("mulaw_global_k3", dict(out_channels=64, layers=5, stacks=1, residual_channels=12, gate_channels=20,
                                 skip_out_channels=16, kernel_size=3, cin_channels=6, gin_channels=5, n_speakers=4,
                                 upsample_scales=[4], scalar_input=False), B=3, T=47, seed=2)
    case("mol_uncond", dict(out_channels=30, layers=4, stacks=2, residual_channels=8, gate_channels=16,
                            skip_out_channels=12, kernel_size=2, cin_channels=-1, gin_channels=-1,
                            upsample_scales=[], scalar_input=True, output="mol"), B=2, T=40, seed=3)
