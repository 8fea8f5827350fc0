package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/media"
)

func TestPlanIsReproducibleAndHoldsOutVoices(t *testing.T) {
	o := options{Seed: 3, PerLine: 2, TestEvery: 2}
	lines := []string{"a b", "c d", "e f"}
	a, b := plan(lines, o), plan(lines, o)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed planned two corpora")
	}
	train := map[string]bool{}
	for _, u := range a {
		if u.Split == "train" {
			train[u.Voice] = true
		}
	}
	n := 0
	for _, u := range a {
		if u.Split == "test" {
			n++
			if train[u.Voice] {
				t.Fatalf("held-out voice %s also trains", u.Voice)
			}
		}
	}
	if n != 4 || len(a) != 10 {
		t.Fatalf("%d utterances, %d held out", len(a), n)
	}
}

func TestFixStreamHeader(t *testing.T) {
	var b bytes.Buffer
	media.EncodeWAV(&b, []float32{0.1, -0.1, 0.2}, 22050, 1, 16)
	w := b.Bytes()
	// A pipe-written header: sizes left as 0x7fffffff placeholders.
	data := bytes.Index(w, []byte("data"))
	binary.LittleEndian.PutUint32(w[4:], 0x7fffffff)
	binary.LittleEndian.PutUint32(w[data+4:], 0x7fffffff)
	if _, err := media.DecodeWAV(bytes.NewReader(w), media.DefaultLimits()); err == nil {
		t.Log("core/media accepts the placeholder sizes itself")
	}
	a, err := media.DecodeWAV(bytes.NewReader(fixStreamHeader(w)), media.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if a.Frames() != 3 {
		t.Fatalf("%d frames", a.Frames())
	}
}

func FuzzFixStreamHeader(f *testing.F) {
	var b bytes.Buffer
	media.EncodeWAV(&b, []float32{0.1, -0.1}, 8000, 1, 16)
	f.Add(b.Bytes())
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEfmt \xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, w []byte) {
		fixStreamHeader(append([]byte(nil), w...))
	})
}

// TestSynthesis speaks two sentences with espeak-ng (a Debian package this tool
// requires) and checks the files and manifests.
func TestSynthesis(t *testing.T) {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng is not installed")
	}
	dir := t.TempDir()
	text := filepath.Join(dir, "t.txt")
	os.WriteFile(text, []byte("Hello there.\n# a comment\nGood morning.\n"), 0o644)
	o := options{Text: text, Out: dir, Rate: 8000, Seed: 1, PerLine: 1, TestEvery: 2, Jobs: 2}
	if err := run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"train.jsonl", "test.jsonl", "corpus.json", "wav/s000-tr0.wav", "wav/s000-te1.wav", "wav/s001-tr0.wav"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "wav", "s000-tr0.wav"))
	a, err := media.DecodeWAV(bytes.NewReader(b), media.DefaultLimits())
	if err != nil || a.Rate != 8000 || a.Frames() < 2000 {
		t.Fatalf("%v: %+v", err, a)
	}
}

func TestPlanDigits(t *testing.T) {
	o := options{Seed: 5, PerLine: 1, TestEvery: 0, Digits: 300, DigitTest: 150}
	us := plan([]string{"a b"}, o)
	if !reflect.DeepEqual(us, plan([]string{"a b"}, o)) {
		t.Fatal("the same seed planned two corpora")
	}
	// Adding digit strings leaves a seed's sentence corpus as it was.
	if s := plan([]string{"a b"}, options{Seed: 5, PerLine: 1}); !reflect.DeepEqual(s, us[:len(s)]) {
		t.Fatal("digit strings changed the sentence plan")
	}
	words := map[string]bool{}
	for _, w := range digitWords {
		words[w] = true
	}
	train := map[string]bool{}
	counts := map[string]int{}
	lengths := map[int]bool{}
	for _, u := range us {
		if u.Set != "digits" {
			continue
		}
		counts[u.Split]++
		ws := strings.Fields(u.Text)
		lengths[len(ws)] = true
		for _, w := range ws {
			if !words[w] {
				t.Fatalf("%s: %q is not a digit word", u.ID, w)
			}
		}
		if u.Speed < 120 || u.Speed > 200 {
			t.Fatalf("%s: speed %d", u.ID, u.Speed)
		}
		if u.Split == "train" {
			train[u.Voice] = true
		}
	}
	for _, u := range us {
		if u.Split == "test" && train[u.Voice] {
			t.Fatalf("held-out voice %s also trains", u.Voice)
		}
	}
	if counts["train"] != 300 || counts["test"] != 150 {
		t.Fatalf("%v", counts)
	}
	for n := 2; n <= 7; n++ {
		if !lengths[n] {
			t.Errorf("no string of %d digits in 450", n)
		}
	}
	if lengths[1] || lengths[8] {
		t.Errorf("lengths %v", lengths)
	}
}

// TestSynthesisDigits speaks a digit corpus at 16 kHz and checks its manifests.
func TestSynthesisDigits(t *testing.T) {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng is not installed")
	}
	dir := t.TempDir()
	text := filepath.Join(dir, "t.txt")
	os.WriteFile(text, []byte("Hello there.\n"), 0o644)
	o := options{Text: text, Out: dir, Rate: 16000, Seed: 1, PerLine: 1, TestEvery: 1, Digits: 2, DigitTest: 1, Jobs: 2}
	if err := run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "test.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var sets []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var u Utterance
		if err := json.Unmarshal([]byte(l), &u); err != nil {
			t.Fatal(err)
		}
		sets = append(sets, u.Set)
		w, err := os.ReadFile(filepath.Join(dir, u.Path))
		if err != nil {
			t.Fatal(err)
		}
		a, err := media.DecodeWAV(bytes.NewReader(w), media.DefaultLimits())
		if err != nil || a.Rate != 16000 || a.Frames() < 4000 {
			t.Fatalf("%s: %v", u.ID, err)
		}
	}
	if !reflect.DeepEqual(sets, []string{"sentences", "sentences", "digits"}) {
		t.Fatalf("test split sets %v", sets)
	}
}
