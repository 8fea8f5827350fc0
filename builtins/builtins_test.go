package builtins

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/engine"
	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/pipeline"
)

func spec(builtin string, config map[string]any) engine.Spec {
	p := &pipeline.Pipeline{}
	return engine.Spec{Pipeline: p, Stage: &pipeline.Stage{Name: "s", Builtin: builtin, Config: config}}
}

func run(t *testing.T, st engine.Stage, items ...engine.Item) []engine.Result {
	t.Helper()
	res := make([]engine.Result, len(items))
	if err := st.Process(context.Background(), items, res); err != nil {
		t.Fatal(err)
	}
	return res
}

func field(r engine.Result, name string) any {
	for _, f := range r.Fields() {
		if f.Name == name {
			return f.Value
		}
	}
	return nil
}

func payloadItem(modality string, b []byte) engine.Item {
	return engine.Item{Record: &engine.Record{ID: "x", Modality: modality, Payload: b}, InputName: modality, Part: modality}
}

func TestRegisterAll(t *testing.T) {
	env := engine.NewEnvironment()
	if err := Register(env); err != nil {
		t.Fatal(err)
	}
	if len(env.Builtins()) != len(All()) {
		t.Fatal("not every builtin registered")
	}
	if err := Register(env); err == nil {
		t.Fatal("registering twice must fail")
	}
}

func TestNormalize(t *testing.T) {
	st, err := newNormalize(context.Background(), spec("text.normalize", nil))
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"  Hello\t\tWORLD \n": "hello world",
		"ÉCOLE  d'été":        "école d'été",
		"日本語　テキスト 😀":          "日本語 テキスト 😀", // ideographic space collapses too
		"":                    "",
	} {
		r := run(t, st, engine.Item{Record: &engine.Record{ID: "x"}, Input: in, InputName: "text"})
		if r[0].Err != nil || field(r[0], "text") != want {
			t.Errorf("normalize(%q) = %q, %v; want %q", in, field(r[0], "text"), r[0].Err, want)
		}
	}
	r := run(t, st, payloadItem("text", []byte("ok \xff bad")))
	if r[0].Err == nil || !engine.IsPermanent(r[0].Err) || !strings.Contains(r[0].Err.Error(), "invalid UTF-8") {
		t.Fatalf("invalid UTF-8: %v, want a permanent error naming it", r[0].Err)
	}
	if _, err := newNormalize(context.Background(), spec("text.normalize", map[string]any{"lowr": false})); err == nil {
		t.Fatal("a misspelt config key was accepted")
	}
}

func TestResize(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 40, 20))
	for y := 0; y < 20; y++ {
		for x := 0; x < 40; x++ {
			src.Set(x, y, color.NRGBA{200, 100, 50, 255})
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, src)
	for _, tc := range []struct {
		cfg  map[string]any
		w, h int
		gray bool
	}{
		{map[string]any{"size": 8}, 8, 8, false},
		{map[string]any{"width": 10, "height": 10, "fit": "fit"}, 10, 5, false},
		{map[string]any{"width": 10, "height": 10, "fit": "stretch", "gray": true}, 10, 10, true},
	} {
		st, err := newResize(context.Background(), spec("image.resize", tc.cfg))
		if err != nil {
			t.Fatal(err)
		}
		r := run(t, st, payloadItem("image", buf.Bytes()))
		if r[0].Err != nil {
			t.Fatal(r[0].Err)
		}
		img := field(r[0], "image").(image.Image)
		if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h || field(r[0], "width") != tc.w {
			t.Errorf("%v: got %v", tc.cfg, b)
		}
		if _, ok := img.(*image.Gray); ok != tc.gray {
			t.Errorf("%v: image type %T", tc.cfg, img)
		}
	}
	st, _ := newResize(context.Background(), spec("image.resize", map[string]any{"size": 8}))
	r := run(t, st, payloadItem("image", buf.Bytes()[:len(buf.Bytes())/2]))
	if r[0].Err == nil || !engine.IsPermanent(r[0].Err) {
		t.Fatalf("truncated PNG: %v, want a permanent error", r[0].Err)
	}
	if _, err := newResize(context.Background(), spec("image.resize", nil)); err == nil {
		t.Fatal("resize without a size was accepted")
	}
}

// TestResampleSine checks, through the stage, that a tone keeps its frequency and
// amplitude through resampling and that content above the new Nyquist frequency is
// removed.
func TestResampleSine(t *testing.T) {
	const from, to = 48000, 16000
	tone := func(f float64, rate, n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(0.5 * math.Sin(2*math.Pi*f*float64(i)/float64(rate)))
		}
		return x
	}
	st, err := newResample(context.Background(), spec("audio.resample", map[string]any{"rate": to}))
	if err != nil {
		t.Fatal(err)
	}
	through := func(x []float32) []float32 {
		r := run(t, st, engine.Item{Record: &engine.Record{ID: "x"}, Input: &media.Audio{Rate: from, Channels: 1, Samples: x}, InputName: "audio"})
		if r[0].Err != nil {
			t.Fatal(r[0].Err)
		}
		return field(r[0], "audio").(*media.Audio).Samples
	}
	y := through(tone(1000, from, from))
	if len(y) != to {
		t.Fatalf("%d samples, want %d", len(y), to)
	}
	want := tone(1000, to, to)
	var maxErr float64
	for i := 200; i < len(y)-200; i++ { // edges lack half the filter
		maxErr = math.Max(maxErr, math.Abs(float64(y[i]-want[i])))
	}
	if maxErr > 0.01 {
		t.Fatalf("1 kHz tone after 48k→16k: max error %.4f", maxErr)
	}
	// 10 kHz is above the 8 kHz Nyquist frequency of the output: it must vanish.
	z := through(tone(10000, from, from))
	var peak float64
	for i := 200; i < len(z)-200; i++ {
		peak = math.Max(peak, math.Abs(float64(z[i])))
	}
	if peak > 0.01 {
		t.Fatalf("10 kHz tone leaks through at %.4f (alias)", peak)
	}
}

func TestResampleStage(t *testing.T) {
	var buf bytes.Buffer
	samples := make([]float32, 2*4410) // stereo, planar
	if err := media.EncodeWAV(&buf, samples, 44100, 2, 16); err != nil {
		t.Fatal(err)
	}
	st, err := newResample(context.Background(), spec("audio.resample", map[string]any{"rate": 16000, "mono": true}))
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, st, payloadItem("audio", buf.Bytes()))
	if r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	a := field(r[0], "audio").(*media.Audio)
	if a.Rate != 16000 || a.Channels != 1 || a.Frames() != 1600 {
		t.Fatalf("resampled %d Hz ×%d, %d frames", a.Rate, a.Channels, a.Frames())
	}
	r = run(t, st, payloadItem("audio", buf.Bytes()[:30]))
	if r[0].Err == nil || !engine.IsPermanent(r[0].Err) {
		t.Fatalf("truncated WAV: %v", r[0].Err)
	}
}

func TestDelayAndNoop(t *testing.T) {
	st, err := newDelay(context.Background(), spec("debug.delay", map[string]any{"per_item": "0s"}))
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, st, payloadItem("text", []byte("x")))
	if field(r[0], "seen") != "x" {
		t.Fatal("delay did not pass the item on")
	}
	if _, err := newDelay(context.Background(), spec("debug.delay", map[string]any{"per_item": "soon"})); err == nil {
		t.Fatal("bad duration accepted")
	}
	n, _ := newNoop(context.Background(), spec("debug.noop", nil))
	run(t, n, payloadItem("text", []byte("x")))
}
