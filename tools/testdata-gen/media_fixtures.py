#!/usr/bin/python3
"""Writes core/media/testdata: small images and WAVs made with Pillow and Python's
struct, plus the pixels/samples that Pillow and torchaudio decode from them (.npy),
which core/media's golden tests compare against. Run: /usr/bin/python3 tools/testdata-gen/media_fixtures.py
"""
import io, os, struct, sys
import numpy as np
from PIL import Image, ImageOps
import torch, torchaudio

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "core", "media", "testdata")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20261130)

def save_ref(name, arr):
    np.save(os.path.join(OUT, name + ".npy"), arr)

def exif_with_orientation(o):
    ex = Image.Exif()
    ex[0x0112] = o
    return ex.tobytes()

def ref_rgb(path):
    im = Image.open(path)
    im = ImageOps.exif_transpose(im)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)

# A 12x8 pattern: smooth gradients plus noise, so a transposition or mirror is visible
# and JPEG still compresses it faithfully enough.
h, w = 8, 12
yy, xx = np.mgrid[0:h, 0:w]
base = np.stack([xx * 20, yy * 30, (xx + yy) * 10], axis=-1).astype(np.int32)
base = np.clip(base + rng.integers(0, 16, size=base.shape), 0, 255).astype(np.uint8)
img = Image.fromarray(base, "RGB")

# Orientation 1..8 in PNG eXIf chunks (lossless, so the comparison is exact).
for o in range(1, 9):
    p = os.path.join(OUT, f"orient{o}.png")
    img.save(p, exif=exif_with_orientation(o))
    save_ref(f"orient{o}.png", ref_rgb(p))

# The same in JPEG (4:4:4, high quality) for the APP1 path, and in WebP and TIFF.
p = os.path.join(OUT, "orient6.jpg")
img.save(p, quality=95, subsampling=0, exif=exif_with_orientation(6))
save_ref("orient6.jpg", ref_rgb(p))
p = os.path.join(OUT, "orient8.webp")
img.save(p, lossless=True, exif=exif_with_orientation(8))
save_ref("orient8.webp", ref_rgb(p))
p = os.path.join(OUT, "orient3.tiff")
img.save(p, tiffinfo={0x0112: 3})
# Pillow 9.4 already turns a TIFF upright while loading it (libtiff's RGBA reader
# honours the tag) and exif_transpose would turn it a second time, so the reference
# is the plain load; it equals the stored pixels rotated 180 degrees, checked here.
ref = np.asarray(Image.open(p).convert("RGB"), dtype=np.uint8)
assert (ref == base[::-1, ::-1]).all()
save_ref("orient3.tiff", ref)

# CMYK JPEG (Pillow writes Adobe-inverted CMYK, like Photoshop).
cmyk = img.convert("CMYK")
p = os.path.join(OUT, "cmyk.jpg")
cmyk.save(p, quality=95)
save_ref("cmyk.jpg", ref_rgb(p))

# Plain formats.
for name, kw in [("plain.bmp", {}), ("plain.gif", {}), ("lzw.tiff", {"compression": "tiff_lzw"}),
                 ("lossless.webp", {"lossless": True}), ("lossy.webp", {"quality": 90}),
                 ("plain.jpg", {"quality": 95, "subsampling": 0}), ("sub420.jpg", {"quality": 90, "subsampling": 2})]:
    p = os.path.join(OUT, name)
    img.save(p, **kw)
    save_ref(name, ref_rgb(p))

# Pillow's RGB to luma, which ImageToTensor(WithChannels(1)) must reproduce.
save_ref("orient1.png.L", np.asarray(Image.open(os.path.join(OUT, "orient1.png")).convert("L"), dtype=np.uint8))

# Alpha: RGBA PNG and WebP with varied alpha; references keep all four channels.
alpha = rng.integers(0, 256, size=(h, w, 1)).astype(np.uint8)
rgba = Image.fromarray(np.concatenate([base, alpha], axis=-1), "RGBA")
for name, kw in [("alpha.png", {}), ("alpha.webp", {"lossless": True, "exact": True})]:
    p = os.path.join(OUT, name)
    rgba.save(p, **kw)
    save_ref(name, np.asarray(Image.open(p).convert("RGBA"), dtype=np.uint8))

