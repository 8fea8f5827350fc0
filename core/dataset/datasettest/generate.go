// Package datasettest generates a mixed dataset of good and deliberately broken files,
// with what each must decode to or fail with, for tests of sources and of the engine.
// Generate needs no external tools: the two formats Go cannot encode are embedded.
package datasettest

import (
	"bytes"
	"embed"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/plexusml/plexus/core/media"
)

//go:embed fixtures/cmyk.jpg fixtures/quad.webp
var fixtures embed.FS

// Manifest says what a generated dataset holds and what each item must give.
type Manifest struct {
	// Root is the directory to walk; Files lists its items in walk order.
	Root  string
	Files []Expect
	// JSONL and CSV are manifests over files under Root (paths relative to the
	// manifests, which sit beside Root), with good and bad rows, in row order.
	JSONL     string
	JSONLRows []Expect
	CSV       string
	CSVRows   []Expect
}

// Expect is what one item must give.
type Expect struct {
	ID       string
	Modality string
	// Err is part of the message a bad item must fail with; its message must also
	// name the item's file (or manifest and line). AtList says that the failure comes
	// at listing (Item.Err), not when the payload is decoded.
	Err    string
	AtList bool
	// Name is what the error must name: the file's path, or "manifest:line".
	Name string

	Text   *string
	Image  *ImageExpect
	Audio  *AudioExpect
	Tensor int // byte length of a tensor payload; 0 when none
	Fields map[string]any
}

// ImageExpect describes an upright image of four flat quadrants.
type ImageExpect struct {
	Width, Height int
	Format        string
	Type          string           // the Go type DecodeImage returns, e.g. "*image.NRGBA64"
	Quadrants     [4]color.NRGBA64 // top-left, top-right, bottom-left, bottom-right
	Tol           uint16           // per-channel tolerance in 16-bit levels
}

// AudioExpect gives the planar samples a WAV must decode to, within Tol.
type AudioExpect struct {
	Rate, Channels int
	Samples        []float32
	Tol            float64
}

const qw, qh = 32, 24 // quadrant images: wider than tall, so a wrong rotation shows

var quadColors = [4]color.NRGBA{{220, 30, 30, 255}, {30, 200, 30, 255}, {30, 30, 220, 255}, {230, 230, 40, 255}}

func quad(x, y, w, h int) int {
	k := 0
	if x >= w/2 {
		k++
	}
	if y >= h/2 {
		k += 2
	}
	return k
}

func quadNRGBA() *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, qw, qh))
	for y := 0; y < qh; y++ {
		for x := 0; x < qw; x++ {
			m.SetNRGBA(x, y, quadColors[quad(x, y, qw, qh)])
		}
	}
	return m
}

func expect8(format, typ string, tol uint16) *ImageExpect {
	e := &ImageExpect{Width: qw, Height: qh, Format: format, Type: typ, Tol: tol}
	for i, c := range quadColors {
		e.Quadrants[i] = color.NRGBA64{uint16(c.R) * 257, uint16(c.G) * 257, uint16(c.B) * 257, uint16(c.A) * 257}
	}
	return e
}

// Generate writes the dataset under dir (which it creates) and returns its manifest.
func Generate(dir string) (*Manifest, error) {
	g := &gen{root: filepath.Join(dir, "files")}
	m := &Manifest{Root: g.root, JSONL: filepath.Join(dir, "manifest.jsonl"), CSV: filepath.Join(dir, "manifest.csv")}
	steps := []func() error{g.images, g.audio, g.text, g.tensors, g.broken}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, fmt.Errorf("generate dataset in %s: %w", dir, err)
		}
	}
	sort.Slice(g.files, func(i, j int) bool { return walkLess(g.files[i].ID, g.files[j].ID) })
	m.Files = g.files
	var err error
	if m.JSONLRows, err = writeJSONL(m.JSONL, g); err != nil {
		return nil, err
	}
	if m.CSVRows, err = writeCSV(m.CSV, g); err != nil {
		return nil, err
	}
	return m, nil
}

// walkLess orders slash paths as a depth-first walk over sorted directory listings
// does: by component, not by the whole string ("a/b" before "a-b").
func walkLess(a, b string) bool {
	pa, pb := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return len(pa) < len(pb)
}

