"""Golden fixtures for core/nn: every layer against PyTorch, with seeded random weights.

    /usr/bin/python3 tools/golden/nn.py

Each case is one safetensors file in core/nn/testdata/: the module's parameters under
their PyTorch state-dict names (with the prefix the Go test binds), the inputs under
"in.*", the reference outputs under "out.*", and the layer configuration as JSON in the
metadata key "config". Sizes are odd (1, 7, 33, 257) where they apply and batched; the
whole directory stays well under 2 MB.
"""

import json
import math
import pathlib
import sys

import torch
import torch.nn as tnn
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402

OUT = common.testdata("core/nn")


def save(name, module_or_params, inputs, outputs, config):
    """Write one case: params (a module's state_dict or a dict), in.*, out.*, config."""
    if isinstance(module_or_params, tnn.Module):
        params = dict(module_or_params.state_dict())
    else:
        params = dict(module_or_params)
    tensors = {k: v.detach().contiguous() for k, v in params.items()}
    for k, v in inputs.items():
        tensors["in." + k] = v.detach().contiguous()
    for k, v in outputs.items():
        tensors["out." + k] = v.detach().contiguous()
    common.save_safetensors(OUT / (name + ".safetensors"), tensors, {"config": json.dumps(config, sort_keys=True)})


def randomize_bn(bn):
    """Non-trivial running statistics and affine parameters, as a trained model has."""
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_(0, 0.2)
        bn.running_mean.normal_(0, 0.3)
        bn.running_var.uniform_(0.5, 2.0)
        bn.num_batches_tracked.fill_(7)


class Wrap(tnn.Module):
    """Puts modules under a dotted prefix, so the Go side binds real-looking names."""

    def __init__(self, **mods):
        super().__init__()
        for k, v in mods.items():
            self.add_module(k, v)


# ---------------------------------------------------------------- Linear


def linear_cases():
    cases = [
        # name, in, out, input shape (batch dims), bias, activation
        ("linear_257x33", 257, 33, (7,), True, ""),
        ("linear_1x7", 1, 7, (1,), True, ""),
        ("linear_33x257_nobias_3d", 33, 257, (2, 7), False, ""),
        ("linear_7x33_gelu", 7, 33, (3, 5), True, "gelu"),
        ("linear_33x7_relu", 33, 7, (33,), True, "relu"),
    ]
    for name, i, o, bdims, bias, act in cases:
        lin = tnn.Linear(i, o, bias=bias)
        x = torch.randn(*bdims, i)
        y = lin(x)
        if act == "gelu":
            y = F.gelu(y)
        elif act == "relu":
            y = F.relu(y)
        save(name, Wrap(fc=lin), {"x": x}, {"y": y}, {"prefix": "fc", "activation": act})


# ---------------------------------------------------------------- Conv2d (+ BN)


