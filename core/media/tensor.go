package media

import (
	"image"
	"image/color"

	"github.com/plexusml/plexus/core/tensor"
)

// TensorOption adjusts ImageToTensor.
type TensorOption func(*tensorOptions)

type tensorOptions struct {
	channels int
	bg       *color.NRGBA64
}

// WithChannels asks for 1 (luma) or 3 (RGB) channels; by default grayscale images
// give 1 and everything else 3.
func WithChannels(n int) TensorOption { return func(o *tensorOptions) { o.channels = n } }

// WithBackground composites transparent pixels over c. Without it alpha is dropped
// and the stored colour kept, as Pillow's convert("RGB") does.
func WithBackground(c color.Color) TensorOption {
	return func(o *tensorOptions) {
		bg := color.NRGBA64Model.Convert(c).(color.NRGBA64)
		o.bg = &bg
	}
}

// scale8 maps an 8-bit level to float32 exactly as torchvision's ToTensor does (x/255).
var scale8 = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return
}()

// ImageToTensor returns img as a CHW float32 tensor with values in [0, 1]. RGB to
// luma uses Pillow's convert("L") weights and rounding for 8-bit images, so a model
// sees the same numbers as under torchvision; 16-bit images keep their precision.
func ImageToTensor(img image.Image, opts ...TensorOption) *tensor.Tensor {
	var o tensorOptions
	for _, f := range opts {
		f(&o)
	}
	img = normalize(img)
	gray := false
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		gray = true
	}
	c := o.channels
	if c != 1 && c != 3 {
		c = 3
		if gray {
			c = 1
		}
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := make([]float32, c*w*h)
	plane := w * h
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			dst := out[y*w : y*w+w]
			for x, v := range row {
				dst[x] = scale8[v]
			}
		}
		replicate(out, plane, c)
	case *image.Gray16:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+2*w]
			dst := out[y*w : y*w+w]
			for x := range dst {
				dst[x] = float32(uint16(row[2*x])<<8|uint16(row[2*x+1])) / 65535
			}
		}
		replicate(out, plane, c)
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				p := row[4*x : 4*x+4]
				r, g, bl := p[0], p[1], p[2]
				if o.bg != nil && p[3] != 0xff {
					r, g, bl = over8(r, p[3], o.bg.R), over8(g, p[3], o.bg.G), over8(bl, p[3], o.bg.B)
				}
				i := y*w + x
				if c == 1 {
					out[i] = scale8[(uint32(r)*19595+uint32(g)*38470+uint32(bl)*7471+0x8000)>>16]
					continue
				}
				out[i], out[plane+i], out[2*plane+i] = scale8[r], scale8[g], scale8[bl]
			}
		}
	case *image.NRGBA64:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+8*w]
			for x := 0; x < w; x++ {
				p := row[8*x : 8*x+8]
				var v [4]float32
				for k := range v {
					v[k] = float32(uint16(p[2*k])<<8|uint16(p[2*k+1])) / 65535
				}
				if o.bg != nil && v[3] != 1 {
					bg := [3]uint16{o.bg.R, o.bg.G, o.bg.B}
					for k := 0; k < 3; k++ {
						v[k] = v[k]*v[3] + float32(bg[k])/65535*(1-v[3])
					}
				}
				i := y*w + x
				if c == 1 {
					out[i] = 0.299*v[0] + 0.587*v[1] + 0.114*v[2]
					continue
				}
				out[i], out[plane+i], out[2*plane+i] = v[0], v[1], v[2]
			}
		}
	}
	return tensor.FromFloat32(out, c, h, w)
}

// replicate copies plane 0 into the other channels (gray shown as RGB).
func replicate(out []float32, plane, c int) {
	for k := 1; k < c; k++ {
		copy(out[k*plane:(k+1)*plane], out[:plane])
	}
}

// over8 composites an 8-bit value with alpha a over a 16-bit background level.
func over8(v, a uint8, bg uint16) uint8 {
	return uint8((uint32(v)*uint32(a) + uint32(bg>>8)*(255-uint32(a)) + 127) / 255)
}
