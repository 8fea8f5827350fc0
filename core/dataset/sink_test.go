package dataset

import (
	"bufio"
	"encoding/json"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/tensor"
)

func lines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestJSONLValuesAndTensorModes(t *testing.T) {
	dir := t.TempDir()
	x := tensor.FromFloat32([]float32{1, -2, 3, 6}, 2, 2)
	img := image.NewGray(image.Rect(0, 0, 5, 3))
	fields := map[string]any{
		"text": "héllo \"q\"\n\t\x01 \u2028 😀", "n": 3, "f": float32(0.5), "nan": math.NaN(),
		"ok": true, "tags": []string{"a", "b"}, "v": []float32{1, 2.5}, "nested": map[string]any{"k": int64(2)},
		"s.t": x, "s.img": img, "s.audio": &media.Audio{Rate: 8000, Channels: 2, Samples: make([]float32, 10)},
		"raw": []byte{1, 2, 3}, "bad": "a\xffb",
	}
	for _, mode := range []TensorMode{TensorSummary, TensorInline, TensorFiles} {
		path := filepath.Join(dir, string(mode)+".jsonl")
		s, err := OpenJSONL(path, JSONLOptions{Tensors: mode})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(&Entry{ID: "dir/a.txt", Modality: "text", Fields: fields, Provenance: json.RawMessage(`{"plexus":"x"}`)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Sync(); err != nil {
			t.Fatal(err)
		}
		s.Close()
		got := lines(t, path)
		if len(got) != 1 {
			t.Fatalf("%s: %d lines", mode, len(got))
		}
		f := got[0]["fields"].(map[string]any)
		if f["text"] != fields["text"] || f["n"] != 3.0 || f["f"] != 0.5 || f["nan"] != nil || f["bad"] != "a\ufffdb" {
			t.Fatalf("%s: scalar fields %v", mode, f)
		}
		if got[0]["provenance"].(map[string]any)["plexus"] != "x" {
			t.Fatalf("provenance %v", got[0]["provenance"])
		}
		if f["s.img"].(map[string]any)["image"].(map[string]any)["width"] != 5.0 {
			t.Fatalf("image summary %v", f["s.img"])
		}
		tm := f["s.t"].(map[string]any)
		if tm["dtype"] != "float32" || len(tm["shape"].([]any)) != 2 {
			t.Fatalf("%s: tensor %v", mode, tm)
		}
		switch mode {
		case TensorSummary:
			if tm["min"] != -2.0 || tm["max"] != 6.0 || tm["mean"] != 2.0 {
				t.Fatalf("summary %v", tm)
			}
		case TensorInline:
			if len(tm["data"].([]any)) != 4 {
				t.Fatalf("inline %v", tm)
			}
		case TensorFiles:
			back, err := tensor.LoadNpy(filepath.Join(dir, tm["file"].(string)))
			if err != nil {
				t.Fatal(err)
			}
			if back.Float32s()[3] != 6 {
				t.Fatalf("side file holds %v", back.Float32s())
			}
		}
	}
}

// TestJSONLResumeCutsUncommittedLines writes past the committed offset (what a crash
// leaves) and checks that reopening at the offset drops exactly that tail.
func TestJSONLResumeCutsUncommittedLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	s, _ := OpenJSONL(path, JSONLOptions{})
	s.Write(&Entry{ID: "a", Fields: map[string]any{}})
	off, _ := s.Sync()
	s.Write(&Entry{ID: "b", Fields: map[string]any{}})
	s.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id":"half`) // a torn line
	f.Close()

	s, err := OpenJSONL(path, JSONLOptions{Offset: off})
	if err != nil {
		t.Fatal(err)
	}
	s.Write(&Entry{ID: "c", Fields: map[string]any{}})
	if end, _ := s.Sync(); end <= off {
		t.Fatalf("offset did not advance: %d", end)
	}
	s.Close()
	var ids []string
	for _, l := range lines(t, path) {
		ids = append(ids, l["id"].(string))
	}
	if strings.Join(ids, ",") != "a,c" {
		t.Fatalf("ids after resume = %v, want a,c", ids)
	}
	if _, err := OpenJSONL(path, JSONLOptions{Offset: 1 << 20}); err == nil {
		t.Fatal("a file shorter than the committed offset was accepted")
	}
}

func TestDeadLetterLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	s, _ := OpenJSONL(path, JSONLOptions{Name: "dead-letter:x"})
	s.WriteFailure(&Failure{Entry: Entry{ID: "a.jpg", Modality: "image", Source: "/d/a.jpg", Fields: map[string]any{"k": "v"}},
		Stage: "thumbs", Err: "/d/a.jpg: jpeg: truncated", Attempts: 2})
	s.Sync()
	s.Close()
	l := lines(t, path)[0]
	if l["stage"] != "thumbs" || l["error"] != "/d/a.jpg: jpeg: truncated" || l["attempts"] != 2.0 || l["source"] != "/d/a.jpg" {
		t.Fatalf("dead letter %v", l)
	}
	if s.Name() != "dead-letter:x" {
		t.Fatal(s.Name())
	}
}

func TestFilesSink(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenFiles(dir, []string{"thumbs", "voc"})
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.NRGBA{255, 0, 0, 255})
	e := &Entry{ID: "sub/x.jpg", Fields: map[string]any{
		"thumbs.image": img, "voc.audio": &media.Audio{Rate: 16000, Channels: 1, Samples: []float32{0, 0.5, -0.5}},
		"other.image": img, "thumbs.width": 4,
	}}
	if err := s.Write(e); err != nil {
		t.Fatal(err)
	}
	if off, err := s.Sync(); err != nil || off != -1 {
		t.Fatalf("sync: %d %v", off, err)
	}
	for _, name := range []string{"sub/x.jpg.thumbs.image.png", "sub/x.jpg.voc.audio.wav"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sub/x.jpg.other.image.png")); err == nil {
		t.Error("wrote a stage not listed in from:")
	}
	f, _ := os.Open(filepath.Join(dir, "sub/x.jpg.voc.audio.wav"))
	defer f.Close()
	a, err := media.DecodeWAV(f, media.Limits{})
	if err != nil || a.Rate != 16000 || a.Frames() != 3 {
		t.Fatalf("wav back: %+v %v", a, err)
	}
}

// TestFilesSinkWaveformTensor checks that a plugin's waveform tensor with a
// sample_rate field beside it becomes a WAV, and a tensor without one stays .npy.
func TestFilesSinkWaveformTensor(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenFiles(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &Entry{ID: "clip.wav", Fields: map[string]any{
		"vocode.audio":       tensor.FromFloat32([]float32{0, 0.25, -0.25, 0.5}, 4),
		"vocode.sample_rate": int64(8000),
		"embed.vector":       tensor.FromFloat32([]float32{1, 2}, 2),
		"bad.audio":          tensor.FromFloat32([]float32{1}, 1),
		"bad.sample_rate":    "fast",
	}}
	if err := s.Write(e); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "clip.wav.vocode.audio.wav"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := media.DecodeWAV(f, media.Limits{})
	if err != nil || a.Rate != 8000 || a.Frames() != 4 || a.Samples[1] < 0.24 || a.Samples[1] > 0.26 {
		t.Fatalf("waveform tensor as wav: %+v %v", a, err)
	}
	for _, name := range []string{"clip.wav.embed.vector.npy", "clip.wav.bad.audio.npy"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"a/b.jpg": "a/b.jpg", "../../etc/passwd": "__/__/etc/passwd", "/abs/x": "abs/x",
		"": "_", "a//b": "a/b", "c:\\x": "c__x", "./a": "_/a",
	} {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzAppendString checks that every string becomes one valid JSON string that reads
// back as the same text (invalid UTF-8 as U+FFFD) and never breaks the line.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\ nl\n", "\x00\x1f\x7f", "a\xffb", "😀\u2028\u2029", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString(nil, s)
		if strings.ContainsAny(string(b), "\n\r") {
			t.Fatalf("%q encodes with a line break: %s", s, b)
		}
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, b, err)
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); utf8.ValidString(s) && back != s || !utf8.ValidString(s) && len(back) == 0 && len(want) > 0 {
			t.Fatalf("%q reads back as %q", s, back)
		}
	})
}

// TestJSONLFrom: a sink with from: keeps only those stages' outputs and the item's own
// fields, and writes no line for an item those stages produced nothing for.
func TestJSONLFrom(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	s, err := OpenJSONL(path, JSONLOptions{From: []string{"asr"}})
	if err != nil {
		t.Fatal(err)
	}
	s.Write(&Entry{ID: "a.wav", Fields: map[string]any{"lang": "en", "asr.text": "one two", "lm.text": "three"}})
	s.Write(&Entry{ID: "b.png", Fields: map[string]any{"lang": "en", "classify.label": "Bag"}}) // asr skipped it
	if _, err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	got := lines(t, path)
	if len(got) != 1 || got[0]["id"] != "a.wav" {
		t.Fatalf("lines %v, want only a.wav", got)
	}
	f := got[0]["fields"].(map[string]any)
	if len(f) != 2 || f["asr.text"] != "one two" || f["lang"] != "en" {
		t.Fatalf("fields %v, want asr.text and lang", f)
	}
}
