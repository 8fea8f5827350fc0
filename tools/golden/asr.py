"""PyTorch reference of the compact speech recogniser (speech/asr), and golden fixtures.

    /usr/bin/python3 tools/golden/asr.py

The model: torchaudio's MelSpectrogram (n_fft 400, hop 160, power 2, HTK mels), ln(mel +
1e-6), each mel bin normalised over the utterance (population variance + 1e-5); two
kernel-3 padding-1 convolutions with ReLU (stride 2, then stride 2 for ×4 subsampling or
1 for ×2), frames past an utterance's end zeroed after the first; sinusoidal positions
added; torch.nn.TransformerEncoder of pre-norm layers (norm_first=True, ReLU, no dropout)
with a final LayerNorm; a Linear CTC head over the labels (blank first). Its state_dict
names are the Go model's parameter names:

    subsample.conv1.{weight,bias}  subsample.conv2.{weight,bias}
    encoder.layers.N.{self_attn.in_proj_weight, self_attn.in_proj_bias,
        self_attn.out_proj.{weight,bias}, linear1.*, linear2.*, norm1.*, norm2.*}
    encoder.norm.{weight,bias}  ctc.{weight,bias}

Fixtures:
  speech/asr/testdata/tiny.safetensors   weights of a small configuration, the input
      waveforms (in.wav.I) and the reference emissions of each (out.em.I), run as one
      padded batch; the config in the metadata.
  speech/asr/train/testdata/ctc.safetensors   random logits, targets and lengths with
      torch.nn.functional.ctc_loss(log_softmax(x), reduction="sum", zero_infinity=True)
      / batch and its gradient with respect to the logits.
"""

import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchaudio

import common


def positional_encoding(T, D):
    pe = torch.zeros(T, D, dtype=torch.float64)
    t = torch.arange(T, dtype=torch.float64)[:, None]
    i = torch.arange(0, D, 2, dtype=torch.float64)
    f = t * torch.exp(-i * math.log(10000.0) / D)
    pe[:, 0::2] = torch.sin(f)
    pe[:, 1::2] = torch.cos(f)[:, : D // 2]
    return pe.float()


class Subsample(nn.Module):
    def __init__(self, n_mels, d, stride2):
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, d, 3, stride=2, padding=1)
        self.conv2 = nn.Conv1d(d, d, 3, stride=stride2, padding=1)


class CompactASR(nn.Module):
    def __init__(self, sample_rate=16000, n_fft=400, hop_length=160, n_mels=80, subsampling=4,
                 d_model=144, heads=4, ff_dim=576, layers=6, layer_norm_eps=1e-5, labels=None):
        super().__init__()
        self.n_labels = len(labels)
        self.stride2 = subsampling // 2
        self.d = d_model
        self.mel = torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
        self.subsample = Subsample(n_mels, d_model, self.stride2)
        layer = nn.TransformerEncoderLayer(d_model, heads, ff_dim, dropout=0.0, activation="relu",
                                           layer_norm_eps=layer_norm_eps, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model, eps=layer_norm_eps),
                                             enable_nested_tensor=False)
        self.ctc = nn.Linear(d_model, self.n_labels)

    def features(self, wav):
        m = torch.log(self.mel(wav) + 1e-6)  # n_mels × frames
        m = m.double()
        mean = m.mean(dim=1, keepdim=True)
        var = ((m - mean) ** 2).mean(dim=1, keepdim=True)
        return ((m - mean) / torch.sqrt(var + 1e-5)).float()

    @staticmethod
    def conv_len(n, s):
        return (n - 1) // s + 1

    def forward(self, wavs):
        feats = [self.features(w) for w in wavs]
        frames = [f.shape[1] for f in feats]
        B, M, Fm = len(wavs), feats[0].shape[0], max(frames)
        x = torch.zeros(B, M, Fm)
        for b, f in enumerate(feats):
            x[b, :, : f.shape[1]] = f
        h = F.relu(self.subsample.conv1(x))
        for b, f in enumerate(frames):
            h[b, :, self.conv_len(f, 2):] = 0
        h = F.relu(self.subsample.conv2(h))
        T = h.shape[2]
        y = h.transpose(1, 2) + positional_encoding(T, self.d)
        lens = [self.conv_len(self.conv_len(f, 2), self.stride2) for f in frames]
        pad = torch.arange(T)[None, :] >= torch.tensor(lens)[:, None]
        y = self.encoder(y, src_key_padding_mask=pad)
        z = self.ctc(y)
        return [z[b, : lens[b]] for b in range(B)]


def randomize(model):
    """Weights at a scale that keeps every layer's output O(1), non-trivial biases and norms."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                p.normal_(0, 1.0 / math.sqrt(p[0].numel()))
            elif "norm" in name and name.endswith("weight"):
                p.normal_(1.0, 0.2)
            else:
                p.normal_(0, 0.2)


def labels():
    return ["-", " ", "'"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]


def tiny():
    cfg = dict(architecture="asr-ctc", sample_rate=16000, n_fft=400, hop_length=160, n_mels=20, subsampling=4,
               d_model=16, heads=2, ff_dim=24, layers=2, layer_norm_eps=1e-5, labels=labels())
    torch.manual_seed(1)
    args = {k: v for k, v in cfg.items() if k != "architecture"}
    m = CompactASR(**args).eval()
    randomize(m)
    wavs = []
    for n in (3200, 4960, 1920):  # 0.2, 0.31, 0.12 s
        t = torch.arange(n, dtype=torch.float32) / 16000
        f0 = 120 + 200 * torch.rand(1)
        w = 0.3 * torch.sin(2 * math.pi * f0 * t * (1 + t)) + 0.05 * torch.randn(n)
        wavs.append(w)
    with torch.no_grad():
        em = m(wavs)
    tensors = {k: v.detach().contiguous() for k, v in m.state_dict().items() if not k.startswith("mel.")}
    for i, (w, e) in enumerate(zip(wavs, em)):
        tensors["in.wav.%d" % i] = w
        tensors["out.em.%d" % i] = e.contiguous()
    out = common.testdata("speech/asr")
    common.save_safetensors(out / "tiny.safetensors", tensors, {"config": json.dumps(cfg)})
    print("tiny", [list(e.shape) for e in em])


def ctc():
    torch.manual_seed(2)
    T, B, C = 14, 4, 6
    x = torch.randn(B, T, C, dtype=torch.float64) * 2
    x.requires_grad_(True)
    lens = torch.tensor([14, 11, 7, 3])
    tlens = torch.tensor([5, 3, 3, 4])  # the last cannot fit its 3 frames: zero_infinity
    targets = torch.tensor([[1, 2, 2, 3, 5], [4, 4, 1, 0, 0], [5, 3, 1, 0, 0], [1, 2, 3, 4, 0]])
    lp = F.log_softmax(x, dim=2).transpose(0, 1)  # T × B × C
    loss = F.ctc_loss(lp, targets, lens, tlens, blank=0, reduction="sum", zero_infinity=True) / B
    loss.backward()
    out = common.testdata("speech/asr/train")
    common.save_safetensors(out / "ctc.safetensors", {
        "logits": x.detach().float(), "targets": targets, "input_lengths": lens, "target_lengths": tlens,
        "loss": loss.detach().float().reshape(1), "grad": x.grad.float(),
    })
    print("ctc loss", loss.item())


if __name__ == "__main__":
    common.seed(0)
    tiny()
    ctc()