def conv2d_cases():
    cases = [
        # name, N, C, H, W, O, k, stride, pad, dil, groups, bias, relu, residual
        ("conv2d_3x7_k3_33", 2, 3, 33, 33, 7, (3, 3), (1, 1), (1, 1), (1, 1), 1, True, False, False),
        ("conv2d_k1_pointwise", 3, 33, 7, 7, 7, (1, 1), (1, 1), (0, 0), (1, 1), 1, True, False, False),
        ("conv2d_k1_single", 1, 7, 9, 11, 33, (1, 1), (1, 1), (0, 0), (1, 1), 1, False, True, False),
        ("conv2d_s2_groups", 2, 8, 17, 15, 12, (3, 3), (2, 2), (1, 1), (1, 1), 4, True, False, False),
        ("conv2d_depthwise_dil2", 2, 7, 13, 13, 7, (3, 3), (1, 1), (2, 2), (2, 2), 7, True, True, False),
        ("conv2d_rect_1x7", 2, 5, 9, 17, 6, (1, 7), (1, 1), (0, 3), (1, 1), 1, True, False, False),
        ("conv2d_7x7_s2_n1", 1, 3, 33, 33, 7, (7, 7), (2, 2), (3, 3), (1, 1), 1, False, False, False),
        ("conv2d_residual_relu", 2, 7, 7, 7, 7, (3, 3), (1, 1), (1, 1), (1, 1), 1, True, True, True),
    ]
    for name, n, c, h, w, o, k, s, p, d, g, bias, relu, res in cases:
        conv = tnn.Conv2d(c, o, k, stride=s, padding=p, dilation=d, groups=g, bias=bias)
        x = torch.randn(n, c, h, w)
        y = conv(x)
        inputs = {"x": x}
        if res:
            r = torch.randn_like(y)
            inputs["residual"] = r
            y = y + r
        if relu:
            y = F.relu(y)
        cfg = {"prefix": "layer1.0.conv1", "stride": list(s), "padding": list(p), "dilation": list(d),
               "groups": g, "relu": relu}
        save(name, Wrap(layer1=Wrap(**{"0": Wrap(conv1=conv)})), inputs, {"y": y}, cfg)

    bn_cases = [
        # name, N, C, H, W, O, k, stride, pad, conv bias, eps, relu
        ("convbn_k3", 2, 3, 15, 15, 7, 3, 1, 1, False, 1e-5, True),
        ("convbn_k3_s2_bias_eps1e-3", 1, 7, 17, 17, 33, 3, 2, 0, True, 1e-3, False),
        ("convbn_k1_batch3", 3, 33, 5, 5, 7, 1, 1, 0, False, 1e-5, False),
    ]
    for name, n, c, h, w, o, k, s, p, bias, eps, relu in bn_cases:
        conv = tnn.Conv2d(c, o, k, stride=s, padding=p, bias=bias)
        bn = tnn.BatchNorm2d(o, eps=eps)
        randomize_bn(bn)
        bn.eval()
        x = torch.randn(n, c, h, w)
        y = bn(conv(x))
        if relu:
            y = F.relu(y)
        cfg = {"conv": "conv1", "bn": "bn1", "stride": [s, s], "padding": [p, p], "eps": eps, "relu": relu}
        save(name, Wrap(conv1=conv, bn1=bn), {"x": x}, {"y": y}, cfg)


# ---------------------------------------------------------------- Conv1d


def conv1d_cases():
    cases = [
        # name, N, C, L, O, K, stride, pad, dil, groups, causal, bias, bn
        ("conv1d_7x33_k3_257", 2, 7, 257, 33, 3, 1, 1, 1, 1, False, True, False),
        ("conv1d_causal_dil4", 2, 5, 33, 7, 2, 1, 0, 4, 1, True, True, False),
        ("conv1d_s2_groups", 3, 6, 31, 9, 5, 2, 2, 1, 3, False, False, False),
        ("conv1d_len1_k1", 4, 33, 1, 7, 1, 1, 0, 1, 1, False, True, False),
        ("conv1d_bn", 2, 7, 33, 7, 3, 1, 1, 1, 1, False, False, True),
    ]
    for name, n, c, length, o, k, s, p, d, g, causal, bias, withbn in cases:
        conv = tnn.Conv1d(c, o, k, stride=s, padding=0 if causal else p, dilation=d, groups=g, bias=bias)
        x = torch.randn(n, c, length)
        if causal:
            y = conv(F.pad(x, (d * (k - 1), 0)))
        else:
            y = conv(x)
        mods = {"conv": conv}
        cfg = {"prefix": "conv", "stride": s, "padding": p, "dilation": d, "groups": g, "causal": causal}
        if withbn:
            bn = tnn.BatchNorm1d(o)
            randomize_bn(bn)
            bn.eval()
            y = bn(y)
            mods["norm"] = bn
            cfg["bn"] = "norm"
        save(name, Wrap(**mods), {"x": x}, {"y": y}, cfg)


# ---------------------------------------------------------------- norms


def norm_cases():
    # No width-1 LayerNorm: its exact output is the bias, and PyTorch's rounding of x − mean,
    # amplified by 1/sqrt(eps), puts it 6e-4 away from that; the case tests nothing.
    for name, shape, eps in [("layernorm_257", (3, 7, 257), 1e-5), ("layernorm_33_eps1e-12", (1, 33), 1e-12),
                             ("layernorm_7_batch1", (1, 1, 7), 1e-5)]:
        ln = tnn.LayerNorm(shape[-1], eps=eps)
        with torch.no_grad():
            ln.weight.normal_(1, 0.3)
            ln.bias.normal_(0, 0.3)
        x = torch.randn(*shape) * 3 + 1
        save(name, Wrap(ln=ln), {"x": x}, {"y": ln(x)}, {"prefix": "ln", "eps": eps})

    for name, shape, groups, eps in [("groupnorm_32_g4", (2, 32, 7, 7), 4, 1e-5), ("groupnorm_33_g3_1d", (3, 33, 7), 3, 1e-6),
                                     ("groupnorm_7_g7", (1, 7, 5, 3), 7, 1e-5)]:
        gn = tnn.GroupNorm(groups, shape[1], eps=eps)
        with torch.no_grad():
            gn.weight.normal_(1, 0.3)
            gn.bias.normal_(0, 0.3)
        x = torch.randn(*shape)
        save(name, Wrap(gn=gn), {"x": x}, {"y": gn(x)}, {"prefix": "gn", "groups": groups, "eps": eps})

    for name, shape, eps in [("batchnorm2d_7", (2, 7, 5, 9), 1e-5), ("batchnorm1d_33", (3, 33, 7), 1e-3),
                             ("batchnorm1d_flat", (7, 33), 1e-5)]:
        bn = tnn.BatchNorm2d(shape[1], eps=eps) if len(shape) == 4 else tnn.BatchNorm1d(shape[1], eps=eps)
        randomize_bn(bn)
        bn.eval()
        x = torch.randn(*shape)
        save(name, Wrap(bn=bn), {"x": x}, {"y": bn(x)}, {"prefix": "bn", "eps": eps})


