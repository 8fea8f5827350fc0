"""Golden fixtures for speech/: features and resampling against torchaudio.

    /usr/bin/python3 tools/golden/speech.py

Each case is one safetensors file in speech/testdata/: the input waveform under
"in.audio", the torchaudio reference under "out.*" and the parameters as JSON in the
metadata key "config". Two kinds of audio: a synthetic mix (chirp, harmonics, noise,
silence) and real speech made by espeak-ng (the corpus tool's synthesiser). References
are computed in float64 from the float32 input, so the comparison measures our
arithmetic rather than float32 rounding in PyTorch's FFT; the float32 torchaudio result
is also recorded (metadata "f32_rel_err") so a reader sees how far float32 PyTorch itself
is from float64.
"""

import json
import math
import pathlib
import subprocess
import sys
import tempfile
import wave

import numpy as np
import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi
import torchaudio.functional as AF
import torchaudio.transforms as T

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402

OUT = common.testdata("speech")


def espeak(text, voice="en", rate=160, pitch=50):
    """Speech from espeak-ng as float32 in [-1, 1] at its native 22050 Hz."""
    with tempfile.TemporaryDirectory() as d:
        p = pathlib.Path(d) / "x.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", str(p), text], check=True)
        with wave.open(str(p)) as w:
            assert w.getsampwidth() == 2 and w.getnchannels() == 1
            sr = w.getframerate()
            x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    return torch.from_numpy(x.copy()), sr


