package media

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// EncodeWAV writes samples as a WAV file: bits 8, 16 or 24 give integer PCM and
// bits 32 gives IEEE float. samples is planar like Audio.Samples (channel c is the
// c-th run of len(samples)/channels values). Integer output is clipped to [-1, 1]
// and rounded, the inverse of DecodeWAV's scaling, so k/2^(bits-1) round-trips exactly.
func EncodeWAV(w io.Writer, samples []float32, rate, channels, bits int) error {
	if channels < 1 || channels > maxWAVChannels {
		return fmt.Errorf("encode wav: %d channels (want 1 to %d)", channels, maxWAVChannels)
	}
	if rate < 1 || rate > maxWAVRate {
		return fmt.Errorf("encode wav: sample rate %d (want 1 to %d)", rate, maxWAVRate)
	}
	if len(samples)%channels != 0 {
		return fmt.Errorf("encode wav: %d samples do not split into %d channels", len(samples), channels)
	}
	tag := wavePCM
	switch bits {
	case 8, 16, 24:
	case 32:
		tag = waveFloat
	default:
		return fmt.Errorf("encode wav: %d bits (want 8, 16, 24 or 32 for float)", bits)
	}
	frames := len(samples) / channels
	bps := bits / 8
	dataLen := int64(frames) * int64(channels*bps)
	if dataLen > math.MaxUint32-64 {
		return fmt.Errorf("encode wav: %d bytes of samples exceed the 4 GiB that RIFF sizes can hold", dataLen)
	}
	// Non-PCM formats carry a fact chunk (frame count) per the RIFF spec; the
	// 18-byte fmt chunk with cbSize 0 is what every reader accepts.
	hdrLen := 12 + 8 + 18 + 8
	if tag == waveFloat {
		hdrLen += 12
	}
	pad := dataLen & 1
	le := binary.LittleEndian
	h := make([]byte, 0, hdrLen)
	h = append(h, "RIFF"...)
	h = le.AppendUint32(h, uint32(int64(hdrLen)-8+dataLen+pad))
	h = append(h, "WAVEfmt "...)
	h = le.AppendUint32(h, 18)
	h = le.AppendUint16(h, uint16(tag))
	h = le.AppendUint16(h, uint16(channels))
	h = le.AppendUint32(h, uint32(rate))
	h = le.AppendUint32(h, uint32(rate*channels*bps))
	h = le.AppendUint16(h, uint16(channels*bps))
	h = le.AppendUint16(h, uint16(bits))
	h = le.AppendUint16(h, 0)
	if tag == waveFloat {
		h = append(h, "fact"...)
		h = le.AppendUint32(h, 4)
		h = le.AppendUint32(h, uint32(frames))
	}
	h = append(h, "data"...)
	h = le.AppendUint32(h, uint32(dataLen))
	if _, err := w.Write(h); err != nil {
		return fmt.Errorf("encode wav: %w", err)
	}
	// Interleave in blocks so memory stays bounded for long audio.
	const blockFrames = 4096
	buf := make([]byte, 0, blockFrames*channels*bps)
	for f0 := 0; f0 < frames; f0 += blockFrames {
		buf = buf[:0]
		for i := f0; i < min(frames, f0+blockFrames); i++ {
			for c := 0; c < channels; c++ {
				buf = appendSample(buf, samples[c*frames+i], bits)
			}
		}
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("encode wav: %w", err)
		}
	}
	if pad == 1 {
		if _, err := w.Write([]byte{0}); err != nil {
			return fmt.Errorf("encode wav: %w", err)
		}
	}
	return nil
}

// WriteWAV encodes a as EncodeWAV does.
func (a *Audio) WriteWAV(w io.Writer, bits int) error {
	return EncodeWAV(w, a.Samples, a.Rate, a.Channels, bits)
}

func appendSample(b []byte, v float32, bits int) []byte {
	if bits == 32 {
		return binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	scale := float64(int64(1) << (bits - 1))
	x := math.Round(float64(v) * scale)
	if x != x { // NaN has no integer value; silence is the least surprising one
		x = 0
	}
	x = math.Max(-scale, math.Min(scale-1, x))
	i := int32(x)
	switch bits {
	case 8:
		return append(b, byte(i+128))
	case 16:
		return binary.LittleEndian.AppendUint16(b, uint16(int16(i)))
	}
	return append(b, byte(i), byte(i>>8), byte(i>>16))
}
