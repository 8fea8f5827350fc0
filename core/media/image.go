package media

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// imageFormat is one row of the table that Sniff, ImageFormat and DecodeImage share.
// plexus keeps its own table instead of image.RegisterFormat so that decoding does
// not depend on which packages some binary happens to import.
type imageFormat struct {
	name   string
	match  func(head []byte) bool
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

var imageFormats = [...]imageFormat{
	{"jpeg", prefix("\xff\xd8\xff"), jpeg.DecodeConfig, jpeg.Decode},
	{"png", prefix("\x89PNG\r\n\x1a\n"), png.DecodeConfig, png.Decode},
	{"gif", func(h []byte) bool {
		return bytes.HasPrefix(h, []byte("GIF87a")) || bytes.HasPrefix(h, []byte("GIF89a"))
	}, gif.DecodeConfig, gif.Decode},
	{"webp", func(h []byte) bool { return len(h) >= 12 && string(h[:4]) == "RIFF" && string(h[8:12]) == "WEBP" }, webp.DecodeConfig, webp.Decode},
	{"tiff", func(h []byte) bool {
		return bytes.HasPrefix(h, []byte("II*\x00")) || bytes.HasPrefix(h, []byte("MM\x00*"))
	}, tiff.DecodeConfig, tiff.Decode},
	// "BM" alone would claim text files that start with those letters, so the
	// header's reserved fields (zero) and its DIB header size are checked too.
	{"bmp", isBMP, bmp.DecodeConfig, bmp.Decode},
}

func prefix(p string) func([]byte) bool {
	return func(h []byte) bool { return bytes.HasPrefix(h, []byte(p)) }
}

func isBMP(h []byte) bool {
	if len(h) < 18 || h[0] != 'B' || h[1] != 'M' {
		return false
	}
	if h[6]|h[7]|h[8]|h[9] != 0 {
		return false
	}
	switch int(h[14]) | int(h[15])<<8 { // DIB header sizes in use: core, info, v2..v5
	case 12, 40, 52, 56, 64, 108, 124:
		return h[16]|h[17] == 0
	}
	return false
}

// DecodeImage decodes a JPEG, PNG, GIF (first frame), BMP, TIFF or WebP image and
// returns it with the format's name. It reads at most lim's byte limit, checks the
// pixel limit from the header before decoding anything else, applies the EXIF
// orientation (JPEG, PNG eXIf, WebP EXIF, TIFF's own tag), and normalises the result
// to one of *image.Gray, *image.Gray16, *image.NRGBA or *image.NRGBA64: CMYK, YCbCr,
// paletted and premultiplied images become NRGBA, 16-bit colour becomes NRGBA64.
func DecodeImage(r io.Reader, lim Limits) (image.Image, string, error) {
	b, err := readLimited(r, lim)
	if err != nil {
		return nil, "", err
	}
	return DecodeImageBytes(b, lim)
}

// DecodeImageBytes is DecodeImage for a payload already in memory; b is not retained.
func DecodeImageBytes(b []byte, lim Limits) (image.Image, string, error) {
	if err := lim.CheckBytes(int64(len(b))); err != nil {
		return nil, "", err
	}
	f := lookupImage(b)
	if f == nil {
		return nil, "", ErrFormat
	}
	cfg, err := f.config(bytes.NewReader(b))
	if err != nil {
		msg := "bad header"
		if t := truncation(f.name, b); t != "" {
			msg = t
		}
		return nil, f.name, &FormatError{Format: f.name, Msg: msg, Err: err}
	}
	if err := lim.CheckPixels(cfg.Width, cfg.Height); err != nil {
		return nil, f.name, err
	}
	if cfg.Width == 0 || cfg.Height == 0 {
		return nil, f.name, formatErr(f.name, "image is empty (%dx%d)", cfg.Width, cfg.Height)
	}
	img, err := f.decode(bytes.NewReader(b))
	if err != nil {
		return nil, f.name, &FormatError{Format: f.name, Msg: truncation(f.name, b), Err: err}
	}
	screen := image.Rect(0, 0, cfg.Width, cfg.Height)
	if f.name == "gif" && img.Bounds() != screen && img.Bounds().In(screen) {
		// A GIF's first frame may cover part of the logical screen; the rest is
		// transparent, as a browser shows it.
		canvas := image.NewNRGBA(screen)
		draw.Draw(canvas, img.Bounds(), img, img.Bounds().Min, draw.Src)
		img = canvas
	}
	// A decoder must not hand back more than its header promised; if one ever does,
	// the limit above would have been checked against the wrong number.
	if r := img.Bounds(); r.Dx() != cfg.Width || r.Dy() != cfg.Height {
		return nil, f.name, formatErr(f.name, "decoded %dx%d but the header says %dx%d", r.Dx(), r.Dy(), cfg.Width, cfg.Height)
	}
	img = normalize(img)
	if o := orientation(f.name, b); o > 1 {
		img = applyOrientation(img, o)
	}
	return img, f.name, nil
}

// DecodeImageConfig returns an image's format and dimensions from its header.
func DecodeImageConfig(r io.Reader) (image.Config, string, error) {
	head := make([]byte, SniffLen)
	n, err := io.ReadFull(r, head)
	if err != nil && err != io.ErrUnexpectedEOF {
		if err == io.EOF {
			return image.Config{}, "", ErrFormat
		}
		return image.Config{}, "", err
	}
	f := lookupImage(head[:n])
	if f == nil {
		return image.Config{}, "", ErrFormat
	}
	cfg, err := f.config(io.MultiReader(bytes.NewReader(head[:n]), r))
	if err != nil {
		return cfg, f.name, &FormatError{Format: f.name, Msg: "bad header", Err: err}
	}
	return cfg, f.name, nil
}

func lookupImage(b []byte) *imageFormat {
	for i := range imageFormats {
		if imageFormats[i].match(b) {
			return &imageFormats[i]
		}
	}
	return nil
}

// readLimited reads all of r, failing with a LimitError as soon as it passes the
// byte limit instead of buffering an unbounded stream first.
func readLimited(r io.Reader, lim Limits) ([]byte, error) {
	max := lim.maxBytes()
	var b []byte
	// A size known up front is checked before reading and sizes the buffer once.
	n := int64(-1)
	switch s := r.(type) {
	case interface{ Size() int64 }: // *bytes.Reader, *strings.Reader
		n = s.Size()
	case interface{ Stat() (fs.FileInfo, error) }: // *os.File
		if st, err := s.Stat(); err == nil && st.Mode().IsRegular() {
			n = st.Size()
		}
	}
	if n > max {
		return nil, &LimitError{What: "bytes", Got: n, Max: max}
	} else if n > 0 {
		b = make([]byte, 0, n+1) // +1: ReadFrom needs room to see EOF without growing
	}
	lr := &io.LimitedReader{R: r, N: max}
	if max < 1<<63-1 {
		lr.N++ // one byte more tells "exactly at the limit" from "over it"
	}
	buf := bytes.NewBuffer(b)
	if _, err := buf.ReadFrom(lr); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if int64(buf.Len()) > max {
		return nil, &LimitError{What: "bytes", Got: int64(buf.Len()), Max: max, Detail: "payload (at least)"}
	}
	return buf.Bytes(), nil
}

// normalize converts a decoder's output to one of the four types the rest of plexus
// handles with fast paths. Gray and 16-bit data keep their depth; everything with
// colour becomes non-premultiplied, which is what PIL and torchvision hand a model.
func normalize(img image.Image) image.Image {
	switch m := img.(type) {
	case *image.Gray, *image.Gray16, *image.NRGBA, *image.NRGBA64:
		return rebase(img)
	case *image.RGBA64:
		out := image.NewNRGBA64(image.Rect(0, 0, m.Rect.Dx(), m.Rect.Dy()))
		for y := 0; y < m.Rect.Dy(); y++ {
			src := m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y+y):][:8*m.Rect.Dx()]
			dst := out.Pix[y*out.Stride:][:8*m.Rect.Dx()]
			copy(dst, src)
			for i := 0; i < len(dst); i += 8 {
				if a := uint32(dst[i+6])<<8 | uint32(dst[i+7]); a != 0xffff {
					for k := 0; k < 6; k += 2 {
						v := uint32(dst[i+k])<<8 | uint32(dst[i+k+1])
						if a != 0 {
							v = v * 0xffff / a
						}
						dst[i+k], dst[i+k+1] = byte(v>>8), byte(v)
					}
				}
			}
		}
		return out
	case *image.RGBA:
		out := image.NewNRGBA(image.Rect(0, 0, m.Rect.Dx(), m.Rect.Dy()))
		for y := 0; y < m.Rect.Dy(); y++ {
			src := m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y+y):][:4*m.Rect.Dx()]
			dst := out.Pix[y*out.Stride:][:4*m.Rect.Dx()]
			copy(dst, src)
			for i := 0; i < len(dst); i += 4 {
				if a := uint32(dst[i+3]); a != 0xff && a != 0 {
					dst[i] = uint8(uint32(dst[i]) * 0xff / a)
					dst[i+1] = uint8(uint32(dst[i+1]) * 0xff / a)
					dst[i+2] = uint8(uint32(dst[i+2]) * 0xff / a)
				}
			}
		}
		return out
	case *image.YCbCr:
		out := image.NewNRGBA(image.Rect(0, 0, m.Rect.Dx(), m.Rect.Dy()))
		for y := 0; y < m.Rect.Dy(); y++ {
			dst := out.Pix[y*out.Stride:][:4*m.Rect.Dx()]
			for x := 0; x < m.Rect.Dx(); x++ {
				sx, sy := m.Rect.Min.X+x, m.Rect.Min.Y+y
				ci := m.COffset(sx, sy)
				r, g, b := color.YCbCrToRGB(m.Y[m.YOffset(sx, sy)], m.Cb[ci], m.Cr[ci])
				dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = r, g, b, 0xff
			}
		}
		return out
	case *image.CMYK:
		out := image.NewNRGBA(image.Rect(0, 0, m.Rect.Dx(), m.Rect.Dy()))
		for y := 0; y < m.Rect.Dy(); y++ {
			src := m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y+y):][:4*m.Rect.Dx()]
			dst := out.Pix[y*out.Stride : y*out.Stride+4*m.Rect.Dx()]
			for i := 0; i < len(src); i += 4 {
				r, g, b := color.CMYKToRGB(src[i], src[i+1], src[i+2], src[i+3])
				dst[i], dst[i+1], dst[i+2], dst[i+3] = r, g, b, 0xff
			}
		}
		return out
	}
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	// draw.Src converts through the colour model exactly (YCbCr, paletted, RGBA).
	draw.Draw(out, out.Rect, img, b.Min, draw.Src)
	return out
}

