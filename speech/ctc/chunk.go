package ctc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
)

// RunOptions configure Run.
type RunOptions struct {
	// ChunkSeconds splits longer audio into windows of this length that overlap by
	// OverlapSeconds; their emissions are stitched by frame position. 0: no splitting.
	ChunkSeconds   float64
	OverlapSeconds float64
	// MaxBatch is the most waveforms per Emissions call (default 8).
	MaxBatch int
	// MaxPadding bounds a batch's spread of lengths: its longest waveform is at most
	// 1+MaxPadding times its shortest (default 0.25), so padding stays small.
	MaxPadding float64
}

// DefaultRunOptions are the plugin's defaults: 20 s windows with 2 s of overlap.
func DefaultRunOptions() RunOptions {
	return RunOptions{ChunkSeconds: 20, OverlapSeconds: 2, MaxBatch: 8, MaxPadding: 0.25}
}

// Emission is one waveform's emissions: Frames × labels raw scores, or the error that
// waveform alone met.
type Emission struct {
	Scores []float32
	Frames int
	Err    error
}

// Check returns the options with defaults filled in, or what is wrong with them.
func (o RunOptions) Check() (RunOptions, error) {
	if o.MaxBatch == 0 {
		o.MaxBatch = 8
	}
	if o.MaxPadding == 0 {
		o.MaxPadding = 0.25
	}
	switch {
	case math.IsNaN(o.ChunkSeconds) || o.ChunkSeconds < 0 || math.IsInf(o.ChunkSeconds, 0):
		return o, fmt.Errorf("ctc: chunk_seconds %g, want 0 (no chunks) or a length in seconds", o.ChunkSeconds)
	case math.IsNaN(o.OverlapSeconds) || o.OverlapSeconds < 0 || o.ChunkSeconds > 0 && o.OverlapSeconds*2 >= o.ChunkSeconds:
		return o, fmt.Errorf("ctc: overlap_seconds %g, want at least 0 and under half of chunk_seconds %g", o.OverlapSeconds, o.ChunkSeconds)
	case o.MaxBatch < 1:
		return o, fmt.Errorf("ctc: max batch %d, want at least 1", o.MaxBatch)
	case math.IsNaN(o.MaxPadding) || o.MaxPadding < 0:
		return o, fmt.Errorf("ctc: max padding %g, want at least 0", o.MaxPadding)
	}
	return o, nil
}

// segment is one window of one waveform.
type segment struct {
	item  int
	start int // first sample in the waveform, a multiple of FrameSamples
	wav   []float32
	em    []float32
	n     int // frames
	err   error
}

// Run computes the emissions of every waveform (mono, at m.SampleRate()): long ones in
// overlapping windows, all windows of all waveforms batched by length. A waveform whose
// emissions fail (too short for the model, say) fails alone; Run's own error is for
// bad options and a cancelled context.
func Run(ctx context.Context, m Acoustic, wavs [][]float32, o RunOptions) ([]Emission, error) {
	o, err := o.Check()
	if err != nil {
		return nil, err
	}
	fs, rate, c := m.FrameSamples(), m.SampleRate(), len(m.Labels())
	if fs < 1 || rate < 1 || c < 2 {
		return nil, fmt.Errorf("ctc: model with %d samples a frame, %d Hz, %d labels", fs, rate, c)
	}
	win, step := 0, 0
	if o.ChunkSeconds > 0 {
		// Windows start on frame boundaries, so a window's frame k is frame
		// start/fs+k of the whole waveform.
		win = max(int(o.ChunkSeconds*float64(rate))/fs, 1) * fs
		// Rounded to frames the overlap could reach half the window; keep it under.
		over := min(int(math.Round(o.OverlapSeconds*float64(rate)/float64(fs))), (win/fs-1)/2) * fs
		step = win - over
	}
	var segs []*segment
	for i, w := range wavs {
		for _, sp := range windows(len(w), win, step, fs) {
			segs = append(segs, &segment{item: i, start: sp[0], wav: w[sp[0]:sp[1]]})
		}
	}
	if err := runSegments(ctx, m, segs, o); err != nil {
		return nil, err
	}
	out := make([]Emission, len(wavs))
	for i := 0; i < len(segs); {
		j := i + 1
		for j < len(segs) && segs[j].item == segs[i].item {
			j++
		}
		out[segs[i].item] = stitch(segs[i:j], fs, c)
		i = j
	}
	return out, nil
}

