package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Audio is decoded PCM audio in float32. Samples is planar: channel c occupies
// Samples[c*Frames() : (c+1)*Frames()], so a channel is a slice, not a gather.
type Audio struct {
	Rate     int // frames per second
	Channels int
	Samples  []float32
}

// Frames returns the number of samples per channel.
func (a *Audio) Frames() int {
	if a.Channels <= 0 {
		return 0
	}
	return len(a.Samples) / a.Channels
}

// Channel returns channel c's samples (shared, not copied).
func (a *Audio) Channel(c int) []float32 {
	n := a.Frames()
	return a.Samples[c*n : (c+1)*n]
}

// Duration returns the audio's length.
func (a *Audio) Duration() time.Duration {
	if a.Rate <= 0 {
		return 0
	}
	return time.Duration(int64(a.Frames()) * int64(time.Second) / int64(a.Rate))
}

// Mono returns the channels' mean (torchaudio's usual down-mix); for mono audio it
// returns Samples itself, shared.
func (a *Audio) Mono() []float32 {
	if a.Channels <= 1 {
		return a.Samples
	}
	n := a.Frames()
	out := make([]float32, n)
	copy(out, a.Samples[:n])
	for c := 1; c < a.Channels; c++ {
		ch := a.Samples[c*n : (c+1)*n]
		for i, v := range ch {
			out[i] += v
		}
	}
	inv := 1 / float32(a.Channels)
	for i := range out {
		out[i] *= inv
	}
	return out
}

// WAV format tags (the fmt chunk's first field) that DecodeWAV accepts.
const (
	wavePCM        = 0x0001
	waveFloat      = 0x0003
	waveExtensible = 0xfffe
)

// The GUID tail shared by the KSDATAFORMAT_SUBTYPE_* values; the first two bytes
// of the GUID are the plain format tag.
var subtypeTail = [14]byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71}

// wavFormat is a checked fmt chunk.
type wavFormat struct {
	float      bool
	bits       int // container bits per sample
	channels   int
	rate       int
	blockAlign int
}

// Guards against headers that are syntactically fine but absurd.
const (
	maxWAVChannels = 64
	maxWAVRate     = 4_000_000
)

// DecodeWAV reads a RIFF/WAVE file: PCM 8 (unsigned, re-centred), 16, 24 and 32-bit,
// IEEE float 32 and 64-bit, plain or WAVE_FORMAT_EXTENSIBLE. Every other format tag
// is a *FormatError that names it. Chunk sizes are checked against the file's real
// size, and the byte and duration limits against the header, before any sample
// buffer is allocated. Integer samples are scaled to [-1, 1) as torchaudio does
// (x / 2^(bits-1)); float samples are returned as stored.
func DecodeWAV(r io.ReadSeeker, lim Limits) (*Audio, error) {
	start, err := r.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("wav: seek: %w", err)
	}
	end, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("wav: seek: %w", err)
	}
	if _, err := r.Seek(start, io.SeekStart); err != nil {
		return nil, fmt.Errorf("wav: seek: %w", err)
	}
	size := end - start
	if err := lim.CheckBytes(size); err != nil {
		return nil, err
	}
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, formatErr("wav", "file is %d bytes, too short for a RIFF header", size)
	}
	switch string(hdr[:4]) {
	case "RIFF":
	case "RIFX":
		return nil, formatErr("wav", "big-endian RIFX files are not supported")
	case "RF64":
		return nil, formatErr("wav", "RF64 (64-bit) files are not supported")
	default:
		return nil, formatErr("wav", "not a RIFF file (starts with %q)", hdr[:4])
	}
	if string(hdr[8:12]) != "WAVE" {
		return nil, formatErr("wav", "RIFF file of type %q, not WAVE", hdr[8:12])
	}
	riffSize := int64(binary.LittleEndian.Uint32(hdr[4:]))
	// 0xffffffff (and 0) mark a size that a streaming writer could not fill in. One
	// byte of slack forgives a writer that counted the pad byte of an odd-sized last
	// chunk but did not write it.
	if riffSize != 0xffffffff && riffSize != 0 && riffSize+8 > size+1 {
		return nil, formatErr("wav", "RIFF header declares %d bytes but the file has %d (truncated or lying header)", riffSize+8, size)
	}

	var f *wavFormat
	pos := int64(12)
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if f == nil {
				return nil, formatErr("wav", "no fmt chunk")
			}
			return nil, formatErr("wav", "no data chunk")
		}
		id := string(ch[:4])
		n := int64(binary.LittleEndian.Uint32(ch[4:]))
		pos += 8
		remain := size - pos
		switch id {
		case "fmt ":
			if n > remain {
				return nil, formatErr("wav", "fmt chunk declares %d bytes but only %d remain", n, remain)
			}
			if n < 16 || n > 1024 {
				return nil, formatErr("wav", "fmt chunk of %d bytes (want 16 to 1024)", n)
			}
			buf := make([]byte, n)
			if _, err := io.ReadFull(r, buf); err != nil {
				return nil, &FormatError{Format: "wav", Msg: "read fmt chunk", Err: err}
			}
			if f, err = parseFmt(buf); err != nil {
				return nil, err
			}
		case "data":
			if f == nil {
				return nil, formatErr("wav", "data chunk before the fmt chunk")
			}
			if n == 0xffffffff {
				n = remain
			} else if n > remain {
				return nil, formatErr("wav", "data chunk declares %d bytes but only %d remain in the file (truncated or lying header)", n, remain)
			}
			return readSamples(r, f, n, lim)
		default:
			if n > remain {
				return nil, formatErr("wav", "%q chunk declares %d bytes but only %d remain", id, n, remain)
			}
			if _, err := r.Seek(n, io.SeekCurrent); err != nil {
				return nil, fmt.Errorf("wav: skip %q chunk: %w", id, err)
			}
		}
		pos += n
		if n&1 == 1 && pos < size { // chunks are word-aligned
			if _, err := r.Seek(1, io.SeekCurrent); err != nil {
				return nil, fmt.Errorf("wav: seek: %w", err)
			}
			pos++
		}
	}
}

