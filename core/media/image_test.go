package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"os"
	"strings"
	"testing"
)

// pngHeaderOnly returns a PNG whose IHDR declares w×h but which has no pixel data:
// the decompression bomb shape that the pixel limit must stop before decoding.
func pngHeaderOnly(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	writeChunk(&b, "IHDR", ihdr)
	writeChunk(&b, "IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	writeChunk(&b, "IEND", nil)
	return b.Bytes()
}

func writeChunk(b *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	b.Write(n[:])
	b.WriteString(typ)
	b.Write(data)
	binary.BigEndian.PutUint32(n[:], crc32.ChecksumIEEE(append([]byte(typ), data...)))
	b.Write(n[:])
}

func TestDecodeImageErrors(t *testing.T) {
	jpg, err := os.ReadFile("testdata/plain.jpg")
	if err != nil {
		t.Fatal(err)
	}
	small := Limits{MaxPixels: 50}
	cases := []struct {
		name string
		data []byte
		lim  Limits
		is   error
		want string
	}{
		{"empty", nil, Limits{}, ErrFormat, "unknown format"},
		{"text", []byte("hello, world"), Limits{}, ErrFormat, "unknown format"},
		{"bomb", pngHeaderOnly(30000, 30000), Limits{}, ErrLimit, "image is 30000x30000 = 900000000 pixels, over the limit of 178956970"},
		{"over pixel limit", jpg, small, ErrLimit, "12x8 = 96 pixels, over the limit of 50"},
		{"over byte limit", jpg, Limits{MaxBytes: 100}, ErrLimit, "over the limit of 100"},
		{"truncated jpeg", jpg[:len(jpg)/2], Limits{}, nil, "jpeg: file is truncated (no end-of-image marker)"},
		{"header only jpeg", jpg[:3], Limits{}, nil, "jpeg: file is truncated"},
		{"bad jpeg", append(append([]byte{}, jpg[:20]...), 0xff, 0xd9), Limits{}, nil, "jpeg: bad header"},
		{"zero width png", pngHeaderOnly(0, 5), Limits{}, nil, "png: bad header"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, _, err := DecodeImage(bytes.NewReader(c.data), c.lim)
			if err == nil {
				t.Fatalf("decoded %v, want an error", img.Bounds())
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
	// A negative limit disables the check.
	if _, _, err := DecodeImage(bytes.NewReader(jpg), Limits{MaxPixels: -1, MaxBytes: -1}); err != nil {
		t.Errorf("unlimited: %v", err)
	}
}

func TestDecodeImageKeeps16Bit(t *testing.T) {
	src := image.NewRGBA64(image.Rect(0, 0, 3, 2))
	src.SetRGBA64(0, 0, color.RGBA64{R: 0x1234, G: 0xfedc, B: 0x0001, A: 0xffff})
	src.SetRGBA64(2, 1, color.RGBA64{R: 0x8000, G: 0x4000, B: 0x2000, A: 0x8000}) // premultiplied
	var b bytes.Buffer
	if err := png.Encode(&b, src); err != nil {
		t.Fatal(err)
	}
	img, format, err := DecodeImage(&b, Limits{})
	if err != nil || format != "png" {
		t.Fatalf("%v %q", err, format)
	}
	m, ok := img.(*image.NRGBA64)
	if !ok {
		t.Fatalf("%T, want *image.NRGBA64", img)
	}
	if c := m.NRGBA64At(0, 0); c != (color.NRGBA64{R: 0x1234, G: 0xfedc, B: 0x0001, A: 0xffff}) {
		t.Errorf("opaque pixel %v", c)
	}
	// Un-premultiplied: 0x8000/0x8000 → full.
	if c := m.NRGBA64At(2, 1); c.R != 0xffff || c.A != 0x8000 {
		t.Errorf("translucent pixel %v, want R=0xffff A=0x8000", c)
	}
}

// TestApplyOrientationAllTypes checks the eight EXIF transforms on each pixel type
// against their definitions, independently of any encoder.
func TestApplyOrientationAllTypes(t *testing.T) {
	const w, h = 3, 2
	// at(x, y) gives pixel (x, y) of the stored image a unique id.
	id := func(x, y int) int { return 1 + y*w + x }
	// want[o](x, y) is the stored pixel shown at (x, y) once upright.
	want := map[int]func(x, y int) int{
		2: func(x, y int) int { return id(w-1-x, y) },
		3: func(x, y int) int { return id(w-1-x, h-1-y) },
		4: func(x, y int) int { return id(x, h-1-y) },
		5: func(x, y int) int { return id(y, x) },
		6: func(x, y int) int { return id(y, h-1-x) },
		7: func(x, y int) int { return id(w-1-y, h-1-x) },
		8: func(x, y int) int { return id(w-1-y, x) },
	}
	mk := []func() image.Image{
		func() image.Image {
			m := image.NewGray(image.Rect(0, 0, w, h))
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					m.SetGray(x, y, color.Gray{uint8(id(x, y))})
				}
			}
			return m
		},
		func() image.Image {
			m := image.NewGray16(image.Rect(0, 0, w, h))
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					m.SetGray16(x, y, color.Gray16{uint16(id(x, y)) * 257})
				}
			}
			return m
		},
		func() image.Image {
			m := image.NewNRGBA(image.Rect(0, 0, w, h))
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					m.SetNRGBA(x, y, color.NRGBA{uint8(id(x, y)), 0, 0, 255})
				}
			}
			return m
		},
		func() image.Image {
			m := image.NewNRGBA64(image.Rect(0, 0, w, h))
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					m.SetNRGBA64(x, y, color.NRGBA64{uint16(id(x, y)) * 257, 0, 0, 0xffff})
				}
			}
			return m
		},
	}
	for o := 2; o <= 8; o++ {
		for _, f := range mk {
			src := f()
			got := applyOrientation(src, o)
			gw, gh := w, h
			if o >= 5 {
				gw, gh = h, w
			}
			if got.Bounds() != image.Rect(0, 0, gw, gh) {
				t.Fatalf("orientation %d %T: bounds %v", o, src, got.Bounds())
			}
			for y := 0; y < gh; y++ {
				for x := 0; x < gw; x++ {
					r, _, _, _ := got.At(x, y).RGBA()
					if int(r>>8) != want[o](x, y) {
						t.Errorf("orientation %d %T: pixel (%d,%d) = %d, want %d", o, src, x, y, r>>8, want[o](x, y))
					}
				}
			}
		}
	}
}

