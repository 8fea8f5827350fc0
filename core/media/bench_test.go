package media

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// BenchmarkDecodeWAV decodes 10 s of 16-bit stereo 44.1 kHz audio.
func BenchmarkDecodeWAV(b *testing.B) {
	s := make([]float32, 2*441000)
	for i := range s {
		s[i] = float32(i%200)/100 - 1
	}
	var buf bytes.Buffer
	if err := EncodeWAV(&buf, s, 44100, 2, 16); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := DecodeWAV(bytes.NewReader(buf.Bytes()), Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeImageToTensor decodes a 640x480 JPEG and makes the CHW tensor.
func BenchmarkDecodeImageToTensor(b *testing.B) {
	m := image.NewNRGBA(image.Rect(0, 0, 640, 480))
	for y := 0; y < 480; y++ {
		for x := 0; x < 640; x++ {
			m.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), uint8(x + y), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		img, _, err := DecodeImage(bytes.NewReader(buf.Bytes()), Limits{})
		if err != nil {
			b.Fatal(err)
		}
		ImageToTensor(img)
	}
}
