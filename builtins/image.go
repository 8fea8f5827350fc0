package builtins

import (
	"context"
	"fmt"
	"image"

	"github.com/disintegration/imaging"

	"github.com/plexusml/plexus/core/engine"
	"github.com/plexusml/plexus/core/media"
)

// resize scales each image. Outputs: image (the resized image.Image), width, height.
type resize struct {
	width, height int
	fit           string
	gray          bool
	lim           media.Limits
}

type resizeConfig struct {
	Size   int    `json:"size"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Fit    string `json:"fit"` // fill (crop to the box), fit (inside the box), stretch
	Gray   bool   `json:"gray"`
}

func newResize(_ context.Context, s engine.Spec) (engine.Stage, error) {
	var c resizeConfig
	if err := decodeConfig(s, &c); err != nil {
		return nil, err
	}
	if c.Size > 0 {
		c.Width, c.Height = c.Size, c.Size
	}
	if c.Width <= 0 || c.Height <= 0 {
		return nil, fmt.Errorf("stage %q: image.resize needs config size: N or width: and height: above 0", s.Stage.Name)
	}
	switch c.Fit {
	case "":
		c.Fit = "fill"
	case "fill", "fit", "stretch":
	default:
		return nil, fmt.Errorf("stage %q: image.resize: fit %q is not one of fill, fit, stretch", s.Stage.Name, c.Fit)
	}
	return &resize{width: c.Width, height: c.Height, fit: c.Fit, gray: c.Gray, lim: limits(s)}, nil
}

func (r *resize) Process(ctx context.Context, items []engine.Item, res []engine.Result) error {
	for i := range items {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		img, err := items[i].Image(r.lim)
		if err != nil {
			res[i].Err = err
			continue
		}
		var out *image.NRGBA
		switch r.fit {
		case "fit":
			out = imaging.Fit(img, r.width, r.height, imaging.Lanczos)
		case "stretch":
			out = imaging.Resize(img, r.width, r.height, imaging.Lanczos)
		default:
			out = imaging.Fill(img, r.width, r.height, imaging.Center, imaging.Lanczos)
		}
		var o image.Image = out
		if r.gray {
			o = toGray(out)
		}
		b := o.Bounds()
		res[i].Set("image", o)
		res[i].Set("width", b.Dx())
		res[i].Set("height", b.Dy())
	}
	return nil
}

// toGray keeps one channel (ITU-R 601 luma, as imaging.Grayscale computes it), so a
// PNG written from it is 8-bit grey rather than RGBA.
func toGray(img *image.NRGBA) *image.Gray {
	g := imaging.Grayscale(img)
	b := g.Bounds()
	out := image.NewGray(b)
	for y := 0; y < b.Dy(); y++ {
		row := g.Pix[y*g.Stride:]
		for x := 0; x < b.Dx(); x++ {
			out.Pix[y*out.Stride+x] = row[4*x]
		}
	}
	return out
}

// limits takes the pipeline's source limits for decoding inside a stage.
func limits(s engine.Spec) media.Limits {
	l := s.Pipeline.Source.Limits
	return media.Limits{MaxPixels: l.Pixels, MaxDuration: l.Duration.Std(), MaxBytes: int64(l.FileSize)}
}

var _ engine.Stage = (*resize)(nil)
