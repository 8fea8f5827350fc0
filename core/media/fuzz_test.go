package media

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzLimits are small so that the fuzzer explores the limit checks, and so that a
// decoder allocating past them would show up as a failure or an out-of-memory.
var fuzzLimits = Limits{MaxPixels: 1 << 16, MaxBytes: 1 << 20, MaxDuration: 5 * time.Second}

func addFixtures(f *testing.F, suffix string) {
	files, _ := filepath.Glob("testdata/*" + suffix)
	if len(files) == 0 {
		f.Fatal("no fixtures (run /usr/bin/python3 tools/testdata-gen/media_fixtures.py)")
	}
	for _, name := range files {
		if strings.HasSuffix(name, ".npy") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
}

func FuzzDecodeImage(f *testing.F) {
	for _, s := range []string{".png", ".jpg", ".gif", ".bmp", ".tiff", ".webp"} {
		addFixtures(f, s)
	}
	f.Add(pngHeaderOnly(30000, 30000))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, format, err := DecodeImage(bytes.NewReader(b), fuzzLimits)
		if err != nil {
			return
		}
		r := img.Bounds()
		if r.Min != (image.Point{}) || int64(r.Dx())*int64(r.Dy()) > fuzzLimits.MaxPixels || r.Empty() {
			t.Fatalf("%s decoded to bounds %v", format, r)
		}
		switch img.(type) {
		case *image.Gray, *image.Gray16, *image.NRGBA, *image.NRGBA64:
		default:
			t.Fatalf("%s decoded to %T, not a normalised type", format, img)
		}
		if Sniff(b[:min(len(b), SniffLen)]) != ModalityImage {
			t.Fatalf("decoded a %s that Sniff does not call an image", format)
		}
		x := ImageToTensor(img)
		if x.NumElems() == 0 {
			t.Fatal("empty tensor")
		}
	})
}

func FuzzDecodeWAV(f *testing.F) {
	addFixtures(f, ".wav")
	f.Add(buildWAV(1, 16, 1, 8000, make([]byte, 10), nil))
	f.Add(buildWAV(3, 64, 2, 8000, make([]byte, 32), nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeWAV(bytes.NewReader(b), fuzzLimits)
		if err != nil {
			return
		}
		if a.Channels < 1 || a.Rate < 1 || len(a.Samples)%a.Channels != 0 {
			t.Fatalf("inconsistent audio: %d Hz %d ch %d samples", a.Rate, a.Channels, len(a.Samples))
		}
		if a.Duration() > fuzzLimits.MaxDuration || int64(len(a.Samples)) > int64(len(b)) {
			t.Fatalf("%d samples (%v) from %d bytes", len(a.Samples), a.Duration(), len(b))
		}
		_ = a.Mono()
	})
}

func FuzzSniff(f *testing.F) {
	for _, s := range []string{"", "hello", "\xff\xd8\xff", "RIFF\x00\x00\x00\x00WAVE", "\x93NUMPY", "日本\xe6", "\x02\x00\x00\x00\x00\x00\x00\x00{}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := Sniff(b)
		switch m {
		case ModalityUnknown, ModalityImage, ModalityAudio, ModalityText, ModalityTensor:
		default:
			t.Fatalf("Sniff returned %q", m)
		}
		if (m == ModalityImage) != (ImageFormat(b) != "") {
			t.Fatalf("Sniff says %q but ImageFormat says %q", m, ImageFormat(b))
		}
		if m == ModalityText {
			if bytes.IndexByte(b, 0) >= 0 {
				t.Fatal("text with a NUL byte")
			}
			// Only a rune cut off at the end of the head may be invalid.
			ok := false
			for k := max(0, len(b)-3); k <= len(b) && !ok; k++ {
				ok = utf8.Valid(b[:k])
			}
			if !ok {
				t.Fatalf("text %q is invalid before its last rune", b)
			}
		}
	})
}