# Grayscale 8-bit and 16-bit PNG.
g8 = Image.fromarray(base[:, :, 0], "L")
p = os.path.join(OUT, "gray8.png"); g8.save(p)
save_ref("gray8.png", np.asarray(Image.open(p), dtype=np.uint8))
g16 = (base[:, :, 1].astype(np.uint16) * 257 + rng.integers(0, 200, size=(h, w))).astype(np.uint16)
p = os.path.join(OUT, "gray16.png")
Image.fromarray(g16, "I;16").save(p)
save_ref("gray16.png", np.asarray(Image.open(p)).astype(np.uint16))

# WAVs written byte by byte so every layout is exactly what the name says.
def wav_bytes(tag, bits, ch, rate, data, ext=False):
    block = ch * bits // 8
    if ext:
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, ch, rate, rate * block, block, bits, 22, bits,
                          (1 << ch) - 1) + struct.pack("<H", tag) + bytes.fromhex("000000001000800000aa00389b71")
    else:
        fmt = struct.pack("<HHIIHH", tag, ch, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if tag == 3:
        body += b"fact" + struct.pack("<II", 4, len(data) // block)
    body += b"LIST" + struct.pack("<I", 10) + b"INFOjunk\x00\x00"  # a chunk to skip
    body += b"data" + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body

n = 101  # odd, to exercise chunk padding
t = np.arange(n) / n
for name, tag, bits, ch, rate, ext in [("pcm8_mono_8k", 1, 8, 1, 8000, False), ("pcm16_stereo_16k", 1, 16, 2, 16000, False),
                                      ("pcm24_mono_44k", 1, 24, 1, 44100, False), ("pcm32_stereo_22k", 1, 32, 2, 22050, False),
                                      ("f32_stereo_48k", 3, 32, 2, 48000, False), ("f64_mono_11k", 3, 64, 1, 11025, False),
                                      ("ext_pcm24_stereo_48k", 1, 24, 2, 48000, True), ("ext_f32_mono_16k", 3, 32, 1, 16000, True)]:
    x = np.stack([0.9 * np.sin(2 * np.pi * (3 + c) * t) * (1 - c * 0.3) for c in range(ch)], axis=1)  # [n, ch]
    x[0, 0] = -1.0  # the most negative code must survive
    if tag == 3:
        data = x.astype("<f4" if bits == 32 else "<f8").tobytes()
    elif bits == 8:
        data = np.clip(np.round(x * 128) + 128, 0, 255).astype(np.uint8).tobytes()
    elif bits == 16:
        data = np.clip(np.round(x * 32768), -32768, 32767).astype("<i2").tobytes()
    elif bits == 32:
        data = np.clip(np.round(x * 2**31), -2**31, 2**31 - 1).astype("<i4").tobytes()
    else:
        v = np.clip(np.round(x * 2**23), -2**23, 2**23 - 1).astype("<i4")
        data = b"".join(int(s).to_bytes(4, "little", signed=True)[:3] for s in v.reshape(-1))
    p = os.path.join(OUT, name + ".wav")
    with open(p, "wb") as f:
        f.write(wav_bytes(tag, bits, ch, rate, data, ext))
    wav, sr = torchaudio.load(p)  # [ch, n] float32, torchaudio's normalisation
    assert sr == rate
    save_ref(name + ".wav", wav.numpy().astype(np.float32))
print("wrote", OUT)

# core/dataset/datasettest embeds the two formats Go cannot encode, drawn with the
# quadrant pattern that datasettest.Generate checks (32x24: red, green / blue, yellow).
DT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "core", "dataset", "datasettest", "fixtures")
os.makedirs(DT, exist_ok=True)
q = np.zeros((24, 32, 3), np.uint8)
q[:12, :16] = (220, 30, 30); q[:12, 16:] = (30, 200, 30); q[12:, :16] = (30, 30, 220); q[12:, 16:] = (230, 230, 40)
Image.fromarray(q, "RGB").convert("CMYK").save(os.path.join(DT, "cmyk.jpg"), quality=90)
Image.fromarray(q, "RGB").save(os.path.join(DT, "quad.webp"), lossless=True)
print("wrote", DT)
