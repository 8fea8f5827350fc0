// Package vision turns images into the tensors torchvision's classifiers expect: the
// standard evaluation transform (resize the shorter side, centre crop, to-tensor,
// normalise) done with disintegration/imaging so that it matches PIL. Models live in
// vision/resnet and vision/inception, labels in vision/labels.
package vision

import (
	"errors"
	"fmt"
	"image"
	"math"

	"github.com/disintegration/imaging"

	"github.com/plexusml/plexus/core/media"
)

// Transform is torchvision's evaluation preprocessing:
//
//	Resize(Resize) → CenterCrop(Crop) → ToTensor() → Normalize(Mean, Std)
//
// with Gray inserting Grayscale() first. Resize scales the shorter side to Resize with
// a triangle (bilinear) filter whose support widens when shrinking, as PIL's BILINEAR
// does, so the result antialiases like torchvision on PIL images.
type Transform struct {
	Resize    int // shorter side after resizing; 0 keeps the size
	Crop      int // side of the centre crop; 0 keeps the whole image
	Gray      bool
	Mean, Std []float32 // one per channel
}

// ErrImage wraps every error about an image that cannot be used (corrupt, unknown
// format, over the size limit), so a caller can fail that item alone.
var ErrImage = errors.New("bad image")

// Channels is the number of channels Apply produces.
func (t Transform) Channels() int {
	if t.Gray {
		return 1
	}
	return 3
}

// Size is the height and width Apply produces for a w×h image.
func (t Transform) Size(w, h int) (int, int) {
	if t.Resize > 0 {
		w, h = resizedSize(w, h, t.Resize)
	}
	if t.Crop > 0 {
		return t.Crop, t.Crop
	}
	return h, w
}

// resizedSize is torchvision's Resize(int) arithmetic: the shorter side becomes size
// and the longer one size·long/short, truncated.
func resizedSize(w, h, size int) (int, int) {
	if w <= h {
		return size, int(float64(size) * float64(h) / float64(w))
	}
	return int(float64(size) * float64(w) / float64(h)), size
}

// Decode decodes an encoded image (through core/media: size limits, EXIF orientation)
// and applies the transform. Errors wrap ErrImage.
func (t Transform) Decode(data []byte, lim media.Limits) ([]float32, int, int, error) {
	img, _, err := media.DecodeImageBytes(data, lim)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: %w", ErrImage, err)
	}
	x, h, w := t.Apply(img)
	return x, h, w, nil
}

// Apply returns the C×H×W normalized tensor data of img with its height and width.
func (t Transform) Apply(img image.Image) ([]float32, int, int) {
	if t.Gray {
		img = toGray(img)
	}
	b := img.Bounds()
	if t.Resize > 0 {
		w, h := resizedSize(b.Dx(), b.Dy(), t.Resize)
		if w != b.Dx() || h != b.Dy() {
			img = imaging.Resize(img, w, h, imaging.Linear)
		}
	}
	if t.Crop > 0 {
		img = centerCrop(img, t.Crop)
	}
	opts := []media.TensorOption{media.WithChannels(t.Channels())}
	x := media.ImageToTensor(img, opts...)
	data := x.Float32s()
	h, w := x.Dim(1), x.Dim(2)
	c := t.Channels()
	for ch := 0; ch < c; ch++ {
		mean, inv := float32(0), float32(1)
		if ch < len(t.Mean) {
			mean = t.Mean[ch]
		}
		if ch < len(t.Std) && t.Std[ch] != 0 {
			inv = 1 / t.Std[ch]
		}
		plane := data[ch*h*w : (ch+1)*h*w]
		for i, v := range plane {
			plane[i] = (v - mean) * inv
		}
	}
	return data, h, w
}

// centerCrop is torchvision's CenterCrop: the offsets round half to even like Python's
// round, and a crop larger than the image pads it with zeros.
func centerCrop(img image.Image, size int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < size || h < size {
		dst := image.NewNRGBA(image.Rect(0, 0, max(w, size), max(h, size)))
		// torchvision pads (size−w)//2 on the left and the rest on the right.
		off := image.Pt(max(0, (size-w)/2), max(0, (size-h)/2))
		img = imaging.Paste(dst, img, off)
		b = img.Bounds()
		w, h = b.Dx(), b.Dy()
	}
	top := int(math.RoundToEven(float64(h-size) / 2))
	left := int(math.RoundToEven(float64(w-size) / 2))
	return imaging.Crop(img, image.Rect(b.Min.X+left, b.Min.Y+top, b.Min.X+left+size, b.Min.Y+top+size))
}

// toGray converts to 8-bit luma with Pillow's convert("L") integer weights, which
// torchvision's Grayscale uses, so a grayscale model sees the numbers it was trained on.
func toGray(img image.Image) *image.Gray {
	if g, ok := img.(*image.Gray); ok {
		return g
	}
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	src := imaging.Clone(img) // NRGBA, so the stored colour is read without premultiplying
	for y := 0; y < b.Dy(); y++ {
		row := src.Pix[y*src.Stride : y*src.Stride+4*b.Dx()]
		dst := out.Pix[y*out.Stride : y*out.Stride+b.Dx()]
		for x := range dst {
			r, g, bl := uint32(row[4*x]), uint32(row[4*x+1]), uint32(row[4*x+2])
			dst[x] = uint8((r*19595 + g*38470 + bl*7471 + 0x8000) >> 16)
		}
	}
	return out
}