# ---------------------------------------------------------------- pooling


def pool_cases():
    x = torch.randn(2, 7, 33, 33)
    save("maxpool_k3_s2_p1", {}, {"x": x}, {"y": F.max_pool2d(x, 3, 2, 1)},
         {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1]})
    x = torch.randn(1, 3, 17, 9)
    save("avgpool_k3_s1_p1", {}, {"x": x}, {"y": F.avg_pool2d(x, 3, 1, 1)},
         {"kernel": [3, 3], "stride": [1, 1], "padding": [1, 1]})
    save("avgpool_k3_s1_p1_exclude", {}, {"x": x}, {"y": F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)},
         {"kernel": [3, 3], "stride": [1, 1], "padding": [1, 1], "exclude_pad": True})
    x = torch.randn(3, 33, 7, 7)
    save("adaptiveavg_1x1", {}, {"x": x}, {"y": F.adaptive_avg_pool2d(x, 1)}, {"out": [1, 1]})
    x = torch.randn(2, 5, 17, 13)
    save("adaptiveavg_7x5", {}, {"x": x}, {"y": F.adaptive_avg_pool2d(x, (7, 5))}, {"out": [7, 5]})


# ---------------------------------------------------------------- Embedding


def embedding_cases():
    emb = tnn.Embedding(257, 33)
    ids = torch.randint(0, 257, (2, 7))
    ids[0, 0], ids[1, 6] = 0, 256
    save("embedding_257x33", Wrap(word_embeddings=emb), {"ids": ids}, {"y": emb(ids)}, {"prefix": "word_embeddings"})
    emb = tnn.Embedding(7, 1)
    ids = torch.tensor([3, 0, 6, 3])
    save("embedding_7x1", Wrap(e=emb), {"ids": ids}, {"y": emb(ids)}, {"prefix": "e"})


# ---------------------------------------------------------------- LSTM


def lstm_cases():
    # Two layers, batch_first, state carried from the first call into the second.
    lstm = tnn.LSTM(7, 33, num_layers=2, batch_first=True)
    x1 = torch.randn(3, 5, 7)
    x2 = torch.randn(3, 4, 7)
    y1, (h1, c1) = lstm(x1)
    y2, (h2, c2) = lstm(x2, (h1, c1))
    save("lstm_2layer_batchfirst", Wrap(rnn=lstm), {"x1": x1, "x2": x2},
         {"y1": y1, "h1": h1, "c1": c1, "y2": y2, "h2": h2, "c2": c2},
         {"prefix": "rnn", "layers": 2, "batch_first": True})

    # One layer, sequence first, input size 1, an explicit initial state.
    lstm = tnn.LSTM(1, 7, num_layers=1)
    x1 = torch.randn(9, 2, 1)
    h0 = torch.randn(1, 2, 7)
    c0 = torch.randn(1, 2, 7)
    y1, (h1, c1) = lstm(x1, (h0, c0))
    save("lstm_seqfirst_h0", Wrap(lstm=lstm), {"x1": x1, "h0": h0, "c0": c0},
         {"y1": y1, "h1": h1, "c1": c1}, {"prefix": "lstm", "layers": 1, "batch_first": False})

    # Three layers, no biases, batch 1: the step-by-step generation case.
    lstm = tnn.LSTM(33, 7, num_layers=3, bias=False, batch_first=True)
    x1 = torch.randn(1, 1, 33)
    x2 = torch.randn(1, 1, 33)
    y1, (h1, c1) = lstm(x1)
    y2, (h2, c2) = lstm(x2, (h1, c1))
    save("lstm_3layer_nobias_step", Wrap(lm=Wrap(rnn=lstm)), {"x1": x1, "x2": x2},
         {"y1": y1, "h1": h1, "c1": c1, "y2": y2, "h2": h2, "c2": c2},
         {"prefix": "lm.rnn", "layers": 0, "batch_first": True})


