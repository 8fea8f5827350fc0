package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/plexusml/plexus/core/bench"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/speech"
	"github.com/plexusml/plexus/speech/wavenet"
	benchpy "github.com/plexusml/plexus/tools/bench"
)

func init() {
	bench.Register(bench.Suite{Name: "speech",
		Doc: "WaveNet fast generation (2 stacks × 10 layers, 64/128/256 channels, 16 kHz) against PyTorch's fast-generation loop; log-mel and resampling against torchaudio; the recognisers (wav2vec2-base, the compact Transformer-CTC) on 10 s of audio against PyTorch",
		Run: benchSpeech})
}

func benchSpeech(ctx context.Context, o bench.Options) ([]bench.Row, error) {
	py, err := bench.PyTorch(ctx, o, benchpy.Script("speech"))
	if err != nil && !errors.Is(err, bench.ErrNoPyTorch) {
		return nil, err
	}
	ref := func(key string) float64 {
		if v, ok := py[key]; ok {
			return v
		}
		return math.NaN()
	}
	cfg := wavenet.DefaultConfig()
	w, err := wavenet.RandomWeights(cfg, 1)
	if err != nil {
		return nil, err
	}
	m, err := wavenet.New(weights.NewBinder(weights.NewMapStore("random", w)), cfg)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(1, 2))
	frames := 32 // 8192 samples
	if o.Quick {
		frames = 8
	}
	mel := make([]float32, cfg.CinChannels*frames)
	for i := range mel {
		mel[i] = float32(r.NormFloat64())
	}
	var rows []bench.Row
	for _, batch := range []int{1, 4} {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		reqs := make([]wavenet.Request, batch)
		for i := range reqs {
			reqs[i] = wavenet.Request{Mel: mel, Frames: frames, Seed: uint64(i)}
		}
		var gerr error
		d := bench.Median(o, func() {
			_, gerr = m.Generate(ctx, reqs, wavenet.Options{})
		})
		if gerr != nil {
			return nil, gerr
		}
		pt := math.NaN()
		if batch == 1 {
			pt = ref("wavenet generate 16k b1")
		}
		rows = append(rows, bench.Row{Bench: "wavenet", Config: fmt.Sprintf("generate 2x10 r64 g128 s256 16kHz batch %d", batch),
			Plexus: float64(batch*frames*cfg.Hop()) / d.Seconds(), PyTorch: pt, Unit: "samples/s"})
	}
	x := make([]float32, 16000*10)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 0.1)
	}
	lc := speech.LogMelConfig{MelSpecConfig: speech.MelSpecConfig{STFT: speech.STFTConfig{NFFT: 1024, Hop: 256},
		Mel: speech.MelConfig{SampleRate: 16000, NMels: 80}}}
	d := bench.Median(o, func() { _, _ = speech.LogMel(x, lc) })
	rows = append(rows, bench.Row{Bench: "logmel", Config: "10 s 16 kHz n_fft 1024 hop 256 80 mels", Plexus: 10 / d.Seconds(),
		PyTorch: ref("logmel 16k 80"), Unit: "audio s/s"})
	y := make([]float32, 22050*10)
	for i := range y {
		y[i] = float32(r.NormFloat64() * 0.1)
	}
	d = bench.Median(o, func() { _, _ = speech.Resample(y, 22050, 16000) })
	rows = append(rows, bench.Row{Bench: "resample", Config: "10 s 22050 → 16000 Hz", Plexus: 10 / d.Seconds(),
		PyTorch: ref("resample 22050-16000"), Unit: "audio s/s"})
	asrRows, err := benchASR(ctx, o)
	if err != nil {
		return nil, err
	}
	rows = append(rows, asrRows...)
	return rows, nil
}
