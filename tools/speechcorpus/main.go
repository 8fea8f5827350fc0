// Command speechcorpus synthesises a speech corpus with Debian's espeak-ng, so that
// plexus's speech models train on data anyone can rebuild: the same text file, seed and
// flags give the same WAV files. Every sentence is spoken by voices drawn from a training
// set (accents × variants, varied speed and pitch); a held-out set of voices that never
// occurs in training speaks a share of the sentences for the test split.
//
//	go run ./tools/speechcorpus -out data/speech -rate 8000
//
// With -digits N it also writes N digit strings (2–7 digits spoken as words, "seven
// three nine"), spoken by training voices at varied speed and pitch, and -digits-test
// more spoken only by held-out voices: the recogniser's corpus (speech/asr/train),
//
//	go run ./tools/speechcorpus -out data/asr -rate 16000 -digits 6000 -voices 8
//
// It writes OUT/wav/ID.wav (16-bit mono at -rate, resampled from espeak-ng's 22050 Hz
// with speech.Resample), OUT/train.jsonl and OUT/test.jsonl (one JSON object per
// utterance: id, path, text, voice, speed, pitch, seconds) and OUT/corpus.json (the flags).
package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/speech"
)

//go:embed sentences.txt
var defaultText string

// Voices are espeak-ng voice+variant names. The training and held-out sets share no
// variant, and the held-out accents are absent from training.
var (
	trainAccents  = []string{"en-us", "en-gb", "en-gb-x-rp", "en-gb-scotland"}
	trainVariants = []string{"m1", "m2", "m3", "m4", "f1", "f2", "f3", "klatt", "Andy", "Annie", "Denis", "Alicia"}
	testAccents   = []string{"en-029", "en-gb-x-gbcwmd"}
	testVariants  = []string{"m5", "f4", "Lee", "belinda"}

	// Digit strings are spoken by every other English accent and voice variant of
	// espeak-ng 1.51 (the sentences keep their list, so that the vocoder corpus stays
	// reproducible): a recogniser only generalises to held-out voices whose formants
	// differ as much as Lee's when training spans as wide a range. Still none held out.
	digitAccents  = append([]string{"en-gb-x-gbclan", "en-us-nyc"}, trainAccents...)
	digitVariants = []string{"Alex", "Alicia", "Andrea", "Andy", "Annie", "AnxiousAndy", "Demonic", "Denis", "Diogo",
		"Gene", "Gene2", "Henrique", "Hugo", "Jacky", "Marco", "Mario", "Michael", "Mike", "Nguyen", "RicishayMax",
		"RicishayMax2", "RicishayMax3", "Storm", "Tweaky", "UniRobot", "adam", "anika", "anikaRobot", "announcer",
		"antonio", "aunty", "benjamin", "boris", "caleb", "croak", "david", "ed", "edward", "edward2", "f1", "f2", "f3",
		"f5", "fast", "grandma", "grandpa", "gustave", "iven", "iven2", "iven3", "iven4", "john", "kaukovalta", "klatt",
		"klatt2", "klatt3", "klatt4", "klatt5", "klatt6", "linda", "m1", "m2", "m3", "m4", "m6", "m7", "m8", "marcelo",
		"max", "michel", "miguel", "norbert", "pablo", "paul", "pedro", "quincy", "rob", "robert", "robosoft",
		"robosoft2", "robosoft3", "robosoft4", "robosoft5", "robosoft6", "robosoft7", "robosoft8", "sandro", "shelby",
		"steph", "steph2", "steph3", "travis", "victor", "whisper", "whisperf", "zac"}
)

// digitWords spell the digits as espeak-ng and the transcripts read them.
var digitWords = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

// Utterance is one line of a manifest.
type Utterance struct {
	ID      string  `json:"id"`
	Path    string  `json:"path"` // relative to the manifest
	Text    string  `json:"text"`
	Voice   string  `json:"voice"`
	Speed   int     `json:"speed"`
	Pitch   int     `json:"pitch"`
	Seconds float64 `json:"seconds"`
	Set     string  `json:"set"` // "sentences" or "digits"
	Split   string  `json:"-"`
}

type options struct {
	Text      string `json:"text"`
	Out       string `json:"-"`
	Rate      int    `json:"rate"`
	Seed      uint64 `json:"seed"`
	PerLine   int    `json:"voices_per_sentence"`
	TestEvery int    `json:"test_every"`
	Digits    int    `json:"digits"`
	DigitTest int    `json:"digits_test"`
	Jobs      int    `json:"-"`
}

func main() {
	var o options
	flag.StringVar(&o.Text, "text", "", "text file, one sentence per line (default: 50 Harvard sentences built in)")
	flag.StringVar(&o.Out, "out", "data/speech", "output folder")
	flag.IntVar(&o.Rate, "rate", 8000, "sample rate of the WAV files")
	flag.Uint64Var(&o.Seed, "seed", 1, "seed for the voice, speed and pitch draws")
	flag.IntVar(&o.PerLine, "voices", 4, "training voices per sentence")
	flag.IntVar(&o.TestEvery, "test-every", 5, "every Nth sentence is also spoken by two held-out voices")
	flag.IntVar(&o.Digits, "digits", 0, "digit strings (2-7 digits) spoken by training voices")
	flag.IntVar(&o.DigitTest, "digits-test", 200, "digit strings spoken by held-out voices (with -digits)")
	flag.IntVar(&o.Jobs, "jobs", max(1, runtime.NumCPU()/2), "espeak-ng processes at once")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "speechcorpus:", err)
		os.Exit(1)
	}
}

