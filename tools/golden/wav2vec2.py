"""Golden fixtures for speech/wav2vec2: torchaudio's wav2vec2_model with seeded random weights.

    /usr/bin/python3 tools/golden/wav2vec2.py          # the reduced cases (committed, ~200 KB)
    /usr/bin/python3 tools/golden/wav2vec2.py --base   # the full base config (make golden-wav2vec2-base)

Each case is three files in speech/wav2vec2/testdata/ (the base case in testdata/large/,
git-ignored): NAME.safetensors or NAME.pth (the model's state_dict, exactly as
torchaudio names it), NAME.json (config.json: wav2vec2_model's arguments plus
"architecture" and "labels") and NAME.io.safetensors (inputs and references):

    in.wavI        waveform I (1-D)
    out.itemI      model(wavI[None])[0][0]: the item alone (frames x outputs)
    out.batched    model(padded batch, lengths)[0]: torchaudio's batched forward
    out.lengths    its returned lengths

The reduced cases cover both extractor modes, conv bias on and off, post- and pre-norm
encoders, odd and even positional kernels, a head-less model, the torch >= 2.1
weight-norm names (parametrizations.weight.original0/1) and the .pth format.
"""

import argparse
import json
import pathlib
import sys
import zlib

import torch
from torchaudio.models import wav2vec2_model

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402

OUT = common.testdata("speech/wav2vec2")

LABELS = "- | E T A O N I H S R D L U M W C F G Y P B V K ' X J Q Z".split()


def build(params):
    model = wav2vec2_model(**params)
    with torch.no_grad():
        for name, p in model.named_parameters():
            # Non-trivial norm parameters, so that a swapped or skipped norm shows.
            if "norm" in name and name.endswith("weight"):
                p.uniform_(0.5, 1.5)
            elif "norm" in name and name.endswith("bias"):
                p.normal_(0, 0.2)
            elif name.endswith("weight_g"):
                p.uniform_(0.5, 2.0)
    return model.eval()


def waveforms(lengths):
    t = torch.arange(max(lengths)) / 16000.0
    out = []
    for i, n in enumerate(lengths):
        # Speech-like: a few harmonics under an envelope, plus noise and a DC offset.
        f0 = 110.0 + 40.0 * i
        x = sum(torch.sin(2 * torch.pi * f0 * h * t[:n]) / h for h in range(1, 6))
        x = 0.3 * x * (0.5 + 0.5 * torch.sin(2 * torch.pi * 3.0 * t[:n])) + 0.05 * torch.randn(n) + 0.01
        out.append(x.float())
    return out


def case(name, params, lengths, labels=None, pth=False, new_names=False, folder=OUT):
    common.seed(zlib.crc32(name.encode()) % 1000)
    model = build(params)
    wavs = waveforms(lengths)
    io = {}
    with torch.no_grad():
        for i, w in enumerate(wavs):
            io[f"in.wav{i}"] = w
            io[f"out.item{i}"] = model(w[None])[0][0]
        batch = torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True)
        y, lens = model(batch, torch.tensor(lengths))
        io["out.batched"] = y
        io["out.lengths"] = lens.to(torch.int64)
    sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    if new_names:
        for k in list(sd):
            if k.endswith(".weight_g"):
                sd[k[: -len("weight_g")] + "parametrizations.weight.original0"] = sd.pop(k)
            elif k.endswith(".weight_v"):
                sd[k[: -len("weight_v")] + "parametrizations.weight.original1"] = sd.pop(k)
    folder.mkdir(parents=True, exist_ok=True)
    if pth:
        torch.save(sd, folder / (name + ".pth"))
    else:
        common.save_safetensors(folder / (name + ".safetensors"), sd)
    cfg = dict(params, architecture="wav2vec2")
    if labels is not None:
        cfg["labels"] = labels
    common.write_json(folder / (name + ".json"), cfg)
    common.save_safetensors(folder / (name + ".io.safetensors"), io)
    print(f"{name}: frames {lens.tolist()}, output {tuple(y.shape)}")


def small(**over):
    p = dict(
        extractor_mode="group_norm",
        extractor_conv_layer_config=[(32, 10, 5), (32, 3, 2), (32, 2, 2)],
        extractor_conv_bias=False,
        encoder_embed_dim=48,
        encoder_projection_dropout=0.1,
        encoder_pos_conv_kernel=16,
        encoder_pos_conv_groups=4,
        encoder_num_layers=2,
        encoder_num_heads=4,
        encoder_attention_dropout=0.1,
        encoder_ff_interm_features=64,
        encoder_ff_interm_dropout=0.1,
        encoder_dropout=0.1,
        encoder_layer_norm_first=False,
        encoder_layer_drop=0.1,
        aux_num_out=29,
    )
    p.update(over)
    return p


def reduced():
    lengths = [1600, 1100, 30]  # 79, 54 and 1 frames
    case("gn_post", small(), lengths, labels=LABELS)
    case("ln_pre", small(extractor_mode="layer_norm", extractor_conv_bias=True, encoder_pos_conv_kernel=15,
                         encoder_pos_conv_groups=3, encoder_num_heads=6, encoder_ff_interm_features=80,
                         encoder_layer_norm_first=True, aux_num_out=7),
         lengths, labels=["<b>", "|", "a", "b", "c", "d", "e"])
    case("gn_pre_noaux_pth", small(extractor_conv_bias=True, encoder_layer_norm_first=True, aux_num_out=None,
                                   extractor_conv_layer_config=[(24, 10, 5), (32, 3, 2), (32, 2, 2), (32, 2, 2)]),
         [1700, 960], pth=True, new_names=True)


def base():
    params = dict(
        extractor_mode="group_norm",
        extractor_conv_layer_config=[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2,
        extractor_conv_bias=False,
        encoder_embed_dim=768,
        encoder_projection_dropout=0.1,
        encoder_pos_conv_kernel=128,
        encoder_pos_conv_groups=16,
        encoder_num_layers=12,
        encoder_num_heads=12,
        encoder_attention_dropout=0.1,
        encoder_ff_interm_features=3072,
        encoder_ff_interm_dropout=0.0,
        encoder_dropout=0.1,
        encoder_layer_norm_first=False,
        encoder_layer_drop=0.05,
        aux_num_out=29,
    )  # torchaudio.pipelines.WAV2VEC2_ASR_BASE_960H's _params
    case("base", params, [64000, 40000], labels=LABELS, folder=OUT / "large")


def presets():
    """State-dict names and shapes of torchaudio's presets, for ParamShapes and Base/Large/LargeLV60K."""
    from torchaudio.models import wav2vec2_base, wav2vec2_large, wav2vec2_large_lv60k

    out = {}
    for name, fn in [("base", wav2vec2_base), ("large", wav2vec2_large), ("large_lv60k", wav2vec2_large_lv60k)]:
        out[name] = {k: list(v.shape) for k, v in fn(aux_num_out=29).state_dict().items()}
    (OUT / "presets.json").write_text(json.dumps(out, sort_keys=True, separators=(",", ":")) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", action="store_true", help="write the full base fixture into testdata/large/")
    args = ap.parse_args()
    if args.base:
        base()
        return
    reduced()
    presets()
    files = [p for p in OUT.iterdir() if p.is_file()]
    print(f"speech/wav2vec2/testdata: {len(files)} files, {sum(p.stat().st_size for p in files)} bytes")


if __name__ == "__main__":
    main()
