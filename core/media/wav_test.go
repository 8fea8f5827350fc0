package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	gowav "github.com/go-audio/wav"
)

// buildWAV assembles a WAV by hand so tests can make headers that lie.
func buildWAV(tag, bits, channels, rate int, data []byte, fix func(b []byte)) []byte {
	le := binary.LittleEndian
	var b []byte
	b = append(b, "RIFF\x00\x00\x00\x00WAVEfmt "...)
	b = le.AppendUint32(b, 16)
	b = le.AppendUint16(b, uint16(tag))
	b = le.AppendUint16(b, uint16(channels))
	b = le.AppendUint32(b, uint32(rate))
	b = le.AppendUint32(b, uint32(rate*channels*bits/8))
	b = le.AppendUint16(b, uint16(channels*bits/8))
	b = le.AppendUint16(b, uint16(bits))
	b = append(b, "data"...)
	b = le.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	le.PutUint32(b[4:], uint32(len(b)-8))
	if fix != nil {
		fix(b)
	}
	return b
}

func TestWAVRoundTrip(t *testing.T) {
	for _, bits := range []int{8, 16, 24, 32} {
		for _, ch := range []int{1, 2} {
			n := 257
			in := make([]float32, n*ch)
			for i := range in {
				in[i] = float32(math.Sin(float64(i) * 0.05))
			}
			in[0], in[1] = -1, 1 // the clipping edges
			var b bytes.Buffer
			if err := EncodeWAV(&b, in, 22050, ch, bits); err != nil {
				t.Fatal(err)
			}
			a, err := DecodeWAV(bytes.NewReader(b.Bytes()), Limits{})
			if err != nil {
				t.Fatalf("%d-bit %d ch: %v", bits, ch, err)
			}
			if a.Rate != 22050 || a.Channels != ch || a.Frames() != n {
				t.Fatalf("%d-bit %d ch: got %d Hz %d ch %d frames", bits, ch, a.Rate, a.Channels, a.Frames())
			}
			tol := 1.0 / float64(int64(1)<<(bits-1)) // one quantisation step
			if bits == 32 {
				tol = 0
			}
			for i := range in {
				if d := math.Abs(float64(a.Samples[i] - in[i])); d > tol {
					t.Fatalf("%d-bit %d ch: sample %d = %v, want %v (±%g)", bits, ch, i, a.Samples[i], in[i], tol)
				}
			}
		}
	}
}

// TestEncodeWAVReadByGoAudio cross-checks our integer encoding with an independent
// reader: go-audio/wav must see the same integer codes.
func TestEncodeWAVReadByGoAudio(t *testing.T) {
	in := []float32{0, 0.5, -0.5, 1, -1, 0.25, 0.001, -0.75}
	for _, bits := range []int{16, 24} {
		f, err := os.CreateTemp(t.TempDir(), "*.wav")
		if err != nil {
			t.Fatal(err)
		}
		if err := EncodeWAV(f, in, 8000, 2, bits); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Seek(0, 0); err != nil {
			t.Fatal(err)
		}
		d := gowav.NewDecoder(f)
		buf, err := d.FullPCMBuffer()
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if d.SampleRate != 8000 || d.NumChans != 2 || int(d.BitDepth) != bits {
			t.Fatalf("go-audio read %d Hz %d ch %d bits", d.SampleRate, d.NumChans, d.BitDepth)
		}
		scale := float64(int64(1) << (bits - 1))
		frames := len(in) / 2
		for i, v := range buf.Data { // interleaved
			c, k := i%2, i/2
			want := math.Max(-scale, math.Min(scale-1, math.Round(float64(in[c*frames+k])*scale)))
			if float64(v) != want {
				t.Errorf("%d-bit: go-audio sample %d = %d, want %v", bits, i, v, want)
			}
		}
	}
}

