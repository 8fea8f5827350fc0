# PyTorch side of `plexus bench asr`: speech recognisers on 10 s of 16 kHz audio, in
# seconds of audio per second (the inverse of the real-time factor), batch 1, in
# inference mode. Keys must match cmd/plexus/bench_asr.go.
#
# wav2vec2: torchaudio's wav2vec2_base with a 29-class CTC head (WAV2VEC2_ASR_BASE_960H's
# shape) and its default random weights.
# compact: the compact log-mel Transformer-CTC of speech/asr at its default config (the
# same model as tools/golden/asr.py's CompactASR, copied here because this script runs
# embedded in the plexus binary; keep the two in step), log-mel front end included.
import math

import torch.nn as nn
import torch.nn.functional as F
import torchaudio
from torchaudio.models import wav2vec2_base

out = {}
torch.manual_seed(0)
x = torch.randn(1, 16000 * 10) * 0.1
model = wav2vec2_base(aux_num_out=29).eval()
with torch.inference_mode():
    out["wav2vec2 base 10s b1"] = 10.0 / median(lambda: model(x))


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
                 d_model=144, heads=4, ff_dim=576, layers=6, layer_norm_eps=1e-5, n_labels=29):
        super().__init__()
        self.stride2 = subsampling // 2
        self.d = d_model
        self.mel = torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
        self.subsample = Subsample(n_mels, d_model, self.stride2)
        layer = nn.TransformerEncoderLayer(d_model, heads, ff_dim, dropout=0.0, activation="relu",
                                           layer_norm_eps=layer_norm_eps, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model, eps=layer_norm_eps),
                                             enable_nested_tensor=False)
        self.ctc = nn.Linear(d_model, n_labels)

    def features(self, wav):
        m = torch.log(self.mel(wav) + 1e-6)
        mean = m.mean(dim=1, keepdim=True)
        var = ((m - mean) ** 2).mean(dim=1, keepdim=True)
        return (m - mean) / torch.sqrt(var + 1e-5)

    def forward(self, wav):  # one waveform: batch 1, no padding
        h = F.relu(self.subsample.conv1(self.features(wav)[None]))
        h = F.relu(self.subsample.conv2(h))
        y = h.transpose(1, 2) + positional_encoding(h.shape[2], self.d)
        return self.ctc(self.encoder(y))


compact = CompactASR().eval()
with torch.inference_mode():
    out["compact 10s b1"] = 10.0 / median(lambda: compact(x[0]))
print(json.dumps(out))
