package media

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// npy is the little of NumPy's format the fixtures use (uint8, uint16, float32; C order).
type npy struct {
	shape []int
	u8    []uint8
	u16   []uint16
	f32   []float32
}

func loadNpy(t *testing.T, path string) *npy {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("fixture missing (run /usr/bin/python3 tools/testdata-gen/media_fixtures.py): %v", err)
	}
	if !bytes.HasPrefix(b, []byte("\x93NUMPY")) {
		t.Fatalf("%s: not npy", path)
	}
	hl := int(binary.LittleEndian.Uint16(b[8:]))
	hdr := string(b[10 : 10+hl])
	data := b[10+hl:]
	descr := regexp.MustCompile(`'descr': '([^']+)'`).FindStringSubmatch(hdr)[1]
	shp := regexp.MustCompile(`'shape': \(([^)]*)\)`).FindStringSubmatch(hdr)[1]
	out := &npy{}
	for _, s := range strings.Split(shp, ",") {
		if s = strings.TrimSpace(s); s != "" {
			n, _ := strconv.Atoi(s)
			out.shape = append(out.shape, n)
		}
	}
	switch descr {
	case "|u1":
		out.u8 = data
	case "<u2":
		for i := 0; i+1 < len(data); i += 2 {
			out.u16 = append(out.u16, binary.LittleEndian.Uint16(data[i:]))
		}
	case "<f4":
		for i := 0; i+3 < len(data); i += 4 {
			out.f32 = append(out.f32, math.Float32frombits(binary.LittleEndian.Uint32(data[i:])))
		}
	default:
		t.Fatalf("%s: dtype %s not handled", path, descr)
	}
	return out
}

func decodeFile(t *testing.T, name string) (image.Image, string) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("fixture missing (run /usr/bin/python3 tools/testdata-gen/media_fixtures.py): %v", err)
	}
	defer f.Close()
	img, format, err := DecodeImage(f, Limits{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return img, format
}

// TestImagesMatchPillow compares every fixture with what Pillow decodes from it,
// after ImageOps.exif_transpose and convert("RGB"). Lossless formats must match
// exactly; JPEG and lossy WebP decoders legitimately differ in IDCT, chroma
// upsampling (libjpeg and libwebp interpolate, Go replicates) and YCbCr rounding, so
// those get a per-pixel tolerance; on this deliberately noisy 12x8 pattern 4:2:0
// chroma differs by up to about 25 levels.
func TestImagesMatchPillow(t *testing.T) {
	cases := []struct {
		file, format string
		maxDiff      int // largest allowed |ours - pillow| in 8-bit levels
	}{
		{"orient1.png", "png", 0}, {"orient2.png", "png", 0}, {"orient3.png", "png", 0}, {"orient4.png", "png", 0},
		{"orient5.png", "png", 0}, {"orient6.png", "png", 0}, {"orient7.png", "png", 0}, {"orient8.png", "png", 0},
		{"orient6.jpg", "jpeg", 3}, {"orient8.webp", "webp", 0}, {"orient3.tiff", "tiff", 0},
		{"cmyk.jpg", "jpeg", 3}, {"plain.bmp", "bmp", 0}, {"plain.gif", "gif", 0}, {"lzw.tiff", "tiff", 0},
		{"lossless.webp", "webp", 0}, {"lossy.webp", "webp", 32}, {"plain.jpg", "jpeg", 3}, {"sub420.jpg", "jpeg", 24},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			img, format := decodeFile(t, c.file)
			if format != c.format {
				t.Errorf("format %q, want %q", format, c.format)
			}
			ref := loadNpy(t, filepath.Join("testdata", c.file+".npy"))
			h, w := ref.shape[0], ref.shape[1]
			if b := img.Bounds(); b.Dx() != w || b.Dy() != h || b.Min != (image.Point{}) {
				t.Fatalf("bounds %v, want %dx%d at the origin", b, w, h)
			}
			m, ok := img.(*image.NRGBA)
			if !ok {
				t.Fatalf("decoded to %T, want *image.NRGBA", img)
			}
			worst, sum := 0, 0
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					for k := 0; k < 3; k++ {
						d := int(m.Pix[y*m.Stride+4*x+k]) - int(ref.u8[(y*w+x)*3+k])
						d = max(d, -d)
						worst = max(worst, d)
						sum += d
					}
				}
			}
			if worst > c.maxDiff {
				t.Errorf("max |ours-pillow| = %d levels (mean %.2f), allowed %d", worst, float64(sum)/float64(w*h*3), c.maxDiff)
			}
		})
	}
}

