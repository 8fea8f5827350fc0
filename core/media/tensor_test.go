package media

import (
	"image"
	"image/color"
	"math"
	"path/filepath"
	"testing"
)

func TestImageToTensorMatchesTorchvision(t *testing.T) {
	// torchvision's ToTensor(pil.convert("RGB")) is the reference's bytes / 255.
	img, _ := decodeFile(t, "orient6.png")
	ref := loadNpy(t, filepath.Join("testdata", "orient6.png.npy"))
	h, w := ref.shape[0], ref.shape[1]
	x := ImageToTensor(img)
	if got := x.Shape(); len(got) != 3 || got[0] != 3 || got[1] != h || got[2] != w {
		t.Fatalf("shape %v, want [3 %d %d]", got, h, w)
	}
	want := make([]float32, 3*h*w)
	for c := 0; c < 3; c++ {
		for i := 0; i < h*w; i++ {
			want[c*h*w+i] = float32(ref.u8[i*3+c]) / 255
		}
	}
	if err := closeEnough(x.Float32s(), want); err != nil {
		t.Error(err)
	}

	// One channel: Pillow's convert("L") rounding, exactly.
	img, _ = decodeFile(t, "orient1.png")
	refL := loadNpy(t, filepath.Join("testdata", "orient1.png.L.npy"))
	got := ImageToTensor(img, WithChannels(1)).Float32s()
	for i, v := range refL.u8 {
		if got[i] != float32(v)/255 {
			t.Fatalf("luma %d = %v, want %v (Pillow's L)", i, got[i]*255, v)
		}
	}
}

func TestImageToTensorGrayAlphaAnd16Bit(t *testing.T) {
	g := image.NewGray16(image.Rect(0, 0, 2, 1))
	g.SetGray16(0, 0, color.Gray16{Y: 0xffff})
	g.SetGray16(1, 0, color.Gray16{Y: 0x8000})
	x := ImageToTensor(g)
	if s := x.Shape(); s[0] != 1 {
		t.Fatalf("gray image gave %d channels, want 1", s[0])
	}
	if v := x.Float32s(); v[0] != 1 || math.Abs(float64(v[1])-32768.0/65535) > 1e-7 {
		t.Errorf("gray16 values %v", v)
	}
	if s := ImageToTensor(g, WithChannels(3)).Shape(); s[0] != 3 {
		t.Errorf("WithChannels(3) gave %v", s)
	}

	// A half-transparent red pixel: alpha dropped by default, composited on request.
	m := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	m.SetNRGBA(0, 0, color.NRGBA{R: 255, A: 128})
	if v := ImageToTensor(m).Float32s(); v[0] != 1 || v[1] != 0 || v[2] != 0 {
		t.Errorf("alpha dropped: %v, want [1 0 0]", v)
	}
	v := ImageToTensor(m, WithBackground(color.White)).Float32s()
	if v[0] != 1 || math.Abs(float64(v[1])-127.0/255) > 1e-6 || v[1] != v[2] {
		t.Errorf("over white: %v, want [1 0.498 0.498]", v)
	}
	// Premultiplied input is un-premultiplied first.
	p := image.NewRGBA(image.Rect(0, 0, 1, 1))
	p.SetRGBA(0, 0, color.RGBA{R: 128, A: 128})
	if v := ImageToTensor(p).Float32s(); v[0] != 1 {
		t.Errorf("premultiplied red at half alpha gave R=%v, want 1", v[0])
	}
}