func TestDecodeWAVEightBitIsRecentred(t *testing.T) {
	a, err := DecodeWAV(bytes.NewReader(buildWAV(1, 8, 1, 8000, []byte{0, 128, 255}, nil)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{-1, 0, 127.0 / 128}; a.Samples[0] != want[0] || a.Samples[1] != want[1] || a.Samples[2] != want[2] {
		t.Errorf("got %v, want %v", a.Samples, want)
	}
}

func TestDecodeWAVErrors(t *testing.T) {
	pcm := make([]byte, 400)
	le := binary.LittleEndian
	cases := []struct {
		name string
		data []byte
		lim  Limits
		want string
	}{
		{"empty", nil, Limits{}, "too short for a RIFF header"},
		{"not riff", []byte("hello world, this is text"), Limits{}, "not a RIFF file"},
		{"not wave", []byte("RIFF\x04\x00\x00\x00AVI "), Limits{}, "not WAVE"},
		{"rifx", []byte("RIFX\x04\x00\x00\x00WAVE"), Limits{}, "big-endian RIFX"},
		{"data size lies", buildWAV(1, 16, 1, 8000, pcm, func(b []byte) { le.PutUint32(b[40:], 1_000_000); le.PutUint32(b[4:], 0) }), Limits{}, "data chunk declares 1000000 bytes but only 400 remain"},
		{"riff size off by a missing pad byte is forgiven, not the data", buildWAV(1, 8, 1, 8000, pcm[:3], func(b []byte) {
			binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8+1))
			binary.LittleEndian.PutUint32(b[40:], 5)
		}), Limits{}, "data chunk declares 5 bytes but only 3 remain"},
		{"riff size lies", buildWAV(1, 16, 1, 8000, pcm, func(b []byte) { le.PutUint32(b[4:], 1_000_000) }), Limits{}, "RIFF header declares 1000008 bytes but the file has 444"},
		{"mu-law", buildWAV(7, 8, 1, 8000, pcm, nil), Limits{}, "format tag 0x0007 (mu-law) is not supported"},
		{"adpcm", buildWAV(2, 4, 1, 8000, pcm, nil), Limits{}, "format tag 0x0002 (MS ADPCM)"},
		{"12-bit pcm", buildWAV(1, 12, 1, 8000, pcm, nil), Limits{}, "12-bit PCM is not supported"},
		{"16-bit float", buildWAV(3, 16, 1, 8000, pcm, nil), Limits{}, "16-bit IEEE float is not supported"},
		{"zero channels", buildWAV(1, 16, 0, 8000, pcm, nil), Limits{}, "0 channels"},
		{"zero rate", buildWAV(1, 16, 1, 0, pcm, nil), Limits{}, "sample rate 0 Hz"},
		{"block align", buildWAV(1, 16, 2, 8000, pcm, func(b []byte) { le.PutUint16(b[32:], 3) }), Limits{}, "block align 3 does not match"},
		{"no data", noData(), Limits{}, "no data chunk"},
		{"data before fmt", append([]byte("RIFF\x0c\x00\x00\x00WAVEdata\x00\x00\x00\x00"), 0), Limits{}, "data chunk before the fmt chunk"},
		{"duration", buildWAV(1, 16, 1, 8000, pcm, nil), Limits{MaxDuration: 10 * time.Millisecond}, "audio lasts 25ms, over the limit of 10ms"},
		{"bytes", buildWAV(1, 16, 1, 8000, pcm, nil), Limits{MaxBytes: 100}, "444 bytes, over the limit of 100"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := DecodeWAV(bytes.NewReader(c.data), c.lim)
			if err == nil {
				t.Fatalf("decoded %d frames, want an error", a.Frames())
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			var fe *FormatError
			if !errors.As(err, &fe) && !errors.Is(err, ErrLimit) {
				t.Errorf("error %T is neither a FormatError nor a LimitError", err)
			}
		})
	}
}

func noData() []byte {
	b := buildWAV(1, 16, 1, 8000, nil, nil)[:36]
	binary.LittleEndian.PutUint32(b[4:], 28)
	return b
}

func TestDecodeWAVStreamingSizes(t *testing.T) {
	// Writers that stream to a pipe leave 0xffffffff in both sizes; the data then
	// runs to the end of the file.
	pcm := []byte{0, 0x40, 0, 0xc0}
	b := buildWAV(1, 16, 1, 8000, pcm, func(b []byte) {
		binary.LittleEndian.PutUint32(b[4:], 0xffffffff)
		binary.LittleEndian.PutUint32(b[40:], 0xffffffff)
	})
	a, err := DecodeWAV(bytes.NewReader(b), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Samples) != 2 || a.Samples[0] != 0.5 || a.Samples[1] != -0.5 {
		t.Errorf("got %v", a.Samples)
	}
}

func TestMono(t *testing.T) {
	a := &Audio{Rate: 8000, Channels: 2, Samples: []float32{1, 0.5, -1, 0.5}}
	m := a.Mono()
	if len(m) != 2 || m[0] != 0 || m[1] != 0.5 {
		t.Errorf("Mono() = %v, want [0 0.5]", m)
	}
	if got := a.Channel(1); got[0] != -1 {
		t.Errorf("Channel(1) = %v", got)
	}
	if d := a.Duration(); d != 250*time.Microsecond {
		t.Errorf("Duration() = %v", d)
	}
}
