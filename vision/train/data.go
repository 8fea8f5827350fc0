package train

import (
	"fmt"
	"math/rand/v2"

	"github.com/plexusml/plexus/core/dataset"
)

// images is an IDX image set with its labels: n grayscale h×w images.
type images struct {
	n, h, w int
	pix     []uint8
	labels  []uint8
}

func loadIDX(imagesPath, labelsPath string, classes int) (*images, error) {
	x, err := dataset.ReadIDX(imagesPath)
	if err != nil {
		return nil, err
	}
	y, err := dataset.ReadIDX(labelsPath)
	if err != nil {
		return nil, err
	}
	if x.Rank() != 3 {
		return nil, fmt.Errorf("%s: shape %v, want images×height×width", imagesPath, x.Shape())
	}
	if y.Rank() != 1 || y.Dim(0) != x.Dim(0) {
		return nil, fmt.Errorf("%s: shape %v for %d images in %s", labelsPath, y.Shape(), x.Dim(0), imagesPath)
	}
	d := &images{n: x.Dim(0), h: x.Dim(1), w: x.Dim(2), pix: x.Bytes(), labels: y.Bytes()}
	for i, l := range d.labels {
		if int(l) >= classes {
			return nil, fmt.Errorf("%s: item %d has label %d, the model has %d classes", labelsPath, i, l, classes)
		}
	}
	return d, nil
}

// augment says how fill transforms each image.
type augment struct {
	pad  int
	flip bool
	rng  *rand.Rand // nil: no augmentation (evaluation)
}

// fill writes images idx, normalized ((v/255 − mean)/std), into x (len(idx)×1×h×w) and
// their labels into labels. With augmentation each image is shifted by a random offset
// in [−pad, pad] on both axes (torchvision's RandomCrop(size, padding=pad): zero fill)
// and flipped left-right with probability ½.
func (d *images) fill(idx []int, x []float32, labels []int, mean, std float32, a augment) {
	var lut [256]float32
	for v := range lut {
		lut[v] = (float32(v)/255 - mean) / std
	}
	zero := lut[0]
	hw := d.h * d.w
	for i, k := range idx {
		labels[i] = int(d.labels[k])
		src := d.pix[k*hw : (k+1)*hw]
		dst := x[i*hw : (i+1)*hw]
		dy, dx, flip := 0, 0, false
		if a.rng != nil {
			if a.pad > 0 {
				dy = a.rng.IntN(2*a.pad+1) - a.pad
				dx = a.rng.IntN(2*a.pad+1) - a.pad
			}
			flip = a.flip && a.rng.IntN(2) == 1
		}
		for y := 0; y < d.h; y++ {
			sy := y + dy
			row := dst[y*d.w : (y+1)*d.w]
			if sy < 0 || sy >= d.h {
				for j := range row {
					row[j] = zero
				}
				continue
			}
			for xx := range row {
				sx := xx + dx
				if flip {
					sx = d.w - 1 - xx + dx
				}
				if sx < 0 || sx >= d.w {
					row[xx] = zero
				} else {
					row[xx] = lut[src[sy*d.w+sx]]
				}
			}
		}
	}
}
