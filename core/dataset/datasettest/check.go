package datasettest

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"reflect"
	"strings"

	"github.com/plexusml/plexus/core/dataset"
)

// Check decodes every payload of it and compares it with e: contents for a good item,
// the error (its text, and that it names the file or manifest line) for a bad one.
func (e *Expect) Check(it *dataset.Item) error {
	if it.ID != e.ID {
		return fmt.Errorf("item id %q, want %q", it.ID, e.ID)
	}
	if e.Modality != "" && it.Modality != e.Modality {
		return fmt.Errorf("%s: modality %q, want %q (err %v)", e.ID, it.Modality, e.Modality, it.Err)
	}
	if e.Err != "" {
		err := it.Err
		if e.AtList && err == nil {
			return fmt.Errorf("%s: listed without an error, want one containing %q", e.ID, e.Err)
		}
		if !e.AtList {
			if err != nil {
				return fmt.Errorf("%s: failed at listing (%v), want the failure when decoding", e.ID, err)
			}
			err = decodeAll(it)
			if err == nil {
				return fmt.Errorf("%s: decoded without an error, want one containing %q", e.ID, e.Err)
			}
		}
		var ie *dataset.ItemError
		if !errors.As(err, &ie) {
			return fmt.Errorf("%s: error %T (%v) is not a *dataset.ItemError", e.ID, err, err)
		}
		if !strings.Contains(err.Error(), e.Err) {
			return fmt.Errorf("%s: error %q does not contain %q", e.ID, err, e.Err)
		}
		if !strings.HasPrefix(err.Error(), e.Name) {
			return fmt.Errorf("%s: error %q does not start with the file %q", e.ID, err, e.Name)
		}
		return nil
	}
	if it.Err != nil {
		return fmt.Errorf("%s: unexpected error: %w", e.ID, it.Err)
	}
	if e.Fields != nil && !reflect.DeepEqual(e.Fields, it.Fields) {
		return fmt.Errorf("%s: fields %#v, want %#v", e.ID, it.Fields, e.Fields)
	}
	if e.Text != nil {
		got, err := it.Text()
		if err != nil {
			return err
		}
		if got != *e.Text {
			return fmt.Errorf("%s: text %q, want %q", e.ID, got, *e.Text)
		}
	}
	if e.Image != nil {
		if err := checkImage(it, e.Image); err != nil {
			return fmt.Errorf("%s: %w", e.ID, err)
		}
	}
	if e.Audio != nil {
		if err := checkAudio(it, e.Audio); err != nil {
			return fmt.Errorf("%s: %w", e.ID, err)
		}
	}
	if e.Tensor > 0 {
		b, err := it.Bytes(dataset.Tensor)
		if err != nil {
			return err
		}
		if len(b) != e.Tensor {
			return fmt.Errorf("%s: tensor payload of %d bytes, want %d", e.ID, len(b), e.Tensor)
		}
	}
	return nil
}

// decodeAll decodes each payload and returns the first error.
func decodeAll(it *dataset.Item) error {
	for _, p := range it.Parts {
		var err error
		switch p.Modality {
		case dataset.Text:
			_, err = it.Text()
		case dataset.Image:
			_, _, err = it.Image()
		case dataset.Audio:
			_, err = it.Audio()
		default:
			_, err = it.Bytes(p.Modality)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func checkImage(it *dataset.Item, e *ImageExpect) error {
	img, format, err := it.Image()
	if err != nil {
		return err
	}
	if format != e.Format {
		return fmt.Errorf("format %q, want %q", format, e.Format)
	}
	if typ := fmt.Sprintf("%T", img); typ != e.Type {
		return fmt.Errorf("decoded to %s, want %s", typ, e.Type)
	}
	if b := img.Bounds(); b != image.Rect(0, 0, e.Width, e.Height) {
		return fmt.Errorf("bounds %v, want %dx%d (a wrong EXIF rotation swaps them)", b, e.Width, e.Height)
	}
	// The centre of each quadrant, away from compression ringing at the edges.
	pts := [4]image.Point{{e.Width / 4, e.Height / 4}, {3 * e.Width / 4, e.Height / 4}, {e.Width / 4, 3 * e.Height / 4}, {3 * e.Width / 4, 3 * e.Height / 4}}
	for k, p := range pts {
		got := pixel(img, p.X, p.Y)
		want := e.Quadrants[k]
		for i, pair := range [4][2]uint16{{got.R, want.R}, {got.G, want.G}, {got.B, want.B}, {got.A, want.A}} {
			if d := int(pair[0]) - int(pair[1]); d > int(e.Tol) || -d > int(e.Tol) {
				return fmt.Errorf("quadrant %d at %v channel %d = %#04x, want %#04x ±%d", k, p, i, pair[0], pair[1], e.Tol)
			}
		}
	}
	return nil
}

func checkAudio(it *dataset.Item, e *AudioExpect) error {
	a, err := it.Audio()
	if err != nil {
		return err
	}
	if a.Rate != e.Rate || a.Channels != e.Channels || len(a.Samples) != len(e.Samples) {
		return fmt.Errorf("%d Hz, %d channels, %d samples; want %d Hz, %d, %d", a.Rate, a.Channels, len(a.Samples), e.Rate, e.Channels, len(e.Samples))
	}
	for i, v := range a.Samples {
		if d := math.Abs(float64(v) - float64(e.Samples[i])); d > e.Tol {
			return fmt.Errorf("sample %d = %v, want %v ±%g", i, v, e.Samples[i], e.Tol)
		}
	}
	return nil
}

// pixel reads a pixel without the premultiplying round trip of color.Color.RGBA,
// which would blur translucent 8-bit values.
func pixel(img image.Image, x, y int) color.NRGBA64 {
	switch m := img.(type) {
	case *image.NRGBA:
		c := m.NRGBAAt(x, y)
		return color.NRGBA64{uint16(c.R) * 257, uint16(c.G) * 257, uint16(c.B) * 257, uint16(c.A) * 257}
	case *image.NRGBA64:
		return m.NRGBA64At(x, y)
	}
	return color.NRGBA64Model.Convert(img.At(x, y)).(color.NRGBA64)
}
