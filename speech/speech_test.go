package speech

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"
)

func TestFFTAgainstDFT(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 12, 49, 64, 100, 121, 400, 512, 1000, 1024} {
		x := make([]complex128, n)
		for i := range x {
			x[i] = complex(r.NormFloat64(), r.NormFloat64())
		}
		got := make([]complex128, n)
		NewFFT(n).Forward(x, got)
		var maxErr, maxRef float64
		for k := 0; k < n; k++ {
			var want complex128
			for j, v := range x {
				want += v * cmplx.Exp(complex(0, -2*math.Pi*float64(j*k)/float64(n)))
			}
			maxErr = math.Max(maxErr, cmplx.Abs(got[k]-want))
			maxRef = math.Max(maxRef, cmplx.Abs(want))
		}
		if maxErr > 1e-9*maxRef {
			t.Errorf("n=%d: error %g against the DFT", n, maxErr/maxRef)
		}
		back := make([]complex128, n)
		NewFFT(n).Inverse(got, back)
		for i := range x {
			if cmplx.Abs(back[i]-x[i]) > 1e-9 {
				t.Fatalf("n=%d: inverse differs at %d", n, i)
			}
		}
	}
}

func TestISTFTInvertsSTFT(t *testing.T) {
	x := make([]float32, 3000)
	r := rand.New(rand.NewPCG(2, 2))
	for i := range x {
		x[i] = float32(r.NormFloat64() * 0.3)
	}
	for _, c := range []STFTConfig{{NFFT: 400, Hop: 160}, {NFFT: 256, WinLength: 200, Hop: 64}, {NFFT: 512, Hop: 128, NoCenter: true}} {
		s, err := STFT(x, c)
		if err != nil {
			t.Fatal(err)
		}
		y, err := ISTFT(s, c, len(x))
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := 0, len(x)
		if c.NoCenter {
			lo, hi = c.NFFT, len(x)-c.NFFT // the edges lack overlapping frames
		}
		for i := lo; i < hi && i < len(y); i++ {
			if math.Abs(float64(y[i]-x[i])) > 1e-4 {
				t.Fatalf("%+v: sample %d is %g, want %g", c, i, y[i], x[i])
			}
		}
	}
}