def synth(sr, seconds):
    """A chirp, two harmonics, a click, noise and a silent stretch."""
    g = torch.Generator().manual_seed(1)
    n = int(sr * seconds)
    t = torch.arange(n, dtype=torch.float64) / sr
    x = 0.4 * torch.sin(2 * math.pi * (100 * t + 0.5 * (sr / 2.5) * t * t / seconds))
    x += 0.2 * torch.sin(2 * math.pi * 220 * t) + 0.1 * torch.sin(2 * math.pi * 660 * t)
    x += 0.05 * torch.randn(n, generator=g, dtype=torch.float64)
    x[n // 2 : n // 2 + n // 10] = 0
    x[n // 3] = 0.9
    return x.float()


def save(name, audio, outs, config, f32=None):
    tensors = {"in.audio": audio.contiguous()}
    meta = {"config": json.dumps(config, sort_keys=True)}
    for k, v in outs.items():
        tensors["out." + k] = v.float().contiguous()
    if f32 is not None:
        meta["f32_rel_err"] = json.dumps({k: common.rel_err(f32[k], outs[k]) for k in f32})
    common.save_safetensors(OUT / (name + ".safetensors"), tensors, meta)
    print(name, {k: list(v.shape) for k, v in outs.items()}, meta.get("f32_rel_err", ""))


def melspec_case(name, audio, sr, n_fft, win, hop, n_mels, f_min, f_max, power, norm, scale, center):
    kw = dict(sample_rate=sr, n_fft=n_fft, win_length=win, hop_length=hop, f_min=f_min, f_max=f_max,
              n_mels=n_mels, power=power, norm=norm, mel_scale=scale, center=center)
    mel = T.MelSpectrogram(**kw).double()(audio.double())
    mel32 = T.MelSpectrogram(**kw)(audio)
    logmel = torch.log(mel + 1e-6)
    db = T.AmplitudeToDB("power" if power == 2 else "magnitude", top_db=80).double()(mel)
    save(name, audio, {"mel": mel, "logmel": logmel, "db": db},
         {"sample_rate": sr, "n_fft": n_fft, "win_length": win, "hop_length": hop, "n_mels": n_mels,
          "f_min": f_min, "f_max": f_max or 0, "power": power, "norm": norm or "", "mel_scale": scale,
          "center": center},
         {"mel": mel32})


def mfcc_case(name, audio, sr, n_mfcc, n_fft, hop, n_mels, log_mels):
    kw = dict(sample_rate=sr, n_mfcc=n_mfcc, log_mels=log_mels,
              melkwargs={"n_fft": n_fft, "hop_length": hop, "n_mels": n_mels})
    ref = T.MFCC(**kw).double()(audio.double())
    ref32 = T.MFCC(**kw)(audio)
    save(name, audio, {"mfcc": ref}, {"sample_rate": sr, "n_mfcc": n_mfcc, "n_fft": n_fft, "hop_length": hop,
                                      "n_mels": n_mels, "log_mels": log_mels}, {"mfcc": ref32})


def fbank_case(name, audio, sr, **kw):
    ref = kaldi.fbank(audio.double()[None], sample_frequency=sr, **kw)
    ref32 = kaldi.fbank(audio[None], sample_frequency=sr, **kw)
    cfg = dict(kw, sample_frequency=sr)
    save(name, audio, {"fbank": ref}, cfg, {"fbank": ref32})


def resample_case(name, audio, orig, new):
    ref = AF.resample(audio, orig, new)  # float32 as users call it
    save(name, audio, {"resampled": ref}, {"orig_freq": orig, "new_freq": new})


def main():
    common.seed(0)
    speech22, sr22 = espeak("The quick brown fox jumps over the lazy dog.", voice="en-us", rate=175)
    speech22 = speech22[: int(sr22 * 1.2)]
    speech16 = AF.resample(speech22, sr22, 16000)
    woman, _ = espeak("Bonjour, comment allez vous?", voice="fr+f3", rate=150, pitch=70)
    woman = AF.resample(woman[: int(sr22 * 1.0)], sr22, 16000)
    syn16 = synth(16000, 0.8)
    syn8 = synth(8000, 0.6)

    melspec_case("melspec_speech16_htk", speech16, 16000, 400, None, 160, 80, 0.0, None, 2.0, None, "htk", True)
    melspec_case("melspec_synth16_slaney", syn16, 16000, 512, 400, 128, 64, 40.0, 7600.0, 1.0, "slaney", "slaney", True)
    melspec_case("melspec_woman16_nocenter", woman, 16000, 1024, 800, 200, 40, 0.0, None, 2.0, "slaney", "htk", False)
    melspec_case("melspec_synth8_vocoder", syn8, 8000, 256, None, 64, 40, 0.0, None, 2.0, None, "htk", True)

    mfcc_case("mfcc_speech16", speech16, 16000, 13, 400, 160, 40, False)
    mfcc_case("mfcc_synth16_logmels", syn16, 16000, 20, 512, 256, 64, True)

    fbank_case("fbank_speech16_default", speech16, 16000)
    fbank_case("fbank_woman16_80", woman * 32768, 16000, num_mel_bins=80, snip_edges=False, use_energy=True, dither=0.0)
    fbank_case("fbank_synth8_hamming", syn8, 8000, num_mel_bins=30, window_type="hamming", frame_length=32.0,
               frame_shift=8.0, use_energy=True, htk_compat=True, raw_energy=False, high_freq=-200.0,
               preemphasis_coefficient=0.0, remove_dc_offset=False, subtract_mean=True, dither=0.0)
    fbank_case("fbank_synth16_blackman_mag", syn16, 16000, num_mel_bins=40, window_type="blackman", use_power=False,
               round_to_power_of_two=False, frame_length=25.0, low_freq=60.0, dither=0.0)

    resample_case("resample_speech_22050_16000", speech22, 22050, 16000)
    resample_case("resample_synth_16000_8000", syn16, 16000, 8000)
    resample_case("resample_synth_8000_16000", syn8, 8000, 16000)
    resample_case("resample_synth_16000_44100", syn16[:4000], 16000, 44100)

    q = torch.linspace(-1, 1, 257)  # torchaudio does not clip outside [-1, 1]; we do
    enc = AF.mu_law_encoding(q, 256)
    dec = AF.mu_law_decoding(torch.arange(256), 256)
    save("mulaw", q, {"encoded": enc.float(), "decoded": dec}, {"quantization_channels": 256})


if __name__ == "__main__":
    main()
