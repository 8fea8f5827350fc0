package vision

import (
	"image"
	"image/color"
)

// imageOf is a w×h test image with a colour ramp.
func imageOf(w, h int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.NRGBA{uint8(40 * x), uint8(30 * y), 128, 255})
		}
	}
	return img
}
