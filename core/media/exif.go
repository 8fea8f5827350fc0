package media

import (
	"bytes"
	"encoding/binary"
	"image"
)

// orientation returns the EXIF orientation (1..8) stored in an encoded image, or 1
// when there is none or it cannot be read: a broken EXIF block never fails a decode,
// as in every common viewer.
func orientation(format string, b []byte) int {
	var tiffData []byte
	switch format {
	case "jpeg":
		tiffData = jpegEXIF(b)
	case "png":
		tiffData = pngEXIF(b)
	case "webp":
		tiffData = webpEXIF(b)
	case "tiff":
		tiffData = b // a TIFF file's first IFD is where EXIF keeps the tag too
	default:
		return 1
	}
	if tiffData == nil {
		return 1
	}
	return tiffOrientation(tiffData)
}

// jpegEXIF walks the JPEG marker segments before the first scan and returns the
// TIFF block of the first APP1 "Exif" segment.
func jpegEXIF(b []byte) []byte {
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xff {
			return nil
		}
		marker := b[i+1]
		if marker == 0xff { // fill byte
			i++
			continue
		}
		if marker == 0xd8 || marker >= 0xd0 && marker <= 0xd7 || marker == 0x01 {
			i += 2
			continue
		}
		if marker == 0xda || marker == 0xd9 { // start of scan, end of image
			return nil
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return nil
		}
		seg := b[i+4 : i+2+n]
		if marker == 0xe1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return seg[6:]
		}
		i += 2 + n
	}
	return nil
}

func pngEXIF(b []byte) []byte {
	i := 8
	for i+12 <= len(b) {
		n := binary.BigEndian.Uint32(b[i:])
		if n > uint32(len(b)-i-12) {
			return nil
		}
		typ := string(b[i+4 : i+8])
		if typ == "eXIf" {
			return b[i+8 : i+8+int(n)]
		}
		if typ == "IEND" {
			return nil
		}
		i += 12 + int(n)
	}
	return nil
}

func webpEXIF(b []byte) []byte {
	i := 12
	for i+8 <= len(b) {
		n := binary.LittleEndian.Uint32(b[i+4:])
		if n > uint32(len(b)-i-8) {
			return nil
		}
		if string(b[i:i+4]) == "EXIF" {
			d := b[i+8 : i+8+int(n)]
			// Some writers keep JPEG's "Exif\0\0" prefix in the chunk.
			return bytes.TrimPrefix(d, []byte("Exif\x00\x00"))
		}
		i += 8 + int(n) + int(n&1)
	}
	return nil
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF-structured block.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 1
	}
	off := bo.Uint32(t[4:])
	if off > uint32(len(t)-2) {
		return 1
	}
	n := int(bo.Uint16(t[off:]))
	p := int(off) + 2
	for k := 0; k < n && p+12 <= len(t); k, p = k+1, p+12 {
		if bo.Uint16(t[p:]) != 0x0112 {
			continue
		}
		if bo.Uint32(t[p+4:]) != 1 {
			return 1
		}
		// The spec says SHORT; some writers (Pillow for TIFF) use LONG.
		var o uint32
		switch bo.Uint16(t[p+2:]) {
		case 3:
			o = uint32(bo.Uint16(t[p+8:]))
		case 4:
			o = bo.Uint32(t[p+8:])
		}
		if o >= 1 && o <= 8 {
			return int(o)
		}
		return 1
	}
	return 1
}

// applyOrientation returns img turned so that it displays upright, for an image that
// normalize produced (pixels as contiguous fixed-size cells, bounds at the origin).
func applyOrientation(img image.Image, o int) image.Image {
	var pix []byte
	var stride, bpp int
	switch m := img.(type) {
	case *image.Gray:
		pix, stride, bpp = m.Pix, m.Stride, 1
	case *image.Gray16:
		pix, stride, bpp = m.Pix, m.Stride, 2
	case *image.NRGBA:
		pix, stride, bpp = m.Pix, m.Stride, 4
	case *image.NRGBA64:
		pix, stride, bpp = m.Pix, m.Stride, 8
	default:
		return img
	}
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := make([]byte, ow*oh*bpp)
	// For each output pixel (x, y), the source pixel is (sx, sy) = (ax*x + bx*y + cx,
	// ay*x + by*y + cy); the coefficients encode the EXIF transforms (2 mirror,
	// 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90 CW, 7 transverse, 8 rotate 90 CCW).
	var ax, bx, cx, ay, by, cy int
	switch o {
	case 2:
		ax, cx, by = -1, w-1, 1
	case 3:
		ax, cx, by, cy = -1, w-1, -1, h-1
	case 4:
		ax, by, cy = 1, -1, h-1
	case 5:
		bx, ay = 1, 1
	case 6:
		bx, ay, cy = 1, -1, h-1
	case 7:
		bx, cx, ay, cy = -1, w-1, -1, h-1
	case 8:
		bx, cx, ay = -1, w-1, 1
	default:
		return img
	}
	for y := 0; y < oh; y++ {
		row := out[y*ow*bpp:]
		for x := 0; x < ow; x++ {
			sx := ax*x + bx*y + cx
			sy := ay*x + by*y + cy
			s := sy*stride + sx*bpp
			copy(row[x*bpp:x*bpp+bpp], pix[s:s+bpp])
		}
	}
	r := image.Rect(0, 0, ow, oh)
	switch bpp {
	case 1:
		return &image.Gray{Pix: out, Stride: ow, Rect: r}
	case 2:
		return &image.Gray16{Pix: out, Stride: ow * 2, Rect: r}
	case 4:
		return &image.NRGBA{Pix: out, Stride: ow * 4, Rect: r}
	}
	return &image.NRGBA64{Pix: out, Stride: ow * 8, Rect: r}
}
