package media

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestWAVFromSox decodes WAVs that an independent writer (SoX) produced in every
// encoding it offers, and compares them with SoX's own conversion of the same file to
// raw float32. SoX writes WAVE_FORMAT_EXTENSIBLE for more than 16 bits or more than
// two channels, so that path is exercised against a real writer too.
func TestWAVFromSox(t *testing.T) {
	sox, err := exec.LookPath("sox")
	if err != nil {
		t.Skip("sox not on PATH")
	}
	dir := t.TempDir()
	for _, c := range []struct {
		enc      string
		bits     int
		channels int
		rate     int
	}{
		{"unsigned-integer", 8, 1, 8000},
		{"signed-integer", 16, 2, 16000},
		{"signed-integer", 24, 1, 44100},
		{"signed-integer", 32, 2, 22050},
		{"signed-integer", 16, 4, 48000},
		{"floating-point", 32, 2, 48000},
		{"floating-point", 64, 1, 11025},
	} {
		name := filepath.Join(dir, c.enc+"-"+itoa(c.bits)+"-"+itoa(c.channels)+".wav")
		gen := exec.Command(sox, "-n", "-r", itoa(c.rate), "-c", itoa(c.channels), "-b", itoa(c.bits), "-e", c.enc, name,
			"synth", "0.05", "sine", "440", "sine", "1000", "vol", "0.7")
		if out, err := gen.CombinedOutput(); err != nil {
			t.Fatalf("sox: %v: %s", err, out)
		}
		raw, err := exec.Command(sox, name, "-t", "f32", "-e", "floating-point", "-").Output()
		if err != nil {
			t.Fatalf("sox to raw: %v", err)
		}
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		a, err := DecodeWAV(f, Limits{})
		f.Close()
		if err != nil {
			t.Fatalf("%s %d-bit %d ch: %v", c.enc, c.bits, c.channels, err)
		}
		if a.Rate != c.rate || a.Channels != c.channels {
			t.Fatalf("%s %d-bit: %d Hz %d ch", c.enc, c.bits, a.Rate, a.Channels)
		}
		// raw is interleaved; ours is planar.
		want := make([]float32, len(raw)/4)
		n := len(want) / c.channels
		for i := range want {
			want[(i%c.channels)*n+i/c.channels] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		if err := closeEnough(a.Samples, want); err != nil {
			t.Errorf("%s %d-bit %d ch vs sox: %v", c.enc, c.bits, c.channels, err)
		}
	}
	// A format the guard must refuse by name.
	mu := filepath.Join(dir, "mulaw.wav")
	if out, err := exec.Command(sox, "-n", "-r", "8000", "-e", "mu-law", mu, "synth", "0.01", "sine", "440").CombinedOutput(); err != nil {
		t.Fatalf("sox: %v: %s", err, out)
	}
	b, _ := os.ReadFile(mu)
	if _, err := DecodeWAV(bytes.NewReader(b), Limits{}); err == nil || !strings.Contains(err.Error(), "mu-law") {
		t.Errorf("mu-law WAV: %v, want an error naming mu-law", err)
	}
}

// TestWAVFromEspeak decodes speech synthesised by espeak-ng, a third writer.
func TestWAVFromEspeak(t *testing.T) {
	espeak, err := exec.LookPath("espeak-ng")
	if err != nil {
		t.Skip("espeak-ng not on PATH")
	}
	name := filepath.Join(t.TempDir(), "speech.wav")
	if out, err := exec.Command(espeak, "-w", name, "plexus reads this").CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, out)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if m := Sniff(b[:SniffLen]); m != ModalityAudio {
		t.Errorf("Sniff = %q", m)
	}
	a, err := DecodeWAV(bytes.NewReader(b), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var peak float32
	for _, v := range a.Samples {
		peak = max(peak, v, -v)
	}
	if a.Channels != 1 || a.Rate != 22050 || a.Duration() < 300e6 || peak < 0.05 || peak > 1 {
		t.Errorf("speech: %d ch, %d Hz, %v, peak %v", a.Channels, a.Rate, a.Duration(), peak)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