// rebase makes an image's bounds start at (0,0) without copying pixels, because
// callers index pixels from zero (GIF frames and TIFF sub-images may not).
func rebase(img image.Image) image.Image {
	if img.Bounds().Min == (image.Point{}) {
		return img
	}
	switch m := img.(type) {
	case *image.Gray:
		c := *m
		c.Rect = c.Rect.Sub(c.Rect.Min)
		c.Pix = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):]
		return &c
	case *image.Gray16:
		c := *m
		c.Rect = c.Rect.Sub(c.Rect.Min)
		c.Pix = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):]
		return &c
	case *image.NRGBA:
		c := *m
		c.Rect = c.Rect.Sub(c.Rect.Min)
		c.Pix = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):]
		return &c
	case *image.NRGBA64:
		c := *m
		c.Rect = c.Rect.Sub(c.Rect.Min)
		c.Pix = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):]
		return &c
	}
	return img
}

// truncation says why a failed decode is probably a cut-off file, for the formats
// that end with a marker: decoders report the symptom ("short Huffman data"), and a
// user needs the cause.
func truncation(format string, b []byte) string {
	b = bytes.TrimRight(b, "\x00") // some writers pad after the end marker
	switch format {
	case "jpeg":
		if !bytes.HasSuffix(b, []byte{0xff, 0xd9}) {
			return "file is truncated (no end-of-image marker)"
		}
	case "png":
		if !bytes.HasSuffix(b, []byte("IEND\xaeB`\x82")) {
			return "file is truncated (no IEND chunk)"
		}
	}
	return ""
}
