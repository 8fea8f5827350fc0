# PyTorch side of `plexus bench speech`: WaveNet fast generation (samples/s), log-mel
# features and resampling (seconds of audio per second). Keys must match
# cmd/plexus/bench_speech.go.
#
# The generation loop is the usual fast-generation scheme (r9y9/wavenet_vocoder's
# incremental_forward, Paine et al.'s queues): per layer a queue of past inputs, each
# convolution a linear layer over the current and the dilated-past input, the
# conditioning projections computed for all steps at once beforehand.
import math

import torch.nn.functional as F
import torchaudio.functional as AF
import torchaudio.transforms as T

out = {}
torch.manual_seed(0)
L, STACKS, R, G, S, OUT, CIN, K = 20, 2, 64, 128, 256, 256, 80, 2
per = L // STACKS
layers = []
for i in range(L):
    d = 2 ** (i % per)
    layers.append(dict(
        d=d,
        conv=torch.randn(G, R * K) / math.sqrt(R * K), conv_b=torch.zeros(G),
        cond=torch.randn(G, CIN) / math.sqrt(CIN),
        out=torch.randn(R, G // 2) / math.sqrt(G // 2), out_b=torch.zeros(R),
        skip=torch.randn(S, G // 2) / math.sqrt(G // 2), skip_b=torch.zeros(S)))
first = torch.randn(R, OUT) / math.sqrt(OUT)
first_b = torch.zeros(R)
last1, last1_b = torch.randn(S, S) / math.sqrt(S), torch.zeros(S)
last2, last2_b = torch.randn(OUT, S) / math.sqrt(S), torch.zeros(OUT)


def generate(n):
    c = torch.randn(n, CIN)
    cproj = [c @ l["cond"].t() for l in layers]  # n x G each
    queues = [torch.zeros((K - 1) * l["d"] + 1, R) for l in layers]
    q = 128
    samples = []
    sq = math.sqrt(0.5)
    with torch.no_grad():
        for t in range(n):
            x = first[:, q] + first_b
            skips = torch.zeros(S)
            for li, l in enumerate(layers):
                buf = queues[li]
                buf = torch.cat([buf[1:], x.unsqueeze(0)])  # shift in the newest input
                queues[li] = buf
                inp = torch.cat([buf[0], buf[-1]]) if K == 2 else buf[:: l["d"]].reshape(-1)
                g = torch.addmv(l["conv_b"], l["conv"], inp) + cproj[li][t]
                a, b = g.split(G // 2)
                z = torch.tanh(a) * torch.sigmoid(b)
                skips += torch.addmv(l["skip_b"], l["skip"], z)
                x = (torch.addmv(l["out_b"], l["out"], z) + x) * sq
            h = F.relu(skips * math.sqrt(1.0 / L))
            h = F.relu(torch.addmv(last1_b, last1, h))
            logits = torch.addmv(last2_b, last2, h)
            p = torch.softmax(logits, 0)
            q = int(torch.multinomial(p, 1))
            samples.append(q)
    return samples


# A step is some 200 tiny ops: one thread runs them faster than a team that must
# synchronise on each, so the loop gets PyTorch's best setting for it.
threads = torch.get_num_threads()
best = 0.0
for th in sorted({1, threads}):
    torch.set_num_threads(th)
    n = 1000 if QUICK else 4000
    generate(200)  # warm-up
    t0 = time.perf_counter()
    generate(n)
    best = max(best, n / (time.perf_counter() - t0))
torch.set_num_threads(threads)
out["wavenet generate 16k b1"] = best

x = torch.randn(16000 * 10) * 0.1
mel = T.MelSpectrogram(sample_rate=16000, n_fft=1024, hop_length=256, n_mels=80)
out["logmel 16k 80"] = 10.0 / median(lambda: mel(x))
y = torch.randn(22050 * 10) * 0.1
out["resample 22050-16000"] = 10.0 / median(lambda: AF.resample(y, 22050, 16000))
print(json.dumps(out))