func TestAlphaGrayAnd16BitMatchPillow(t *testing.T) {
	for _, name := range []string{"alpha.png", "alpha.webp"} {
		img, _ := decodeFile(t, name)
		ref := loadNpy(t, filepath.Join("testdata", name+".npy"))
		m, ok := img.(*image.NRGBA)
		if !ok {
			t.Fatalf("%s: %T, want *image.NRGBA", name, img)
		}
		h, w := ref.shape[0], ref.shape[1]
		for y := 0; y < h; y++ {
			if !bytes.Equal(m.Pix[y*m.Stride:y*m.Stride+4*w], ref.u8[y*w*4:(y+1)*w*4]) {
				t.Fatalf("%s: row %d differs from Pillow's RGBA:\n got %v\nwant %v", name, y, m.Pix[y*m.Stride:y*m.Stride+4*w], ref.u8[y*w*4:(y+1)*w*4])
			}
		}
	}
	img, _ := decodeFile(t, "gray8.png")
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("gray8.png: %T, want *image.Gray", img)
	}
	if ref := loadNpy(t, "testdata/gray8.png.npy"); !bytes.Equal(g.Pix, ref.u8) {
		t.Errorf("gray8.png differs from Pillow")
	}
	img, _ = decodeFile(t, "gray16.png")
	g16, ok := img.(*image.Gray16)
	if !ok {
		t.Fatalf("gray16.png: %T, want *image.Gray16", img)
	}
	ref := loadNpy(t, "testdata/gray16.png.npy")
	for i, want := range ref.u16 {
		if got := binary.BigEndian.Uint16(g16.Pix[2*i:]); got != want {
			t.Fatalf("gray16.png pixel %d = %d, want %d", i, got, want)
		}
	}
}

// TestWAVMatchesTorchaudio compares DecodeWAV with torchaudio.load on every layout.
func TestWAVMatchesTorchaudio(t *testing.T) {
	for _, c := range []struct {
		name           string
		rate, channels int
	}{
		{"pcm8_mono_8k", 8000, 1}, {"pcm16_stereo_16k", 16000, 2}, {"pcm24_mono_44k", 44100, 1},
		{"pcm32_stereo_22k", 22050, 2}, {"f32_stereo_48k", 48000, 2}, {"f64_mono_11k", 11025, 1},
		{"ext_pcm24_stereo_48k", 48000, 2}, {"ext_f32_mono_16k", 16000, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", c.name+".wav"))
			if err != nil {
				t.Fatalf("fixture missing (run /usr/bin/python3 tools/testdata-gen/media_fixtures.py): %v", err)
			}
			defer f.Close()
			a, err := DecodeWAV(f, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			ref := loadNpy(t, filepath.Join("testdata", c.name+".wav.npy"))
			if a.Rate != c.rate || a.Channels != c.channels || ref.shape[0] != c.channels || a.Frames() != ref.shape[1] {
				t.Fatalf("got %d Hz, %d ch, %d frames; want %d Hz, %v", a.Rate, a.Channels, a.Frames(), c.rate, ref.shape)
			}
			if err := closeEnough(a.Samples, ref.f32); err != nil {
				t.Error(err)
			}
		})
	}
}

// closeEnough applies the project's agreement measure, max|ours-ref|/max|ref| <= 1e-4.
func closeEnough(got, want []float32) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	var md, mr float64
	for i := range got {
		md = math.Max(md, math.Abs(float64(got[i])-float64(want[i])))
		mr = math.Max(mr, math.Abs(float64(want[i])))
	}
	if md > 1e-4*mr {
		return fmt.Errorf("max|ours-ref|/max|ref| = %g > 1e-4", md/mr)
	}
	return nil
}
