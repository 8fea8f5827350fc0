package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/plexusml/plexus/core/bench"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/speech/asr"
	"github.com/plexusml/plexus/speech/wav2vec2"
	benchpy "github.com/plexusml/plexus/tools/bench"
)

// benchASR is part of the "speech" suite: the recognisers on 10 s of 16 kHz audio
// (seconds of audio per second, 1/RTF), wav2vec2-base (torchaudio's shape) and the
// compact log-mel Transformer-CTC with random weights, against PyTorch in the same run.
func benchASR(ctx context.Context, o bench.Options) ([]bench.Row, error) {
	py, err := bench.PyTorch(ctx, o, benchpy.Script("asr"))
	if err != nil && !errors.Is(err, bench.ErrNoPyTorch) {
		return nil, err
	}
	ref := func(key string) float64 {
		if v, ok := py[key]; ok {
			return v
		}
		return math.NaN()
	}
	r := rand.New(rand.NewPCG(3, 4))
	wav := make([]float32, 16000*10)
	for i := range wav {
		wav[i] = float32(r.NormFloat64() * 0.1)
	}
	var rows []bench.Row

	cfg := wav2vec2.Base(29)
	w, err := wav2vec2.RandomWeights(cfg, 1)
	if err != nil {
		return nil, err
	}
	m, err := wav2vec2.New(weights.NewMapStore("random", w), cfg)
	if err != nil {
		return nil, err
	}
	var rerr error
	d := bench.Median(o, func() { _, rerr = m.Emissions(ctx, [][]float32{wav}) })
	if rerr != nil {
		return nil, rerr
	}
	rows = append(rows, bench.Row{Bench: "wav2vec2", Config: "base (12×768) 10 s 16 kHz batch 1", Plexus: 10 / d.Seconds(),
		PyTorch: ref("wav2vec2 base 10s b1"), Unit: "audio s/s"})

	ac := asr.DefaultConfig()
	aw, err := asr.RandomWeights(ac, 1)
	if err != nil {
		return nil, err
	}
	am, err := asr.New(weights.NewBinder(weights.NewMapStore("random", aw)), ac)
	if err != nil {
		return nil, err
	}
	d = bench.Median(o, func() { _, rerr = am.Emissions(ctx, [][]float32{wav}) })
	if rerr != nil {
		return nil, rerr
	}
	rows = append(rows, bench.Row{Bench: "asr-ctc", Config: fmt.Sprintf("compact log-mel %d×%d 10 s 16 kHz batch 1", ac.Layers, ac.DModel),
		Plexus: 10 / d.Seconds(), PyTorch: ref("compact 10s b1"), Unit: "audio s/s"})
	return rows, nil
}
