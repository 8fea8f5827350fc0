package speech_test

import (
	"fmt"
	"math"

	"github.com/plexusml/plexus/speech"
)

// A vocoder's conditioning: 80 log-mel bands every 256 samples of 16 kHz audio, as
// torchaudio.transforms.MelSpectrogram(16000, n_fft=1024, hop_length=256, n_mels=80)
// followed by log(x + 1e-6).
func ExampleLogMel() {
	x := make([]float32, 16000)
	for i := range x {
		x[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(i)/16000))
	}
	f, err := speech.LogMel(x, speech.LogMelConfig{MelSpecConfig: speech.MelSpecConfig{
		STFT: speech.STFTConfig{NFFT: 1024, Hop: 256},
		Mel:  speech.MelConfig{SampleRate: 16000, NMels: 80},
	}})
	if err != nil {
		panic(err)
	}
	fmt.Println(f.Rows, "mels ×", f.Frames, "frames")
	// Output: 80 mels × 63 frames
}

// Kaldi's default filterbank features (23 bins, 25 ms frames every 10 ms), as
// torchaudio.compliance.kaldi.fbank computes them.
func ExampleFbank() {
	f, err := speech.Fbank(make([]float32, 16000), speech.DefaultFbank(16000))
	if err != nil {
		panic(err)
	}
	fmt.Println(f.Rows, "frames ×", f.Frames, "bins")
	// Output: 98 frames × 23 bins
}

func ExampleResample() {
	y, err := speech.Resample(make([]float32, 22050), 22050, 16000)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(y))
	// Output: 16000
}