def bilstm_cases():
    # Bidirectional, two layers, batch first, state carried into a second call (each call
    # runs its backward direction over that call's steps only, as PyTorch does).
    lstm = tnn.LSTM(7, 33, num_layers=2, batch_first=True, bidirectional=True)
    x1 = torch.randn(2, 5, 7)
    x2 = torch.randn(2, 3, 7)
    y1, (h1, c1) = lstm(x1)
    y2, (h2, c2) = lstm(x2, (h1, c1))
    save("lstm_bidir_2layer", Wrap(rnn=lstm), {"x1": x1, "x2": x2},
         {"y1": y1, "h1": h1, "c1": c1, "y2": y2, "h2": h2, "c2": c2},
         {"prefix": "rnn", "layers": 2, "batch_first": True})

    # Bidirectional, one layer, sequence first, batch 1, 33 steps.
    lstm = tnn.LSTM(5, 7, bidirectional=True)
    x1 = torch.randn(33, 1, 5)
    y1, (h1, c1) = lstm(x1)
    save("lstm_bidir_seqfirst", Wrap(rnn=lstm), {"x1": x1}, {"y1": y1, "h1": h1, "c1": c1},
         {"prefix": "rnn", "layers": 0, "batch_first": False})


# ---------------------------------------------------------------- attention


def mha_cases():
    # PyTorch's nn.MultiheadAttention, batch_first, self-attention with a padding mask.
    mha = tnn.MultiheadAttention(33, 3, batch_first=True)
    x = torch.randn(2, 7, 33)
    kpm = torch.zeros(2, 7, dtype=torch.bool)
    kpm[0, 5:] = True
    kpm[1, 2] = True
    y, _ = mha(x, x, x, key_padding_mask=kpm)
    save("mha_self_padding", Wrap(attn=mha), {"x": x, "key_padding_mask": kpm.to(torch.uint8)}, {"y": y},
         {"prefix": "attn", "heads": 3, "batch_first": True, "self": True})

    # Cross-attention, sequence first, Lq != Lk, with a float attention mask.
    mha = tnn.MultiheadAttention(32, 4)
    q = torch.randn(5, 3, 32)
    kv = torch.randn(9, 3, 32)
    am = torch.randn(5, 9)
    y, _ = mha(q, kv, kv, attn_mask=am)
    save("mha_cross_seqfirst_floatmask", Wrap(attn=mha), {"q": q, "k": kv, "v": kv, "attn_mask": am}, {"y": y},
         {"prefix": "attn", "heads": 4, "batch_first": False, "self": False})

    # Causal self-attention (a decoder), batch first, plus a padding mask, one head.
    mha = tnn.MultiheadAttention(7, 1, batch_first=True)
    x = torch.randn(3, 6, 7)
    causal = torch.triu(torch.ones(6, 6, dtype=torch.bool), 1)
    kpm = torch.zeros(3, 6, dtype=torch.bool)
    kpm[2, 4:] = True
    y, _ = mha(x, x, x, attn_mask=causal, key_padding_mask=kpm)
    save("mha_causal_padding", Wrap(attn=mha), {"x": x, "key_padding_mask": kpm.to(torch.uint8)}, {"y": y},
         {"prefix": "attn", "heads": 1, "batch_first": True, "self": True, "causal": True})


