package ctc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeModel is an Acoustic with a limited receptive field: frame f of a waveform sees
// the samples of frames f-R..f+R. Its frame is the label whose index the samples in the
// middle of the frame hold, plus a small term from every sample it sees; where its field
// runs past the waveform's ends it outputs a wrong label, as a real model guesses without
// context. Waveforms shorter than one frame are an error.
type fakeModel struct {
	labels []string
	fs, r  int
	rate   int

	mu      sync.Mutex
	batches [][]int // the lengths of each Emissions call's waveforms
}

func (m *fakeModel) Labels() []string  { return m.labels }
func (m *fakeModel) SampleRate() int   { return m.rate }
func (m *fakeModel) FrameSamples() int { return m.fs }

func (m *fakeModel) Emissions(ctx context.Context, wavs [][]float32) ([][]float32, error) {
	var lens []int
	for _, w := range wavs {
		lens = append(lens, len(w))
	}
	m.mu.Lock()
	m.batches = append(m.batches, lens)
	m.mu.Unlock()
	c := len(m.labels)
	out := make([][]float32, len(wavs))
	for i, w := range wavs {
		n := len(w) / m.fs
		if n == 0 {
			return nil, fmt.Errorf("waveform %d: %d samples, shorter than a frame", i, len(w))
		}
		em := make([]float32, n*c)
		for f := 0; f < n; f++ {
			lab := int(math.Round(float64(w[f*m.fs+m.fs/2]))) % c
			if f-m.r < 0 || f+m.r >= n {
				lab = (lab + 1) % c
			}
			row := em[f*c : (f+1)*c]
			row[lab] = 8
			for s := (f - m.r) * m.fs; s < (f+m.r+1)*m.fs; s++ {
				if s >= 0 && s < len(w) {
					for j := range row {
						row[j] += 0.01 * float32(math.Sin(float64(w[s])*float64(j+1)))
					}
				}
			}
		}
		out[i] = em
	}
	return out, nil
}

// TestStitchedEqualsWhole: windows that overlap by more than twice the receptive field
// give, stitched, exactly the emissions of the whole waveform; with a smaller overlap
// only frames within the receptive field of a cut differ.
func TestStitchedEqualsWhole(t *testing.T) {
	m := &fakeModel{labels: abLabels, fs: 10, r: 3, rate: 1000}
	rng := rand.New(rand.NewPCG(7, 8))
	wav := make([]float32, 10*1234+7)
	for i := range wav {
		wav[i] = float32(rng.Float64() * 4)
	}
	whole, err := Run(context.Background(), m, [][]float32{wav}, RunOptions{})
	if err != nil || whole[0].Err != nil {
		t.Fatal(err, whole[0].Err)
	}
	if whole[0].Frames != 1234 {
		t.Fatalf("%d frames", whole[0].Frames)
	}
	c := len(abLabels)
	for _, tc := range []struct {
		chunk, overlap float64
		exact          bool
	}{{1, 0.1, true}, {2.5, 0.08, true}, {1, 0.02, false}, {0.4, 0, false}, {0.015, 0.007, false}} {
		m.batches = nil
		got, err := Run(context.Background(), m, [][]float32{wav}, RunOptions{ChunkSeconds: tc.chunk, OverlapSeconds: tc.overlap})
		if err != nil || got[0].Err != nil {
			t.Fatal(err, got[0].Err)
		}
		if got[0].Frames != whole[0].Frames {
			t.Fatalf("chunk %g: %d frames, whole %d", tc.chunk, got[0].Frames, whole[0].Frames)
		}
		if len(m.batches) < 2 && len(m.batches[0]) < 2 {
			t.Fatalf("chunk %g: not split (%v)", tc.chunk, m.batches)
		}
		// Cuts: the middle of each overlap, in frames.
		win := int(tc.chunk * 100)
		step := win - min(int(math.Round(tc.overlap*100)), (win-1)/2)
		var cuts []int
		sp := windows(len(wav), win*10, step*10, 10)
		for k := 1; k < len(sp); k++ {
			cuts = append(cuts, (sp[k][0]+sp[k-1][1])/20)
		}
		differ := 0
		for f := 0; f < whole[0].Frames; f++ {
			a, b := whole[0].Scores[f*c:(f+1)*c], got[0].Scores[f*c:(f+1)*c]
			if slices.Equal(a, b) {
				continue
			}
			differ++
			near := false
			for _, cut := range cuts {
				near = near || f >= cut-m.r-1 && f <= cut+m.r
			}
			if tc.exact || !near {
				t.Fatalf("chunk %g overlap %g: frame %d differs (cuts %v)", tc.chunk, tc.overlap, f, cuts)
			}
		}
		if !tc.exact && differ == 0 {
			t.Errorf("chunk %g overlap %g: no frame differs; the test model has no edge effect", tc.chunk, tc.overlap)
		}
	}
}

