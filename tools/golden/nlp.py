"""Golden fixtures for nlp/lstm and nlp/bert, from plain PyTorch with seeded random weights.

    /usr/bin/python3 tools/golden/nlp.py

nlp/lstm/testdata: the LSTM language model GPT3(vocab_size, hidden_size, output_size)
(submodules embedding, lstm, fc; two layers, batch_first), its logits for a fixed batch
of token ids in one call, and in two calls with the state carried between them.

nlp/bert/testdata: a small BertModel built here with Hugging Face's parameter names
(there is no transformers package in Debian), its last_hidden_state and pooler_output
for a padded batch, the mean-pooled sentence embedding, and a sequence-classification
head's logits. bert_cls.safetensors holds the same weights as a
BertForSequenceClassification checkpoint would name them ("bert." prefix, the old
LayerNorm gamma/beta names, a cls.* head the model must skip, a classifier).
"""

import math

import torch
from torch import nn

import common


class GPT3(nn.Module):
    def __init__(self, vocab_size, hidden_size, output_size, num_layers=2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.lstm = nn.LSTM(hidden_size, hidden_size, num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embedding(x), state)
        return self.fc(out), state


def lstm_fixtures():
    common.seed(7)
    out = common.testdata("nlp/lstm")
    m = GPT3(37, 24, 37).eval()
    with torch.no_grad():
        # Biases are zero-initialised by nothing in PyTorch, but make them clearly
        # non-zero and different so a bias_ih/bias_hh mix-up shows.
        for name, p in m.named_parameters():
            if "bias" in name:
                p.uniform_(-0.5, 0.5)
        ids = torch.randint(0, 37, (3, 9))
        full, (h, c) = m(ids)
        a, st = m(ids[:, :5])
        b, (h2, c2) = m(ids[:, 5:], st)
    assert common.rel_err(torch.cat([a, b], 1), full) < 1e-5
    sd = {k: v.detach().clone() for k, v in m.state_dict().items()}
    common.save_safetensors(out / "gpt3.safetensors", sd)
    common.write_json(out / "gpt3.config.json", {"architecture": "lstm-lm", "vocab_size": 37, "hidden_size": 24,
                                                  "output_size": 37, "num_layers": 2})
    common.save_npy(out / "gpt3.ids.npy", ids.numpy().astype("int64"), dtype="int64")
    common.save_npy(out / "gpt3.logits.npy", full)
    common.save_npy(out / "gpt3.logits_a.npy", a)
    common.save_npy(out / "gpt3.logits_b.npy", b)
    common.save_npy(out / "gpt3.h_n.npy", h2)
    common.save_npy(out / "gpt3.c_n.npy", c2)


class Cfg:
    vocab_size = 99
    hidden_size = 32
    num_hidden_layers = 2
    num_attention_heads = 4
    intermediate_size = 64
    max_position_embeddings = 40
    type_vocab_size = 2
    layer_norm_eps = 1e-12
    num_labels = 3


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, ids, types):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.word_embeddings(ids) + self.position_embeddings(pos) + self.token_type_embeddings(types)
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, x, ext_mask):
        b, n, d = x.shape
        hd = d // self.heads

        def split(t):
            return t.view(b, n, self.heads, hd).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        s = q @ k.transpose(-1, -2) / math.sqrt(hd) + ext_mask
        p = s.softmax(-1)
        return (p @ v).transpose(1, 2).reshape(b, n, d)