// TestGriffinLimRecoversTone: Griffin-Lim from the magnitude of a tone gives back a
// signal whose spectrogram is close to the original's.
func TestGriffinLimRecoversTone(t *testing.T) {
	x := make([]float32, 4000)
	for i := range x {
		x[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	c := STFTConfig{NFFT: 256, Hop: 64}
	s, _ := STFT(x, c)
	mag := s.Power(1)
	y, err := GriffinLim(mag, s.Frames, c, 32, len(x), 1)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := STFT(y, c)
	m2 := s2.Power(1)
	var d, n float64
	for i := range mag {
		d += math.Abs(mag[i] - m2[i])
		n += mag[i]
	}
	if d/n > 0.1 {
		t.Fatalf("spectral distance %.3f after Griffin-Lim", d/n)
	}
}

func TestInverseMel(t *testing.T) {
	c := MelConfig{SampleRate: 8000, NMels: 40}
	fb, _ := MelFilterbank(129, c)
	spec := make([]float64, 129*3)
	for i := range spec {
		spec[i] = 1 + math.Sin(float64(i))
	}
	mel := make([]float64, 40*3)
	for k := 0; k < 129; k++ {
		for m := 0; m < 40; m++ {
			for tt := 0; tt < 3; tt++ {
				mel[m*3+tt] += fb[k*40+m] * spec[k*3+tt]
			}
		}
	}
	est, err := InverseMel(mel, 3, 129, c, 100)
	if err != nil {
		t.Fatal(err)
	}
	// The estimate must reproduce the mel energies (the spectrum itself is not unique).
	for m := 0; m < 40; m++ {
		for tt := 0; tt < 3; tt++ {
			var p float64
			for k := 0; k < 129; k++ {
				p += fb[k*40+m] * est[k*3+tt]
			}
			if math.Abs(p-mel[m*3+tt]) > 0.05*mel[m*3+tt]+1e-9 {
				t.Fatalf("mel %d frame %d: %g, want %g", m, tt, p, mel[m*3+tt])
			}
		}
	}
}

func TestMuLawRoundTripAndEmphasis(t *testing.T) {
	for q := 0; q < 256; q++ {
		if got := MuLawEncode(MuLawDecode(q, 256), 256); got != q {
			t.Fatalf("class %d decodes and re-encodes to %d", q, got)
		}
	}
	if MuLawEncode(3, 256) != 255 || MuLawEncode(-3, 256) != 0 {
		t.Fatal("values beyond ±1 are not clipped")
	}
	x := []float32{0.1, -0.4, 0.3, 0.9, 0}
	y := append([]float32(nil), x...)
	PreEmphasis(y, 0.97)
	if y[1] != -0.4-0.97*0.1 {
		t.Fatalf("pre-emphasis %v", y)
	}
	DeEmphasis(y, 0.97)
	for i := range x {
		if math.Abs(float64(x[i]-y[i])) > 1e-6 {
			t.Fatalf("de-emphasis does not invert: %v vs %v", y, x)
		}
	}
	z := []float32{0.2, -0.5}
	if g := PeakNormalize(z, 1); g != 2 || z[1] != -1 {
		t.Fatalf("peak normalise: gain %g, %v", g, z)
	}
	w := []float32{0.5, -0.5}
	RMSNormalize(w, -20)
	if math.Abs(float64(w[0])-0.1) > 1e-6 {
		t.Fatalf("rms normalise: %v", w)
	}
}

func TestResamplerLengthsAndErrors(t *testing.T) {
	for _, c := range [][3]int{{16000, 8000, 1001}, {8000, 16000, 7}, {44100, 16000, 441}, {22050, 16000, 1}} {
		y, err := Resample(make([]float32, c[2]), c[0], c[1])
		if err != nil {
			t.Fatal(err)
		}
		if want := (c[2]*c[1] + c[0] - 1) / c[0]; len(y) != want {
			t.Errorf("%d→%d of %d samples: %d, want %d", c[0], c[1], c[2], len(y), want)
		}
	}
	if _, err := Resample([]float32{1}, 0, 8000); err == nil {
		t.Fatal("rate 0 accepted")
	}
	if _, err := Resample([]float32{1}, 44101, 16003); err == nil {
		t.Fatal("a filter bank of millions of phases accepted")
	}
}

func TestFeatureErrors(t *testing.T) {
	x := make([]float32, 100)
	if _, err := STFT(x, STFTConfig{NFFT: 400}); err == nil {
		t.Error("a signal shorter than the reflect padding accepted")
	}
	if _, err := LogMel(make([]float32, 1000), LogMelConfig{MelSpecConfig: MelSpecConfig{STFT: STFTConfig{NFFT: 64}, Mel: MelConfig{SampleRate: 8000, NMels: 10, Scale: "bark"}}}); err == nil {
		t.Error("unknown mel scale accepted")
	}
	if _, err := Fbank(x, DefaultFbank(16000)); err == nil {
		t.Error("audio shorter than one frame accepted")
	}
	if _, err := MFCC(make([]float32, 1000), MFCCConfig{MelSpec: MelSpecConfig{STFT: STFTConfig{NFFT: 64}, Mel: MelConfig{SampleRate: 8000, NMels: 10}}, NMFCC: 20}); err == nil {
		t.Error("more coefficients than mels accepted")
	}
}

// FuzzFeatures: any audio and any small parameters give an error or finite features
// of the documented shape, never a panic.
func FuzzFeatures(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint16(64), uint8(16), uint8(8), uint16(8000), uint16(16000))
	f.Add(make([]byte, 3000), uint16(400), uint8(160), uint8(40), uint16(16000), uint16(8000))
	f.Fuzz(func(t *testing.T, raw []byte, nfft uint16, hop, mels uint8, from, to uint16) {
		x := make([]float32, len(raw))
		for i, b := range raw {
			x[i] = float32(int8(b)) / 128
		}
		c := LogMelConfig{MelSpecConfig: MelSpecConfig{STFT: STFTConfig{NFFT: int(nfft % 1100), Hop: int(hop)},
			Mel: MelConfig{SampleRate: 8000, NMels: int(mels % 90)}}}
		if fe, err := LogMel(x, c); err == nil {
			if len(fe.Data) != fe.Rows*fe.Frames {
				t.Fatalf("%d values for %d×%d", len(fe.Data), fe.Rows, fe.Frames)
			}
			for _, v := range fe.Data {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("log-mel value %g", v)
				}
			}
		}
		fb := DefaultFbank(8000)
		fb.NumMelBins = int(mels%60) + 1
		if fe, err := Fbank(x, fb); err == nil && len(fe.Data) != fe.Rows*fe.Frames {
			t.Fatal("fbank shape")
		}
		if from > 999 && to > 999 && len(x) < 4000 {
			if y, err := Resample(x, int(from), int(to)); err == nil && len(y) != (len(x)*int(to)+int(from)-1)/int(from) {
				t.Fatalf("resample length %d", len(y))
			}
		}
	})
}