// speak writes a waveform for fakeModel that says words (letters a and b) with
// separators: each frame's samples hold its label's index, with pad frames of
// silence at both ends. It returns the waveform and each word's frame span.
func speak(rng *rand.Rand, fs, pad int, words []string, gap func() int) ([]float32, [][2]int) {
	var frames []int
	put := func(l, n int) {
		for ; n > 0; n-- {
			frames = append(frames, l)
		}
	}
	var spans [][2]int
	put(0, pad)
	for i, w := range words {
		if i > 0 {
			put(1, 1+rng.IntN(3))
			put(0, gap())
		}
		start := len(frames)
		for j, r := range w {
			if j > 0 {
				put(0, 1+rng.IntN(2))
			}
			put(strings.IndexRune("-|ab", r), 2+rng.IntN(3))
		}
		spans = append(spans, [2]int{start, len(frames)})
		put(0, gap())
	}
	put(0, pad)
	wav := make([]float32, len(frames)*fs)
	for f, l := range frames {
		for s := 0; s < fs; s++ {
			wav[f*fs+s] = float32(l)
		}
	}
	return wav, spans
}

// TestWordsAtBoundariesOnce: long audio in 2 s windows with 0.3 s overlap; words
// that cross a window's edge come out once, with their times, under both decoders.
func TestWordsAtBoundariesOnce(t *testing.T) {
	m := &fakeModel{labels: abLabels, fs: 10, r: 4, rate: 1000}
	rng := rand.New(rand.NewPCG(9, 10))
	var words []string
	for i := 0; i < 60; i++ {
		var w strings.Builder
		for j := rng.IntN(4); j >= 0; j-- {
			w.WriteByte("ab"[rng.IntN(2)])
		}
		words = append(words, w.String())
	}
	wav, spans := speak(rng, m.fs, m.r+1, words, func() int { return rng.IntN(3) })
	o := RunOptions{ChunkSeconds: 2, OverlapSeconds: 0.3}
	em, err := Run(context.Background(), m, [][]float32{wav}, o)
	if err != nil || em[0].Err != nil {
		t.Fatal(err, em[0].Err)
	}
	// Some word must straddle a window edge for the test to mean anything.
	crossing := 0
	for s := 170; s < len(wav)/m.fs; s += 170 {
		for _, sp := range spans {
			if sp[0] < s && sp[1] > s || sp[0] < s+30 && sp[1] > s+30 {
				crossing++
			}
		}
	}
	if crossing < 3 {
		t.Fatalf("only %d words cross a window edge", crossing)
	}
	for _, method := range []string{Greedy, Beam} {
		d, err := NewDecoder(abLabels, Options{Method: method, FrameSeconds: float64(m.fs) / float64(m.rate)})
		if err != nil {
			t.Fatal(err)
		}
		r, err := d.Decode(em[0].Scores, em[0].Frames)
		if err != nil {
			t.Fatal(err)
		}
		if r.Text != strings.Join(words, " ") {
			t.Fatalf("%s:\n got %q\nwant %q", method, r.Text, strings.Join(words, " "))
		}
		for i, w := range r.Words {
			if w.StartFrame != spans[i][0] || w.EndFrame != spans[i][1] || math.Abs(w.Start-float64(spans[i][0])*0.01) > 1e-9 {
				t.Fatalf("%s: word %d %+v, spoken at frames %v", method, i, w, spans[i])
			}
		}
	}
	// The same audio decoded whole shows why windows overlap: without overlap, the
	// guesses at the cuts add or change letters.
	cut, _ := Run(context.Background(), m, [][]float32{wav}, RunOptions{ChunkSeconds: 2})
	d, _ := NewDecoder(abLabels, Options{})
	if r, _ := d.Decode(cut[0].Scores, cut[0].Frames); r.Text == strings.Join(words, " ") {
		t.Error("windows without overlap decode perfectly: the test model has no edge effect")
	}
}

