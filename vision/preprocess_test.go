package vision

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/tensor"
)

var (
	imagenetMean = []float32{0.485, 0.456, 0.406}
	imagenetStd  = []float32{0.229, 0.224, 0.225}
)

// TestTransformMatchesTorchvision runs torchvision's evaluation transforms and ours on a
// real photo. PIL resamples in 8-bit fixed point and imaging in float, so single levels
// may differ by one; the mean difference must stay far below one level.
func TestTransformMatchesTorchvision(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "gopher.jpeg"))
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 tools/golden/vision.py)", err)
	}
	for _, tc := range []struct {
		fixture string
		tf      Transform
	}{
		{"gopher.resnet.npy", Transform{Resize: 256, Crop: 224, Mean: imagenetMean, Std: imagenetStd}},
		{"gopher.r80c75.npy", Transform{Resize: 80, Crop: 75, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.5, 0.5, 0.5}}},
		{"gopher.gray28.npy", Transform{Resize: 28, Crop: 28, Gray: true, Mean: []float32{0.286}, Std: []float32{0.353}}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			want, err := tensor.LoadNpy(filepath.Join("testdata", tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			got, h, w, err := tc.tf.Decode(data, media.DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if s := want.Shape(); s[0] != tc.tf.Channels() || s[1] != h || s[2] != w {
				t.Fatalf("shape %d×%d×%d, torchvision %v", tc.tf.Channels(), h, w, s)
			}
			ws := want.Float32s()
			var maxd, sum float64
			for i, v := range ws {
				std := float64(tc.tf.Std[i/(h*w)])
				d := math.Abs(float64(got[i])-float64(v)) * std * 255 // in 8-bit levels
				maxd = math.Max(maxd, d)
				sum += d
			}
			mean := sum / float64(len(ws))
			t.Logf("max %.2f levels, mean %.3f levels", maxd, mean)
			if maxd > 4 || mean > 0.3 {
				t.Errorf("differs from torchvision by up to %.2f levels (mean %.3f)", maxd, mean)
			}
		})
	}
}

func TestDecodeErrorsWrapErrImage(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "gopher.jpeg"))
	if err != nil {
		t.Fatal(err)
	}
	tf := Transform{Resize: 32, Crop: 32}
	for name, b := range map[string][]byte{
		"truncated": data[:len(data)/3],
		"text":      []byte("not an image at all"),
		"empty":     nil,
	} {
		if _, _, _, err := tf.Decode(b, media.DefaultLimits()); !errors.Is(err, ErrImage) {
			t.Errorf("%s: error %v does not wrap ErrImage", name, err)
		}
	}
	lim := media.DefaultLimits()
	lim.MaxPixels = 1000
	_, _, _, err = tf.Decode(data, lim)
	if !errors.Is(err, ErrImage) || !errors.Is(err, media.ErrLimit) {
		t.Errorf("oversized image: error %v, want ErrImage and media.ErrLimit", err)
	}
}

func TestCenterCropPads(t *testing.T) {
	tf := Transform{Crop: 8}
	x, h, w := tf.Apply(toGray(imageOf(4, 6)))
	if h != 8 || w != 8 || len(x) != 3*64 {
		t.Fatalf("got %d×%d (%d values)", h, w, len(x))
	}
}

func FuzzTransformDecode(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "gopher.jpeg")); err == nil {
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte("GIF89a"))
	tf := Transform{Resize: 20, Crop: 16, Mean: imagenetMean, Std: imagenetStd}
	lim := media.DefaultLimits()
	lim.MaxPixels = 1 << 20
	f.Fuzz(func(t *testing.T, b []byte) {
		x, h, w, err := tf.Decode(b, lim)
		if err != nil {
			if !errors.Is(err, ErrImage) {
				t.Fatalf("error %v does not wrap ErrImage", err)
			}
			return
		}
		if h != 16 || w != 16 || len(x) != 3*16*16 {
			t.Fatalf("decoded to %d×%d with %d values", h, w, len(x))
		}
	})
}