func TestBrokenEXIFIsIgnored(t *testing.T) {
	for _, b := range [][]byte{
		nil, []byte("II*\x00"), []byte("II*\x00\xff\xff\xff\xff"), []byte("MM\x00*\x00\x00\x00\x08\xff\xff"),
		[]byte("II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00\x09\x00\x00\x00"), // orientation 9
	} {
		if o := tiffOrientation(b); o != 1 {
			t.Errorf("tiffOrientation(%q) = %d, want 1", b, o)
		}
	}
	if o := tiffOrientation([]byte("II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00\x06\x00\x00\x00")); o != 6 {
		t.Errorf("valid IFD gave %d, want 6", o)
	}
}

func TestDecodeImageConfig(t *testing.T) {
	cfg, format, err := DecodeImageConfig(bytes.NewReader(pngHeaderOnly(30000, 30000)))
	if err != nil || format != "png" || cfg.Width != 30000 || cfg.Height != 30000 {
		t.Errorf("got %v %q %v", cfg, format, err)
	}
	if _, _, err := DecodeImageConfig(strings.NewReader("")); !errors.Is(err, ErrFormat) {
		t.Errorf("empty input: %v, want ErrFormat", err)
	}
}

func TestGIFFrameSmallerThanScreen(t *testing.T) {
	frame := image.NewPaletted(image.Rect(2, 1, 4, 3), color.Palette{color.Transparent, color.NRGBA{255, 0, 0, 255}})
	for y := 1; y < 3; y++ {
		for x := 2; x < 4; x++ {
			frame.SetColorIndex(x, y, 1)
		}
	}
	var b bytes.Buffer
	err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{frame}, Delay: []int{0}, Config: image.Config{Width: 6, Height: 4, ColorModel: frame.Palette}})
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := DecodeImage(&b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	m := img.(*image.NRGBA)
	if m.Rect != image.Rect(0, 0, 6, 4) || m.NRGBAAt(2, 1) != (color.NRGBA{255, 0, 0, 255}) || m.NRGBAAt(0, 0).A != 0 {
		t.Errorf("bounds %v, frame pixel %v, outside pixel %v", m.Rect, m.NRGBAAt(2, 1), m.NRGBAAt(0, 0))
	}
}