// windows returns the sample spans [start, end) that cover n samples in windows of win
// samples every step (win 0: one span). Starts are multiples of fs. The last window is
// moved back to end at n with a full length, rather than left as a short tail that a
// model might not even make one frame of; it then overlaps its neighbour by more.
func windows(n, win, step, fs int) [][2]int {
	if win == 0 || n <= win {
		return [][2]int{{0, n}}
	}
	var out [][2]int
	for s := 0; ; s += step {
		if s+step+win < n {
			out = append(out, [2]int{s, s + win})
			continue
		}
		// The next window would be the last: end it at n.
		last := (n - win) / fs * fs
		if last <= s {
			return append(out, [2]int{s, n})
		}
		return append(out, [2]int{s, s + win}, [2]int{last, n})
	}
}

// runSegments fills each segment's emissions, batching segments of similar length.
func runSegments(ctx context.Context, m Acoustic, segs []*segment, o RunOptions) error {
	order := make([]*segment, len(segs))
	copy(order, segs)
	slices.SortStableFunc(order, func(a, b *segment) int { return len(a.wav) - len(b.wav) })
	c := len(m.Labels())
	for i := 0; i < len(order); {
		j := i + 1
		limit := float64(len(order[i].wav)) * (1 + o.MaxPadding)
		for j < len(order) && j-i < o.MaxBatch && float64(len(order[j].wav)) <= limit {
			j++
		}
		batch := order[i:j]
		if err := emitBatch(ctx, m, batch, c); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// emitBatch runs one batch; when it fails, each segment is run alone so that the bad
// one is found and its neighbours still succeed.
func emitBatch(ctx context.Context, m Acoustic, batch []*segment, c int) error {
	wavs := make([][]float32, len(batch))
	for k, s := range batch {
		wavs[k] = s.wav
	}
	em, err := m.Emissions(ctx, wavs)
	if err == nil && len(em) != len(batch) {
		err = fmt.Errorf("ctc: the model returned %d emissions for %d waveforms", len(em), len(batch))
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if err != nil {
		if len(batch) == 1 {
			batch[0].err = err
			return nil
		}
		for _, s := range batch {
			if err := emitBatch(ctx, m, []*segment{s}, c); err != nil {
				return err
			}
		}
		return nil
	}
	for k, s := range batch {
		if len(em[k])%c != 0 {
			s.err = fmt.Errorf("ctc: the model returned %d scores, not frames × %d labels", len(em[k]), c)
			continue
		}
		s.em, s.n = em[k], len(em[k])/c
	}
	return nil
}

// stitch joins one waveform's window emissions. Frame f of the whole is taken from the
// window it lies deepest inside (the cut falls in the middle of each overlap), where the
// window's edges, which the model saw without their context, are farthest away.
func stitch(segs []*segment, fs, c int) Emission {
	for _, s := range segs {
		if s.err != nil {
			if len(segs) > 1 {
				return Emission{Err: fmt.Errorf("window at %d samples: %w", s.start, s.err)}
			}
			return Emission{Err: s.err}
		}
	}
	if len(segs) == 1 {
		return Emission{Scores: segs[0].em, Frames: segs[0].n}
	}
	last := segs[len(segs)-1]
	total := last.start/fs + last.n
	out := make([]float32, total*c)
	k0 := 0 // the last window starting at or before frame f
	for f := 0; f < total; f++ {
		for k0+1 < len(segs) && segs[k0+1].start/fs <= f {
			k0++
		}
		best, depth := -1, math.MinInt
		// Overlaps are under half a window, so a frame lies in at most the two
		// windows before it, unless the model returns more frames than its input has.
		for k := max(k0-2, 0); k <= k0; k++ {
			s := segs[k]
			local := f - s.start/fs
			if local < 0 || local >= s.n {
				continue
			}
			// Distance in frames to the nearer edge of the window (the ends of the
			// waveform are not edges: nothing was cut there).
			d := math.MaxInt
			if k > 0 {
				d = local
			}
			if k < len(segs)-1 {
				d = min(d, s.n-1-local)
			}
			if d > depth {
				best, depth = k, d
			}
		}
		if best < 0 {
			return Emission{Err: errors.New("ctc: the windows' emissions leave a gap; the model's frame count does not follow its input length")}
		}
		s := segs[best]
		local := f - s.start/fs
		copy(out[f*c:(f+1)*c], s.em[local*c:(local+1)*c])
	}
	return Emission{Scores: out, Frames: total}
}