// TestRunBatchesByLength: waveforms of mixed lengths are run in batches of similar
// lengths, at most MaxBatch each; results come back in input order; a waveform the
// model rejects fails alone.
func TestRunBatchesByLength(t *testing.T) {
	m := &fakeModel{labels: abLabels, fs: 10, r: 0, rate: 1000}
	lengths := []int{500, 95, 3000, 510, 5, 100, 2990, 520, 105, 530, 2000, 540}
	wavs := make([][]float32, len(lengths))
	for i, n := range lengths {
		wavs[i] = make([]float32, n)
		for j := range wavs[i] {
			wavs[i][j] = float32(2 + i%2)
		}
	}
	em, err := Run(context.Background(), m, wavs, RunOptions{MaxBatch: 3, MaxPadding: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range em {
		if lengths[i] < 10 {
			if e.Err == nil {
				t.Errorf("item %d (%d samples) did not fail", i, lengths[i])
			}
			continue
		}
		if e.Err != nil || e.Frames != lengths[i]/10 {
			t.Fatalf("item %d: %d frames, %v", i, e.Frames, e.Err)
		}
		// The item's own label, so a mix-up of items shows.
		if e.Scores[2+i%2] < 7 {
			t.Errorf("item %d got another item's emissions", i)
		}
	}
	for _, b := range m.batches {
		if len(b) > 3 || float64(slices.Max(b)) > 1.25*float64(slices.Min(b)) {
			t.Errorf("batch %v: over 3 or lengths too far apart", b)
		}
	}
	// The 5-sample one failed its batch, which was retried one by one.
	if len(m.batches) < 6 {
		t.Errorf("batches %v", m.batches)
	}
	for _, o := range []RunOptions{{ChunkSeconds: -1}, {ChunkSeconds: 2, OverlapSeconds: 1}, {MaxBatch: -1}, {ChunkSeconds: math.NaN()}} {
		if _, err := Run(context.Background(), m, wavs, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, m, wavs, RunOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestWindows: windows cover the waveform, start on frame boundaries, overlap their
// neighbour by at least the overlap, and are all a full window long.
func TestWindows(t *testing.T) {
	for _, c := range []struct{ n, win, step, fs int }{
		{100, 0, 0, 10}, {100, 100, 80, 10}, {101, 100, 80, 10}, {1000, 100, 80, 10}, {1007, 100, 80, 10},
		{1085, 100, 80, 10}, {12347, 10, 10, 10}, {320000, 32000, 28800, 320}, {320001, 32000, 28800, 320},
	} {
		sp := windows(c.n, c.win, c.step, c.fs)
		if sp[0][0] != 0 || sp[len(sp)-1][1] != c.n {
			t.Fatalf("%+v: %v does not cover it", c, sp)
		}
		for k, s := range sp {
			if s[0]%c.fs != 0 || c.win > 0 && c.n > c.win && (s[1]-s[0] < c.win || s[1]-s[0] >= c.win+c.fs) {
				t.Fatalf("%+v: window %d %v", c, k, s)
			}
			if k > 0 && (s[0] <= sp[k-1][0] || sp[k-1][1]-s[0] < c.win-c.step) {
				t.Fatalf("%+v: windows %v and %v overlap too little", c, sp[k-1], s)
			}
		}
	}
}