class DenseNorm(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        self.dense = nn.Linear(cin, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, x, res):
        return self.LayerNorm(self.dense(x) + res)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = SelfAttention(c)
        self.output = DenseNorm(c.hidden_size, c)

    def forward(self, x, m):
        return self.output(self.self(x, m), x)


class Intermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)

    def forward(self, x):
        return nn.functional.gelu(self.dense(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = Attention(c)
        self.intermediate = Intermediate(c)
        self.output = DenseNorm(c.intermediate_size, c)

    def forward(self, x, m):
        a = self.attention(x, m)
        return self.output(self.intermediate(a), a)


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([Layer(c) for _ in range(c.num_hidden_layers)])

    def forward(self, x, m):
        for l in self.layer:
            x = l(x, m)
        return x


class Pooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class BertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        self.pooler = Pooler(c)

    def forward(self, ids, mask, types):
        # Hugging Face's extended attention mask: (1 - mask) · finfo.min, added to the scores.
        ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        h = self.encoder(self.embeddings(ids, types), ext)
        return h, self.pooler(h)


def bert_fixtures():
    common.seed(11)
    out = common.testdata("nlp/bert")
    c = Cfg()
    m = BertModel(c).eval()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "LayerNorm" in name:
                # Non-trivial norms, so that a gamma/beta mix-up shows.
                p.copy_(torch.rand_like(p) + 0.5 if name.endswith("weight") else torch.randn_like(p) * 0.1)
        cls = nn.Linear(c.hidden_size, c.num_labels)
        lengths = [7, 4, 1]
        n = max(lengths)
        ids = torch.zeros(len(lengths), n, dtype=torch.long)
        types = torch.zeros(len(lengths), n, dtype=torch.long)
        mask = torch.zeros(len(lengths), n, dtype=torch.long)
        for i, L in enumerate(lengths):
            ids[i, :L] = torch.randint(1, c.vocab_size, (L,))
            ids[i, 0] = 2  # [CLS]-like
            types[i, L // 2:L] = 1
            mask[i, :L] = 1
        h, pooled = m(ids, mask, types)
        mean = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        logits = cls(pooled)
    sd = {k: v.detach().clone() for k, v in m.state_dict().items()}
    common.save_safetensors(out / "bert.safetensors", sd)
    cfg = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": c.vocab_size,
           "hidden_size": c.hidden_size, "num_hidden_layers": c.num_hidden_layers,
           "num_attention_heads": c.num_attention_heads, "intermediate_size": c.intermediate_size,
           "hidden_act": "gelu", "max_position_embeddings": c.max_position_embeddings,
           "type_vocab_size": c.type_vocab_size, "layer_norm_eps": c.layer_norm_eps,
           "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "pad_token_id": 0,
           "initializer_range": 0.02, "position_embedding_type": "absolute", "torch_dtype": "float32"}
    common.write_json(out / "bert.config.json", cfg)
    legacy = {}
    for k, v in sd.items():
        k = "bert." + k
        if "LayerNorm" in k:
            k = k.replace(".weight", ".gamma").replace(".bias", ".beta")
        legacy[k] = v
    legacy["classifier.weight"] = cls.weight.detach().clone()
    legacy["classifier.bias"] = cls.bias.detach().clone()
    legacy["cls.predictions.bias"] = torch.zeros(c.vocab_size)
    legacy["cls.predictions.transform.dense.weight"] = torch.zeros(c.hidden_size, c.hidden_size)
    common.save_safetensors(out / "bert_cls.safetensors", legacy)
    ccfg = dict(cfg, architectures=["BertForSequenceClassification"],
                id2label={"0": "negative", "1": "neutral", "2": "positive"},
                label2id={"negative": 0, "neutral": 1, "positive": 2})
    common.write_json(out / "bert_cls.config.json", ccfg)
    common.save_npy(out / "bert.ids.npy", ids.numpy().astype("int64"), dtype="int64")
    common.save_npy(out / "bert.types.npy", types.numpy().astype("int64"), dtype="int64")
    common.save_npy(out / "bert.mask.npy", mask.numpy().astype("int64"), dtype="int64")
    common.save_npy(out / "bert.last_hidden_state.npy", h)
    common.save_npy(out / "bert.pooler_output.npy", pooled)
    common.save_npy(out / "bert.mean_pooled.npy", mean)
    common.save_npy(out / "bert.logits.npy", logits)


if __name__ == "__main__":
    lstm_fixtures()
    bert_fixtures()
