# PyTorch side of `plexus bench nlp`: LSTM language-model generation (batch 1) and
# training (batch 32 x 128, Adam with clipping), and BERT-base inference. The models
# match cmd/plexus/bench_nlp.go; keys too.
#
# Debian's torch calls the reference BLAS for matrix products (torch.mm, nn.Linear,
# nn.LSTM: about 1 GFLOP/s here), so, as tools/bench/kernels.py does, every product
# runs through oneDNN as a 1x1 convolution over a batch of rows: that is the fast GEMM
# PyTorch has on this machine, forwards and backwards. The LSTM is written out step by
# step on those products (what nn.LSTM computes, gates i, f, g, o).
import math

from torch import nn
import torch.nn.functional as F

out = {}
torch.manual_seed(0)


def linear(x, w, b=None):
    # x: (..., K), w: (N, K) -> x @ w.T + b, on oneDNN: the rows of x are the pixels of
    # one K-channel image (the faster of the 1x1-convolution layouts here, as in
    # kernels.py).
    shape = x.shape
    r = x.reshape(-1, shape[-1])
    y = F.conv2d(r.t().reshape(1, shape[-1], 1, r.shape[0]), w.view(w.shape[0], w.shape[1], 1, 1), b)
    return y.view(w.shape[0], r.shape[0]).t().reshape(*shape[:-1], w.shape[0])


V, E, H, L = 256, 256, 512, 2


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        k = 1 / math.sqrt(H)
        self.embedding = nn.Embedding(V, E)
        self.wih = nn.ParameterList([nn.Parameter(torch.empty(4 * H, E if l == 0 else H).uniform_(-k, k)) for l in range(L)])
        self.whh = nn.ParameterList([nn.Parameter(torch.empty(4 * H, H).uniform_(-k, k)) for l in range(L)])
        self.b = nn.ParameterList([nn.Parameter(torch.empty(4 * H).uniform_(-k, k)) for l in range(L)])
        self.fcw = nn.Parameter(torch.empty(V, H).uniform_(-k, k))
        self.fcb = nn.Parameter(torch.zeros(V))

    def forward(self, x, state=None):
        B, T = x.shape
        inp = self.embedding(x)
        if state is None:
            state = [(torch.zeros(B, H), torch.zeros(B, H)) for _ in range(L)]
        new = []
        for l in range(L):
            gx = linear(inp, self.wih[l], self.b[l])  # all steps at once
            h, c = state[l]
            hs = []
            for t in range(T):
                g = gx[:, t] + linear(h, self.whh[l])
                i, f, gg, o = g.chunk(4, 1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
                h = torch.sigmoid(o) * torch.tanh(c)
                hs.append(h)
            inp = torch.stack(hs, 1)
            new.append((h, c))
        return linear(inp, self.fcw, self.fcb), new


lm = LM()
N = 64 if QUICK else 200


def generate():
    x = torch.tensor([[65]])
    st = None
    with torch.no_grad():
        for _ in range(N):
            logits, st = lm(x, st)
            p = torch.softmax(logits[0, -1] / 0.8, -1)
            x = torch.multinomial(p, 1).view(1, 1)


out["lstm generate b1"] = N / median(generate)

B, T = 32, 128
opt = torch.optim.Adam(lm.parameters(), lr=1e-3)


def train_step():
    x = torch.randint(0, V, (B, T))
    y = torch.randint(0, V, (B, T))
    opt.zero_grad()
    logits, _ = lm(x)
    loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
    loss.backward()
    nn.utils.clip_grad_norm_(lm.parameters(), 1.0)
    opt.step()


RUNS, WARMUP = min(RUNS, 3), 1  # a step takes seconds
out["lstm train 32x128"] = B * T / median(train_step)


class Lin(nn.Linear):
    def forward(self, x):
        return linear(x, self.weight, self.bias)


class Layer(nn.Module):
    def __init__(self, d, heads, inter):
        super().__init__()
        self.heads = heads
        self.qkv, self.o = Lin(d, 3 * d), Lin(d, d)
        self.n1, self.n2 = nn.LayerNorm(d, eps=1e-12), nn.LayerNorm(d, eps=1e-12)
        self.i, self.out = Lin(d, inter), Lin(inter, d)

    def forward(self, x, ext):
        b, n, d = x.shape
        hd = d // self.heads
        q, k, v = (t.reshape(b, n, self.heads, hd).transpose(1, 2) for t in self.qkv(x).split(d, -1))
        p = (q @ k.transpose(-1, -2) / math.sqrt(hd) + ext).softmax(-1)
        a = self.n1(self.o((p @ v).transpose(1, 2).reshape(b, n, d)) + x)
        return self.n2(self.out(F.gelu(self.i(a))) + a)


class Bert(nn.Module):
    def __init__(self, vocab=30522, d=768, layers=12, heads=12, inter=3072, maxpos=512):
        super().__init__()
        self.word, self.pos, self.typ = nn.Embedding(vocab, d), nn.Embedding(maxpos, d), nn.Embedding(2, d)
        self.norm = nn.LayerNorm(d, eps=1e-12)
        self.layers = nn.ModuleList([Layer(d, heads, inter) for _ in range(layers)])
        self.pool = Lin(d, d)

    def forward(self, ids, mask):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.norm(self.word(ids) + self.pos(pos) + self.typ(torch.zeros_like(ids)))
        ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for l in self.layers:
            x = l(x, ext)
        return x, torch.tanh(self.pool(x[:, 0]))


bert = Bert().eval()
BB, BL = 8, 128
ids = torch.randint(0, 30522, (BB, BL))
mask = torch.ones(BB, BL, dtype=torch.long)
with torch.no_grad():
    out["bert-base b8 len128"] = BB / median(lambda: bert(ids, mask))
print(json.dumps(out))