def packed_lstm_cases():
    # A padded batch through pack_padded_sequence: bidirectional, two layers, batch
    # first, an explicit initial state; lengths include a full and a length-1 sequence.
    lstm = tnn.LSTM(7, 33, num_layers=2, batch_first=True, bidirectional=True)
    x1 = torch.randn(3, 5, 7)
    lengths = torch.tensor([2, 5, 1])
    h0 = torch.randn(4, 3, 33)
    c0 = torch.randn(4, 3, 33)
    packed = tnn.utils.rnn.pack_padded_sequence(x1, lengths, batch_first=True, enforce_sorted=False)
    out, (h1, c1) = lstm(packed, (h0, c0))
    y1, _ = tnn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=5)
    save("lstm_packed_bidir", Wrap(rnn=lstm), {"x1": x1, "h0": h0, "c0": c0, "lengths": lengths},
         {"y1": y1, "h1": h1, "c1": c1}, {"prefix": "rnn", "layers": 2, "batch_first": True})

    # Sequence first, one direction, no initial state.
    lstm = tnn.LSTM(5, 7)
    x1 = torch.randn(6, 4, 5)
    lengths = torch.tensor([6, 3, 4, 6])
    packed = tnn.utils.rnn.pack_padded_sequence(x1, lengths, enforce_sorted=False)
    out, (h1, c1) = lstm(packed)
    y1, _ = tnn.utils.rnn.pad_packed_sequence(out, total_length=6)
    save("lstm_packed_seqfirst", Wrap(rnn=lstm), {"x1": x1, "lengths": lengths},
         {"y1": y1, "h1": h1, "c1": c1}, {"prefix": "rnn", "layers": 1, "batch_first": False})


def mha_kdim_cases():
    # Keys and values of other widths than the queries: q/k/v_proj_weight instead of
    # in_proj_weight. Cross-attention, batch first, with a padding mask.
    mha = tnn.MultiheadAttention(12, 3, kdim=7, vdim=33, batch_first=True)
    q = torch.randn(2, 5, 12)
    k = torch.randn(2, 9, 7)
    v = torch.randn(2, 9, 33)
    kpm = torch.zeros(2, 9, dtype=torch.bool)
    kpm[1, 6:] = True
    y, _ = mha(q, k, v, key_padding_mask=kpm)
    save("mha_kdim_vdim", Wrap(xattn=mha), {"q": q, "k": k, "v": v, "key_padding_mask": kpm.to(torch.uint8)}, {"y": y},
         {"prefix": "xattn", "heads": 3, "batch_first": True, "self": False})


class BertSelfAttention(tnn.Module):
    """Hugging Face BertAttention (self + output.dense) in plain PyTorch, HF names."""

    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.self = Wrap(query=tnn.Linear(hidden, hidden), key=tnn.Linear(hidden, hidden),
                         value=tnn.Linear(hidden, hidden))
        self.output = Wrap(dense=tnn.Linear(hidden, hidden))

    def forward(self, x, attention_mask):
        b, l, e = x.shape
        dh = e // self.heads

        def split(t):
            return t.view(b, l, self.heads, dh).permute(0, 2, 1, 3)

        q, k, v = split(self.self.query(x)), split(self.self.key(x)), split(self.self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh)
        ext = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        p = torch.softmax(scores + ext, dim=-1)
        ctx = (p @ v).permute(0, 2, 1, 3).reshape(b, l, e)
        return self.output.dense(ctx)


def bert_cases():
    att = BertSelfAttention(32, 4)
    x = torch.randn(2, 7, 32)
    mask = torch.ones(2, 7, dtype=torch.int64)
    mask[1, 4:] = 0
    y = att(x, mask)
    save("bert_attention", Wrap(encoder=Wrap(layer=Wrap(**{"0": Wrap(attention=att)}))),
         {"x": x, "attention_mask": mask}, {"y": y},
         {"prefix": "encoder.layer.0.attention", "heads": 4})


# ---------------------------------------------------------------- the doc Example


def mlp_example():
    torch.manual_seed(1)
    mlp = tnn.Sequential()
    mlp.add_module("fc1", tnn.Linear(4, 8))
    mlp.add_module("relu", tnn.ReLU())
    mlp.add_module("fc2", tnn.Linear(8, 3))
    x = torch.tensor([[0.5, -1.0, 2.0, 0.25]])
    y = mlp(x)
    common.save_safetensors(OUT / "mlp.safetensors", dict(mlp.state_dict()))
    print("mlp example output:", [round(v, 4) for v in y[0].tolist()])


def main():
    common.seed(0)
    linear_cases()
    conv2d_cases()
    conv1d_cases()
    norm_cases()
    embedding_cases()
    lstm_cases()
    pool_cases()
    bilstm_cases()
    mha_kdim_cases()
    packed_lstm_cases()
    mha_cases()
    bert_cases()
    mlp_example()
    total = sum(p.stat().st_size for p in OUT.glob("*.safetensors"))
    print(f"core/nn/testdata: {len(list(OUT.glob('*.safetensors')))} files, {total} bytes")


if __name__ == "__main__":
    main()
