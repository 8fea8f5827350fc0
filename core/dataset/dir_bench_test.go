package dataset_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/plexusml/plexus/core/dataset"
	"github.com/plexusml/plexus/core/media"
)

// BenchmarkDirWalk lists a directory of 3000 small files (text, PNG, WAV) in 30
// subdirectories, sniffing each, as a pipeline's source does; items/s is the figure
// to compare with the engine's 100 000 items/s target. The page cache is warm.
func BenchmarkDirWalk(b *testing.B) {
	dir := b.TempDir()
	var pngb, wavb bytes.Buffer
	if err := png.Encode(&pngb, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		b.Fatal(err)
	}
	if err := media.EncodeWAV(&wavb, make([]float32, 400), 16000, 1, 16); err != nil {
		b.Fatal(err)
	}
	const n = 3000
	for i := 0; i < n; i++ {
		sub := filepath.Join(dir, fmt.Sprintf("d%02d", i%30))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		var name string
		var data []byte
		switch i % 3 {
		case 0:
			name, data = fmt.Sprintf("%05d.txt", i), []byte("some words of text for the item\n")
		case 1:
			name, data = fmt.Sprintf("%05d.png", i), pngb.Bytes()
		default:
			name, data = fmt.Sprintf("%05d.wav", i), wavb.Bytes()
		}
		if err := os.WriteFile(filepath.Join(sub, name), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, w := range []int{1, 0} {
		name := "workers=auto"
		if w == 1 {
			name = "workers=1"
		}
		b.Run(name, func(b *testing.B) { walkBench(b, dir, n, w) })
	}
}

func walkBench(b *testing.B, dir string, n, workers int) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := dataset.Open(dir, dataset.Options{Workers: workers})
		if err != nil {
			b.Fatal(err)
		}
		count := 0
		for {
			it, err := s.Next(ctx)
			if err == io.EOF {
				break
			}
			if err != nil || it.Err != nil {
				b.Fatal(err, it.Err)
			}
			count++
		}
		if count != n {
			b.Fatalf("%d items, want %d", count, n)
		}
		s.Close()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkJSONLManifest lists a 3000-row manifest (inline text, plus extra fields).
func BenchmarkJSONLManifest(b *testing.B) {
	var m bytes.Buffer
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&m, `{"id": "row-%d", "text": "some words of text for the item", "label": %d, "lang": "en"}`+"\n", i, i%10)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := dataset.NewJSONL(bytes.NewReader(m.Bytes()), "bench.jsonl", dataset.Options{})
		for {
			it, err := s.Next(ctx)
			if err == io.EOF {
				break
			}
			if err != nil || it.Err != nil {
				b.Fatal(err, it.Err)
			}
		}
	}
	b.ReportMetric(float64(3000*b.N)/b.Elapsed().Seconds(), "items/s")
}