type gen struct {
	root  string
	files []Expect
	byID  map[string]Expect
}

func (g *gen) write(id string, b []byte, e Expect) error {
	p := filepath.Join(g.root, filepath.FromSlash(id))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		return err
	}
	e.ID = id
	if e.Name == "" {
		e.Name = p
	}
	g.files = append(g.files, e)
	if g.byID == nil {
		g.byID = make(map[string]Expect)
	}
	g.byID[id] = e
	return nil
}

func (g *gen) images() error {
	src := quadNRGBA()
	enc := func(f func(*bytes.Buffer) error) []byte {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			panic(err) // encoding an in-memory image into a buffer cannot fail
		}
		return b.Bytes()
	}
	type img struct {
		id   string
		data []byte
		exp  *ImageExpect
	}
	jpg := enc(func(b *bytes.Buffer) error { return jpeg.Encode(b, src, &jpeg.Options{Quality: 95}) })
	// The EXIF photo stores its pixels turned 90° counter-clockwise and says
	// "rotate 90° clockwise to display" (orientation 6), as a phone held upright does.
	stored := image.NewNRGBA(image.Rect(0, 0, qh, qw))
	for y := 0; y < qw; y++ {
		for x := 0; x < qh; x++ {
			stored.SetNRGBA(x, y, src.NRGBAAt(qw-1-y, x))
		}
	}
	exif := withEXIFOrientation(enc(func(b *bytes.Buffer) error { return jpeg.Encode(b, stored, &jpeg.Options{Quality: 95}) }), 6)

	gray := image.NewGray(src.Rect)
	for y := 0; y < qh; y++ {
		for x := 0; x < qw; x++ {
			gray.SetGray(x, y, color.Gray{uint8(40 + 60*quad(x, y, qw, qh))})
		}
	}
	grayExp := &ImageExpect{Width: qw, Height: qh, Format: "png", Type: "*image.Gray"}
	for k := range grayExp.Quadrants {
		v := uint16(40+60*k) * 257
		grayExp.Quadrants[k] = color.NRGBA64{v, v, v, 0xffff}
	}

	// 16-bit PNG: the low bytes differ from the high bytes, so 8-bit truncation shows.
	deep := image.NewNRGBA64(src.Rect)
	deepExp := &ImageExpect{Width: qw, Height: qh, Format: "png", Type: "*image.NRGBA64"}
	for k, c := range quadColors {
		deepExp.Quadrants[k] = color.NRGBA64{uint16(c.R)<<8 | 0x12, uint16(c.G)<<8 | 0x34, uint16(c.B)<<8 | 0x56, 0xffff}
	}
	for y := 0; y < qh; y++ {
		for x := 0; x < qw; x++ {
			deep.SetNRGBA64(x, y, deepExp.Quadrants[quad(x, y, qw, qh)])
		}
	}

	alpha := image.NewNRGBA(src.Rect)
	alphaExp := expect8("png", "*image.NRGBA", 0)
	for y := 0; y < qh; y++ {
		for x := 0; x < qw; x++ {
			c := quadColors[quad(x, y, qw, qh)]
			c.A = 128
			alpha.SetNRGBA(x, y, c)
		}
	}
	for k := range alphaExp.Quadrants {
		alphaExp.Quadrants[k].A = 128 * 257
	}

	pal := image.NewPaletted(src.Rect, color.Palette{quadColors[0], quadColors[1], quadColors[2], quadColors[3]})
	for y := 0; y < qh; y++ {
		for x := 0; x < qw; x++ {
			pal.SetColorIndex(x, y, uint8(quad(x, y, qw, qh)))
		}
	}
	cmyk, err := fixtures.ReadFile("fixtures/cmyk.jpg")
	if err != nil {
		return err
	}
	webp, err := fixtures.ReadFile("fixtures/quad.webp")
	if err != nil {
		return err
	}
	for _, c := range []img{
		{"images/photo.jpg", jpg, expect8("jpeg", "*image.NRGBA", 8*257)},
		{"images/exif-rotated.jpg", exif, expect8("jpeg", "*image.NRGBA", 8*257)},
		{"images/cmyk.jpg", cmyk, expect8("jpeg", "*image.NRGBA", 12*257)},
		{"images/quad.png", enc(func(b *bytes.Buffer) error { return png.Encode(b, src) }), expect8("png", "*image.NRGBA", 0)},
		{"images/gray.png", enc(func(b *bytes.Buffer) error { return png.Encode(b, gray) }), grayExp},
		{"images/deep-16bit.png", enc(func(b *bytes.Buffer) error { return png.Encode(b, deep) }), deepExp},
		{"images/alpha.png", enc(func(b *bytes.Buffer) error { return png.Encode(b, alpha) }), alphaExp},
		{"images/palette.gif", enc(func(b *bytes.Buffer) error { return gif.Encode(b, pal, nil) }), expect8("gif", "*image.NRGBA", 0)},
		{"images/quad.bmp", enc(func(b *bytes.Buffer) error { return bmp.Encode(b, src) }), expect8("bmp", "*image.NRGBA", 0)},
		{"images/quad.tiff", enc(func(b *bytes.Buffer) error { return tiff.Encode(b, src, &tiff.Options{Compression: tiff.Deflate}) }), expect8("tiff", "*image.NRGBA", 0)},
		{"images/quad.webp", webp, expect8("webp", "*image.NRGBA", 0)},
		// A misleading extension: the bytes decide.
		{"images/really-a-png.jpg", enc(func(b *bytes.Buffer) error { return png.Encode(b, src) }), expect8("png", "*image.NRGBA", 0)},
	} {
		if err := g.write(c.id, c.data, Expect{Modality: "image", Image: c.exp}); err != nil {
			return err
		}
	}
	return nil
}