func readLines(o options) ([]string, error) {
	text := defaultText
	if o.Text != "" {
		b, err := os.ReadFile(o.Text)
		if err != nil {
			return nil, err
		}
		text = string(b)
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%s: no sentences", o.Text)
	}
	return lines, nil
}

// plan draws every utterance's voice, speed and pitch from the seed alone, before
// anything runs, so the corpus does not depend on scheduling.
func plan(lines []string, o options) []Utterance {
	r := rand.New(rand.NewPCG(o.Seed, 7))
	var us []Utterance
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	for i, l := range lines {
		for v := 0; v < o.PerLine; v++ {
			us = append(us, Utterance{ID: fmt.Sprintf("s%03d-tr%d", i, v), Text: l, Split: "train", Set: "sentences",
				Voice: pick(trainAccents) + "+" + pick(trainVariants), Speed: 130 + r.IntN(60), Pitch: 30 + r.IntN(40)})
		}
		if o.TestEvery > 0 && i%o.TestEvery == 0 {
			for v := 0; v < 2; v++ {
				us = append(us, Utterance{ID: fmt.Sprintf("s%03d-te%d", i, v), Text: l, Split: "test", Set: "sentences",
					Voice: pick(testAccents) + "+" + pick(testVariants), Speed: 130 + r.IntN(60), Pitch: 30 + r.IntN(40)})
			}
		}
	}
	return append(us, planDigits(o)...)
}

// planDigits draws the digit strings from their own stream, so that adding them leaves
// the sentence corpus of a seed unchanged. Speeds span 120–200 words a minute.
func planDigits(o options) []Utterance {
	if o.Digits <= 0 {
		return nil
	}
	r := rand.New(rand.NewPCG(o.Seed, 11))
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	var us []Utterance
	for i := 0; i < o.Digits+o.DigitTest; i++ {
		n := 2 + r.IntN(6)
		words := make([]string, n)
		for j := range words {
			words[j] = digitWords[r.IntN(10)]
		}
		u := Utterance{Text: strings.Join(words, " "), Set: "digits", Speed: 120 + r.IntN(81), Pitch: 20 + r.IntN(61)}
		if i < o.Digits {
			u.ID, u.Split, u.Voice = fmt.Sprintf("d%05d-tr", i), "train", pick(digitAccents)+"+"+pick(digitVariants)
		} else {
			u.ID, u.Split, u.Voice = fmt.Sprintf("d%05d-te", i), "test", pick(testAccents)+"+"+pick(testVariants)
		}
		us = append(us, u)
	}
	return us
}

func run(ctx context.Context, o options) error {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		return errors.New("espeak-ng is not installed (apt-get install espeak-ng)")
	}
	lines, err := readLines(o)
	if err != nil {
		return err
	}
	us := plan(lines, o)
	if err := os.MkdirAll(filepath.Join(o.Out, "wav"), 0o755); err != nil {
		return err
	}
	jobs := make(chan int)
	errs := make([]error, len(us))
	var wg sync.WaitGroup
	for w := 0; w < max(1, o.Jobs); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				errs[i] = synth(ctx, &us[i], o)
			}
		}()
	}
	for i := range us {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, split := range []string{"train", "test"} {
		var buf bytes.Buffer
		n := 0
		for _, u := range us {
			if u.Split == split {
				b, _ := json.Marshal(u)
				buf.Write(append(b, '\n'))
				n++
			}
		}
		if err := os.WriteFile(filepath.Join(o.Out, split+".jsonl"), buf.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Printf("%s: %d utterances\n", split, n)
	}
	b, _ := json.MarshalIndent(o, "", "  ")
	return os.WriteFile(filepath.Join(o.Out, "corpus.json"), append(b, '\n'), 0o644)
}

// synth speaks one utterance and writes it at the corpus rate.
func synth(ctx context.Context, u *Utterance, o options) error {
	cmd := exec.CommandContext(ctx, "espeak-ng", "-v", u.Voice, "-s", fmt.Sprint(u.Speed), "-p", fmt.Sprint(u.Pitch), "--stdout", u.Text)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	wav, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s: espeak-ng -v %s: %w: %s", u.ID, u.Voice, err, strings.TrimSpace(stderr.String()))
	}
	a, err := media.DecodeWAV(bytes.NewReader(fixStreamHeader(wav)), media.DefaultLimits())
	if err != nil {
		return fmt.Errorf("%s: espeak-ng output: %w", u.ID, err)
	}
	x := a.Mono()
	if a.Rate != o.Rate {
		if x, err = speech.Resample(x, a.Rate, o.Rate); err != nil {
			return fmt.Errorf("%s: %w", u.ID, err)
		}
	}
	u.Path = filepath.Join("wav", u.ID+".wav")
	u.Seconds = float64(len(x)) / float64(o.Rate)
	var out bytes.Buffer
	if err := media.EncodeWAV(&out, x, o.Rate, 1, 16); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(o.Out, u.Path), out.Bytes(), 0o644)
}

// fixStreamHeader sets the RIFF and data sizes of a WAV written to a pipe, where
// espeak-ng cannot seek back to fill them in and leaves placeholders.
func fixStreamHeader(b []byte) []byte {
	if len(b) < 44 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return b
	}
	put := func(off, v int) {
		b[off], b[off+1], b[off+2], b[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	put(4, len(b)-8)
	for off := 12; off+8 <= len(b); {
		id := string(b[off : off+4])
		if id == "data" {
			put(off+4, len(b)-off-8)
			break
		}
		size := int(b[off+4]) | int(b[off+5])<<8 | int(b[off+6])<<16 | int(b[off+7])<<24
		off += 8 + size + size%2
	}
	return b
}