func parseFmt(b []byte) (*wavFormat, error) {
	le := binary.LittleEndian
	tag := int(le.Uint16(b[0:]))
	f := &wavFormat{
		channels:   int(le.Uint16(b[2:])),
		rate:       int(le.Uint32(b[4:])),
		blockAlign: int(le.Uint16(b[12:])),
		bits:       int(le.Uint16(b[14:])),
	}
	if tag == waveExtensible {
		if len(b) < 40 || le.Uint16(b[16:]) < 22 {
			return nil, formatErr("wav", "WAVE_FORMAT_EXTENSIBLE with a short extension (%d bytes)", len(b))
		}
		guid := b[24:40]
		if [14]byte(guid[2:]) != subtypeTail {
			return nil, formatErr("wav", "WAVE_FORMAT_EXTENSIBLE with unknown sub-format GUID % x", guid)
		}
		tag = int(le.Uint16(guid))
		if valid := int(le.Uint16(b[18:])); valid > f.bits {
			return nil, formatErr("wav", "%d valid bits in a %d-bit container", valid, f.bits)
		}
	}
	switch tag {
	case wavePCM:
		switch f.bits {
		case 8, 16, 24, 32:
		default:
			return nil, formatErr("wav", "%d-bit PCM is not supported (want 8, 16, 24 or 32)", f.bits)
		}
	case waveFloat:
		f.float = true
		if f.bits != 32 && f.bits != 64 {
			return nil, formatErr("wav", "%d-bit IEEE float is not supported (want 32 or 64)", f.bits)
		}
	default:
		return nil, formatErr("wav", "format tag 0x%04x (%s) is not supported; want PCM, IEEE float or extensible", tag, tagName(tag))
	}
	if f.channels < 1 || f.channels > maxWAVChannels {
		return nil, formatErr("wav", "%d channels (want 1 to %d)", f.channels, maxWAVChannels)
	}
	if f.rate < 1 || f.rate > maxWAVRate {
		return nil, formatErr("wav", "sample rate %d Hz (want 1 to %d)", f.rate, maxWAVRate)
	}
	if want := f.channels * f.bits / 8; f.blockAlign != want {
		return nil, formatErr("wav", "block align %d does not match %d channels of %d bits (want %d)", f.blockAlign, f.channels, f.bits, want)
	}
	return f, nil
}

func tagName(tag int) string {
	switch tag {
	case 0x0002:
		return "MS ADPCM"
	case 0x0006:
		return "A-law"
	case 0x0007:
		return "mu-law"
	case 0x0011:
		return "IMA ADPCM"
	case 0x0031:
		return "GSM 6.10"
	case 0x0055:
		return "MPEG layer 3"
	}
	return "unknown"
}

// readSamples converts n bytes of sample data to planar float32. A trailing partial
// frame (some writers pad) is ignored.
func readSamples(r io.Reader, f *wavFormat, n int64, lim Limits) (*Audio, error) {
	frames := n / int64(f.blockAlign)
	maxDur := lim.maxDuration()
	if frames > 0 && float64(frames)/float64(f.rate) > maxDur.Seconds() {
		got := time.Duration(float64(frames) / float64(f.rate) * float64(time.Second))
		return nil, &LimitError{What: "duration", Got: int64(got), Max: int64(maxDur)}
	}
	a := &Audio{Rate: f.rate, Channels: f.channels, Samples: make([]float32, frames*int64(f.channels))}
	nf := int(frames)
	// Read whole frames in blocks of about 64 KiB so a large file never needs its
	// raw bytes and its float32 samples in memory at once.
	framesPerBlock := max(1, 65536/f.blockAlign)
	buf := make([]byte, min(nf, framesPerBlock)*f.blockAlign)
	bps := f.bits / 8
	for done := 0; done < nf; {
		k := min(nf-done, framesPerBlock)
		b := buf[:k*f.blockAlign]
		if _, err := io.ReadFull(r, b); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, formatErr("wav", "data ends after %d of %d frames", done, nf)
			}
			return nil, fmt.Errorf("wav: read samples: %w", err)
		}
		for c := 0; c < f.channels; c++ {
			dst := a.Samples[c*nf+done : c*nf+done+k]
			convert(dst, b[c*bps:], f, bps)
		}
		done += k
	}
	return a, nil
}

// convert decodes one channel: dst[i] comes from src[i*blockAlign:].
func convert(dst []float32, src []byte, f *wavFormat, bps int) {
	step := f.blockAlign
	le := binary.LittleEndian
	switch {
	case f.float && bps == 4:
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(src[i*step:]))
		}
	case f.float:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(le.Uint64(src[i*step:])))
		}
	case bps == 1:
		for i := range dst {
			dst[i] = float32(int(src[i*step])-128) / 128
		}
	case bps == 2:
		for i := range dst {
			dst[i] = float32(int16(le.Uint16(src[i*step:]))) / 32768
		}
	case bps == 3:
		for i := range dst {
			p := src[i*step:]
			v := int32(uint32(p[0])<<8|uint32(p[1])<<16|uint32(p[2])<<24) >> 8
			dst[i] = float32(v) / (1 << 23)
		}
	default:
		for i := range dst {
			dst[i] = float32(float64(int32(le.Uint32(src[i*step:]))) / (1 << 31))
		}
	}
}