// withEXIFOrientation inserts an APP1 EXIF segment holding only the orientation tag
// right after a JPEG's SOI marker (Go's encoder writes no EXIF).
func withEXIFOrientation(jpg []byte, o uint16) []byte {
	var t bytes.Buffer
	t.WriteString("Exif\x00\x00MM\x00*")
	binary.Write(&t, binary.BigEndian, uint32(8))                  // IFD0 offset
	binary.Write(&t, binary.BigEndian, uint16(1))                  // one entry
	binary.Write(&t, binary.BigEndian, [4]uint16{0x0112, 3, 0, 1}) // tag, SHORT, count 1
	binary.Write(&t, binary.BigEndian, [2]uint16{o, 0})            // value, padded
	binary.Write(&t, binary.BigEndian, uint32(0))                  // no next IFD
	seg := append([]byte{0xff, 0xe1, byte((t.Len() + 2) >> 8), byte(t.Len() + 2)}, t.Bytes()...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func (g *gen) audio() error {
	for _, c := range []struct {
		id             string
		bits, channels int
		rate           int
	}{
		{"audio/pcm8-mono-8k.wav", 8, 1, 8000},
		{"audio/pcm16-stereo-16k.wav", 16, 2, 16000},
		{"audio/pcm24-mono-44k.wav", 24, 1, 44100},
		{"audio/pcm16-mono-22k.wav", 16, 1, 22050},
		{"audio/float32-stereo-48k.wav", 32, 2, 48000},
	} {
		frames := c.rate / 20 // 50 ms
		s := make([]float32, frames*c.channels)
		for ch := 0; ch < c.channels; ch++ {
			f := 440.0 * float64(ch+1)
			for i := 0; i < frames; i++ {
				s[ch*frames+i] = float32(0.8 * math.Sin(2*math.Pi*f*float64(i)/float64(c.rate)))
			}
		}
		var b bytes.Buffer
		if err := media.EncodeWAV(&b, s, c.rate, c.channels, c.bits); err != nil {
			return err
		}
		tol := 1 / float64(int64(1)<<(c.bits-1))
		if c.bits == 32 {
			tol = 0
		}
		e := Expect{Modality: "audio", Audio: &AudioExpect{Rate: c.rate, Channels: c.channels, Samples: s, Tol: tol}}
		if err := g.write(c.id, b.Bytes(), e); err != nil {
			return err
		}
	}
	return nil
}

func (g *gen) text() error {
	for _, c := range []struct{ id, body string }{
		{"text/hello.txt", "Hello, plexus.\n"},
		{"text/cjk-emoji.txt", "日本語のテキスト、中文文本、한국어 텍스트 🎉🚀 👩‍👩‍👧\n"},
		{"text/notes/readme.md", "# Notes\n\nNested one level down.\n"},
		{"text/no-extension", "plain words, no extension\n"},
	} {
		body := c.body
		if err := g.write(c.id, []byte(body), Expect{Modality: "text", Text: &body}); err != nil {
			return err
		}
	}
	withBOM := "a BOM is dropped\n"
	return g.write("text/bom.txt", append([]byte("\xef\xbb\xbf"), withBOM...), Expect{Modality: "text", Text: &withBOM})
}

func (g *gen) tensors() error {
	// A float32 2x3 .npy and a safetensors file holding one float32 [2] tensor.
	var npy bytes.Buffer
	hdr := "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
	hdr += strings.Repeat(" ", 64-(10+len(hdr)+1)%64) + "\n"
	npy.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&npy, binary.LittleEndian, uint16(len(hdr)))
	npy.WriteString(hdr)
	for i := 0; i < 6; i++ {
		binary.Write(&npy, binary.LittleEndian, float32(i))
	}
	if err := g.write("tensors/x.npy", npy.Bytes(), Expect{Modality: "tensor", Tensor: npy.Len()}); err != nil {
		return err
	}
	js := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	var st bytes.Buffer
	binary.Write(&st, binary.LittleEndian, uint64(len(js)))
	st.WriteString(js)
	binary.Write(&st, binary.LittleEndian, [2]float32{1, 2})
	return g.write("tensors/w.safetensors", st.Bytes(), Expect{Modality: "tensor", Tensor: st.Len()})
}

func (g *gen) broken() error {
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, quadNRGBA(), &jpeg.Options{Quality: 95}); err != nil {
		return err
	}
	// Cut inside the entropy-coded scan, as an interrupted download does; a cut in
	// the tables would fail as "bad header" instead.
	sos := bytes.Index(jpg.Bytes(), []byte{0xff, 0xda})
	truncated := jpg.Bytes()[:sos+(jpg.Len()-sos)/2]
	var wav bytes.Buffer
	if err := media.EncodeWAV(&wav, make([]float32, 200), 16000, 1, 16); err != nil {
		return err
	}
	liar := append([]byte{}, wav.Bytes()...)
	binary.LittleEndian.PutUint32(liar[4:], 0) // streaming RIFF size, so the data chunk is what lies
	binary.LittleEndian.PutUint32(liar[len(liar)-400-4:], 1_000_000)
	mulaw := append([]byte{}, wav.Bytes()...)
	binary.LittleEndian.PutUint16(mulaw[20:], 7)
	for _, c := range []struct {
		id, err string
		data    []byte
		mod     string
		atList  bool
	}{
		{"bad/truncated.jpg", "jpeg: file is truncated (no end-of-image marker)", truncated, "image", false},
		{"bad/lying-header.wav", "data chunk declares 1000000 bytes but only 400 remain", liar, "audio", false},
		{"bad/mu-law.wav", "format tag 0x0007 (mu-law) is not supported", mulaw, "audio", false},
		{"bad/invalid-utf8.txt", "invalid UTF-8 at byte offset 6", []byte("valid \xff\xfe then not"), "text", false},
		{"bad/empty.txt", "empty file", nil, "text", true},
		{"bad/bomb.png", "30000x30000 = 900000000 pixels, over the limit", pngHeaderOnly(30000, 30000), "image", false},
		{"bad/mystery.bin", "unrecognised content", []byte("\x00\x01\x02binary\x00"), "", true},
	} {
		if err := g.write(c.id, c.data, Expect{Modality: c.mod, Err: c.err, AtList: c.atList}); err != nil {
			return err
		}
	}
	return nil
}

// pngHeaderOnly is a PNG that declares w×h pixels and holds none: a decompression
// bomb's header, which must be refused before any pixel memory is allocated.
func pngHeaderOnly(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}
