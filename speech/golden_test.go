package speech

import (
	"encoding/json"
	"math"
	"path/filepath"
	"testing"

	"github.com/plexusml/plexus/core/nn/weights"
)

// goldenCase is one fixture written by tools/golden/speech.py.
type goldenCase struct {
	st  *weights.Safetensors
	cfg map[string]any
}

func openGolden(t *testing.T, name string) *goldenCase {
	t.Helper()
	path := filepath.Join("testdata", name+".safetensors")
	st, err := weights.OpenSafetensors(path)
	if err != nil {
		t.Fatalf("fixture %s: %v (regenerate with /usr/bin/python3 tools/golden/speech.py)", path, err)
	}
	t.Cleanup(func() { st.Close() })
	g := &goldenCase{st: st}
	if err := json.Unmarshal([]byte(st.Metadata()["config"]), &g.cfg); err != nil {
		t.Fatalf("fixture %s: config: %v", path, err)
	}
	return g
}

func (g *goldenCase) get(t *testing.T, name string) []float32 {
	t.Helper()
	x, ok := g.st.Get(name)
	if !ok {
		t.Fatalf("fixture %s has no %s", g.st.Path(), name)
	}
	return append([]float32(nil), x.ToFloat32().Contiguous().Float32s()...)
}

func (g *goldenCase) num(key string) float64 {
	v, _ := g.cfg[key].(float64)
	return v
}

func (g *goldenCase) str(key string) string { s, _ := g.cfg[key].(string); return s }

func (g *goldenCase) flag(key string) bool { b, _ := g.cfg[key].(bool); return b }

// relErr is the project's agreement measure, max|ours−ref| / max|ref|.
func relErr(t *testing.T, what string, ours, ref []float32) float64 {
	t.Helper()
	if len(ours) != len(ref) {
		t.Fatalf("%s: %d values, reference has %d", what, len(ours), len(ref))
	}
	var d, m float64
	for i := range ref {
		d = math.Max(d, math.Abs(float64(ours[i])-float64(ref[i])))
		m = math.Max(m, math.Abs(float64(ref[i])))
	}
	if m == 0 {
		return d
	}
	return d / m
}

func checkClose(t *testing.T, what string, ours, ref []float32, tol float64) {
	t.Helper()
	e := relErr(t, what, ours, ref)
	t.Logf("%s: rel err %.3g", what, e)
	if e > tol || math.IsNaN(e) {
		t.Errorf("%s: rel err %.3g > %g", what, e, tol)
	}
}

func melSpecConfig(g *goldenCase) MelSpecConfig {
	return MelSpecConfig{
		STFT:  STFTConfig{NFFT: int(g.num("n_fft")), WinLength: int(g.num("win_length")), Hop: int(g.num("hop_length")), NoCenter: !g.flag("center")},
		Power: g.num("power"),
		Mel: MelConfig{SampleRate: int(g.num("sample_rate")), NMels: int(g.num("n_mels")), FMin: g.num("f_min"),
			FMax: g.num("f_max"), Scale: g.str("mel_scale"), Norm: g.str("norm")},
	}
}

func TestGoldenMelSpectrogram(t *testing.T) {
	for _, name := range []string{"melspec_speech16_htk", "melspec_synth16_slaney", "melspec_woman16_nocenter", "melspec_synth8_vocoder"} {
		t.Run(name, func(t *testing.T) {
			g := openGolden(t, name)
			x := g.get(t, "in.audio")
			c := melSpecConfig(g)
			mel, err := MelSpectrogram(x, c)
			if err != nil {
				t.Fatal(err)
			}
			checkClose(t, "mel", mel.Data, g.get(t, "out.mel"), 1e-4)
			lm, err := LogMel(x, LogMelConfig{MelSpecConfig: c})
			if err != nil {
				t.Fatal(err)
			}
			checkClose(t, "logmel", lm.Data, g.get(t, "out.logmel"), 1e-4)
			mult := 10.0
			if c.Power == 1 {
				mult = 20
			}
			db, err := LogMel(x, LogMelConfig{MelSpecConfig: c, DB: &DBConfig{Multiplier: mult, TopDB: 80}})
			if err != nil {
				t.Fatal(err)
			}
			checkClose(t, "db", db.Data, g.get(t, "out.db"), 1e-4)
		})
	}
}

func TestGoldenMFCC(t *testing.T) {
	for _, name := range []string{"mfcc_speech16", "mfcc_synth16_logmels"} {
		t.Run(name, func(t *testing.T) {
			g := openGolden(t, name)
			c := MFCCConfig{
				MelSpec: MelSpecConfig{STFT: STFTConfig{NFFT: int(g.num("n_fft")), Hop: int(g.num("hop_length"))},
					Mel: MelConfig{SampleRate: int(g.num("sample_rate")), NMels: int(g.num("n_mels"))}},
				NMFCC: int(g.num("n_mfcc")), LogMels: g.flag("log_mels"),
			}
			m, err := MFCC(g.get(t, "in.audio"), c)
			if err != nil {
				t.Fatal(err)
			}
			checkClose(t, "mfcc", m.Data, g.get(t, "out.mfcc"), 1e-4)
		})
	}
}

func TestGoldenFbank(t *testing.T) {
	for _, name := range []string{"fbank_speech16_default", "fbank_woman16_80", "fbank_synth8_hamming", "fbank_synth16_blackman_mag"} {
		t.Run(name, func(t *testing.T) {
			g := openGolden(t, name)
			c := DefaultFbank(g.num("sample_frequency"))
			set := func(key string, f func(v any)) {
				if v, ok := g.cfg[key]; ok {
					f(v)
				}
			}
			set("num_mel_bins", func(v any) { c.NumMelBins = int(v.(float64)) })
			set("snip_edges", func(v any) { c.SnipEdges = v.(bool) })
			set("use_energy", func(v any) { c.UseEnergy = v.(bool) })
			set("window_type", func(v any) { c.Window = v.(string) })
			set("frame_length", func(v any) { c.FrameLengthMs = v.(float64) })
			set("frame_shift", func(v any) { c.FrameShiftMs = v.(float64) })
			set("htk_compat", func(v any) { c.HTKCompat = v.(bool) })
			set("raw_energy", func(v any) { c.RawEnergy = v.(bool) })
			set("high_freq", func(v any) { c.HighFreq = v.(float64) })
			set("low_freq", func(v any) { c.LowFreq = v.(float64) })
			set("preemphasis_coefficient", func(v any) { c.Preemphasis = v.(float64) })
			set("remove_dc_offset", func(v any) { c.RemoveDCOffset = v.(bool) })
			set("subtract_mean", func(v any) { c.SubtractMean = v.(bool) })
			set("use_power", func(v any) { c.UsePower = v.(bool) })
			set("round_to_power_of_two", func(v any) { c.RoundToPowerOfTwo = v.(bool) })
			f, err := Fbank(g.get(t, "in.audio"), c)
			if err != nil {
				t.Fatal(err)
			}
			checkClose(t, "fbank", f.Data, g.get(t, "out.fbank"), 1e-4)
		})
	}
}

func TestGoldenResample(t *testing.T) {
	for _, name := range []string{"resample_speech_22050_16000", "resample_synth_16000_8000", "resample_synth_8000_16000", "resample_synth_16000_44100"} {
		t.Run(name, func(t *testing.T) {
			g := openGolden(t, name)
			y, err := Resample(g.get(t, "in.audio"), int(g.num("orig_freq")), int(g.num("new_freq")))
			if err != nil {
				t.Fatal(err)
			}
			checkClose(t, "resampled", y, g.get(t, "out.resampled"), 1e-4)
		})
	}
}

func TestGoldenMuLaw(t *testing.T) {
	g := openGolden(t, "mulaw")
	x := g.get(t, "in.audio")
	want := g.get(t, "out.encoded")
	for i, v := range x {
		if got := MuLawEncode(v, 256); float32(got) != want[i] {
			t.Errorf("encode %g = %d, torchaudio %g", v, got, want[i])
		}
	}
	dec := make([]float32, 256)
	for q := range dec {
		dec[q] = MuLawDecode(q, 256)
	}
	checkClose(t, "decoded", dec, g.get(t, "out.decoded"), 1e-6)
}
