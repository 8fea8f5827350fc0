// Command demoreport turns a demo run's results into the figures the demo prints (image
// accuracy against the Fashion-MNIST labels, word error rate against the spoken text) and
// a self-contained HTML report: every item with its result, images inline, audio with a
// player, waveform and spectrogram, generated text.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/speech"
	"github.com/plexusml/plexus/speech/ctc"
)

type truth struct {
	ID, Kind, Label, Text string
}

type result struct {
	ID       string         `json:"id"`
	Modality string         `json:"modality"`
	Source   string         `json:"source"`
	Fields   map[string]any `json:"fields"`
}

// bar is one row of a probability chart.
type bar struct {
	Label   string
	Percent float64
	Truth   bool
}

type row struct {
	ID, Modality          string
	ImageURI, AudioURI    template.URL
	WaveSVG               template.HTML
	SpecURI               template.URL
	Label, TruthLabel     string
	Correct               bool
	Bars                  []bar
	Transcript, Spoken    string
	Words                 []wordSpan
	Prompt, Continuation  string
	Synth                 template.URL
	Other                 []string
	HasLabel, HasTruthLbl bool
}

func main() {
	resultsPath := flag.String("results", "out/demo/results.jsonl", "results JSONL of the run")
	truthPath := flag.String("truth", "data/demo/truth.jsonl", "truth JSONL from mkdemo")
	dataDir := flag.String("data", "data/demo/items", "the dataset folder (for inline media)")
	files := flag.String("files", "out/demo/files", "the files sink folder (synthesised audio)")
	htmlPath := flag.String("html", "out/demo/report.html", "HTML report to write")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("demoreport: ")

	truths, err := readTruth(*truthPath)
	if err != nil {
		log.Fatal(err)
	}
	results, err := readResults(*resultsPath)
	if err != nil {
		log.Fatal(err)
	}
	var rows []row
	var imgN, imgOK int
	werBy := map[string][2]int{} // set → word errors, reference words
	for _, r := range results {
		t := truths[r.ID]
		rw := row{ID: r.ID, Modality: r.Modality}
		src := r.Source
		if src == "" {
			src = filepath.Join(*dataDir, r.ID)
		}
		switch r.Modality {
		case "image":
			if b, err := os.ReadFile(src); err == nil {
				rw.ImageURI = dataURI(src, b)
			}
		case "audio":
			if b, err := os.ReadFile(src); err == nil {
				rw.AudioURI = dataURI(src, b)
				if a, err := media.DecodeWAV(bytes.NewReader(b), media.Limits{}); err == nil {
					mono := a.Mono()
					rw.WaveSVG = waveform(mono)
					rw.SpecURI = spectrogram(mono, a.Rate)
				}
			}
		case "text":
			if b, err := os.ReadFile(src); err == nil {
				rw.Prompt = strings.TrimSpace(string(b))
			}
		}
		// A recogniser's stage is the one that also wrote word timestamps; any other
		// text field is generated text (the LSTM continuing a prompt or a transcript).
		asrStage := ""
		for k := range r.Fields {
			if stage, name, _ := strings.Cut(k, "."); name == "words" {
				asrStage = stage
			}
		}
		for _, k := range sortedKeys(r.Fields) {
			v := r.Fields[k]
			stage, name, _ := strings.Cut(k, ".")
			switch {
			case name == "label":
				rw.Label, _ = v.(string)
				rw.HasLabel = true
			case name == "labels":
				labels := toStrings(v)
				scores := toFloats(r.Fields[stage+".scores"])
				for i, l := range labels {
					if i < len(scores) {
						rw.Bars = append(rw.Bars, bar{Label: l, Percent: 100 * scores[i], Truth: t.Label == l})
					}
				}
			case name == "text" && stage == asrStage:
				rw.Transcript, _ = v.(string)
			case name == "words":
				rw.Words = wordSpans(v)
			case name == "text":
				rw.Continuation, _ = v.(string)
			case name == "scores" || name == "index" || name == "score":
			default:
				if s := summary(v); s != "" {
					rw.Other = append(rw.Other, k+": "+s)
				}
			}
		}
		if syn := findSynth(*files, r.ID); syn != "" {
			if b, err := os.ReadFile(syn); err == nil {
				rw.Synth = dataURI(syn, b)
			}
		}
		if t.Kind == "image" {
			rw.TruthLabel, rw.HasTruthLbl = t.Label, true
			if rw.HasLabel {
				imgN++
				if rw.Label == t.Label {
					imgOK++
					rw.Correct = true
				}
			}
		}
		if t.Kind == "audio" {
			rw.Spoken = t.Text
			if asrStage != "" {
				e, n := ctc.WordErrors(normWords(t.Text), normWords(rw.Transcript))
				set := "sentences"
				if strings.Contains(r.ID, "digits") {
					set = "digit strings"
				}
				werBy[set] = [2]int{werBy[set][0] + e, werBy[set][1] + n}
			}
		}
		rows = append(rows, rw)
	}
	var summaryLines []string
	if imgN > 0 {
		summaryLines = append(summaryLines, fmt.Sprintf("images: %d/%d labels right (%.1f%% accuracy against Fashion-MNIST's test labels)", imgOK, imgN, 100*float64(imgOK)/float64(imgN)))
	} else {
		summaryLines = append(summaryLines, "images: no classify results in this run")
	}
	if len(werBy) == 0 {
		summaryLines = append(summaryLines, "speech: no transcripts in this run, so no word error rate")
	}
	for _, set := range []string{"digit strings", "sentences"} {
		if e := werBy[set]; e[1] > 0 {
			note := "held-out voices"
			if set == "sentences" {
				note = "held-out voices; the recogniser knows only its 50 training sentences' words"
			}
			summaryLines = append(summaryLines, fmt.Sprintf("speech, %s: word error rate %.1f%% (%d errors in %d spoken words; %s)", set, 100*float64(e[0])/float64(e[1]), e[0], e[1], note))
		}
	}
	for _, l := range summaryLines {
		fmt.Println(l)
	}
	if err := os.MkdirAll(filepath.Dir(*htmlPath), 0o755); err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, map[string]any{"Rows": rows, "Summary": summaryLines}); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*htmlPath, buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("report: %s (%d items)\n", *htmlPath, len(rows))
}

func readTruth(path string) (map[string]truth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]truth{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		var t struct{ ID, Kind, Label, Text string }
		if err := json.Unmarshal(sc.Bytes(), &t); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out[t.ID] = truth(t)
	}
	return out, sc.Err()
}

func readResults(path string) ([]result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, sc.Err()
}

func findSynth(dir, id string) string {
	base := strings.TrimSuffix(filepath.Base(id), filepath.Ext(id))
	matches, _ := filepath.Glob(filepath.Join(dir, "*", "*"+base+"*.wav"))
	if len(matches) == 0 {
		matches, _ = filepath.Glob(filepath.Join(dir, "*"+base+"*.wav"))
	}
	if len(matches) > 0 {
		return matches[0]
	}
	return ""
}

func dataURI(name string, b []byte) template.URL {
	mime := map[string]string{".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".wav": "audio/wav"}[strings.ToLower(filepath.Ext(name))]
	if mime == "" {
		mime = "application/octet-stream"
	}
	return template.URL("data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b))
}

// waveform draws min/max envelopes in 300 columns as an inline SVG.
func waveform(x []float32) template.HTML {
	const w, h = 300, 60
	if len(x) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="wave" viewBox="0 0 %d %d" width="%d" height="%d"><path d="`, w, h, w, h)
	for c := 0; c < w; c++ {
		lo, hi := float32(0), float32(0)
		for _, v := range x[c*len(x)/w : (c+1)*len(x)/w] {
			lo, hi = min(lo, v), max(hi, v)
		}
		fmt.Fprintf(&b, "M%d %.1fV%.1f", c, h/2-float64(hi)*h/2, h/2-float64(lo)*h/2+0.5)
	}
	b.WriteString(`" stroke="#2b6cb0" fill="none"/></svg>`)
	return template.HTML(b.String())
}

// spectrogram renders an 80-band log-mel spectrogram (the features the speech models
// use) as a PNG, low frequencies at the bottom.
func spectrogram(x []float32, rate int) template.URL {
	f, err := speech.LogMel(x, speech.LogMelConfig{
		MelSpecConfig: speech.MelSpecConfig{
			STFT:  speech.STFTConfig{NFFT: 512, Hop: rate / 100},
			Power: 2,
			Mel:   speech.MelConfig{SampleRate: rate, NMels: 80},
		},
		Offset: 1e-6,
	})
	if err != nil || f.Frames == 0 {
		return ""
	}
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range f.Data {
		lo, hi = min(lo, v), max(hi, v)
	}
	lo = max(lo, hi-12) // about 50 dB of range in natural log units
	img := image.NewRGBA(image.Rect(0, 0, f.Frames, f.Rows))
	for r := 0; r < f.Rows; r++ {
		for t := 0; t < f.Frames; t++ {
			v := (f.At(r, t) - lo) / (hi - lo)
			v = min(max(v, 0), 1)
			img.Set(t, f.Rows-1-r, color.RGBA{uint8(255 * v), uint8(200 * v * v), uint8(80 + 120*(1-v)), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return ""
	}
	return dataURI("s.png", b.Bytes())
}

// wordErrors is the word-level edit distance between the reference and the hypothesis,
// and the reference's word count.
// normWords lowercases s and keeps letters, digits, apostrophes and spaces: how the
// recogniser writes text, so that punctuation in the spoken script is not an error.
func normWords(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'':
			return unicode.ToLower(r)
		case unicode.IsSpace(r) || r == '-':
			return ' '
		}
		return -1
	}, s)
}

// wordSpan is one recognised word with its time span, as the transcribe task writes
// it: [word, start, end, confidence].
type wordSpan struct {
	Word               string
	Start, End, Confid float64
}

func wordSpans(v any) []wordSpan {
	l, _ := v.([]any)
	var out []wordSpan
	for _, x := range l {
		w, _ := x.([]any)
		if len(w) != 4 {
			continue
		}
		var ws wordSpan
		ws.Word, _ = w[0].(string)
		ws.Start, _ = w[1].(float64)
		ws.End, _ = w[2].(float64)
		ws.Confid, _ = w[3].(float64)
		out = append(out, ws)
	}
	return out
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func toFloats(v any) []float64 {
	l, _ := v.([]any)
	var out []float64
	for _, x := range l {
		f, _ := x.(float64)
		out = append(out, f)
	}
	return out
}

func summary(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return fmt.Sprintf("%.0f", x)
		}
		return fmt.Sprintf("%.4g", x)
	case bool:
		return fmt.Sprint(x)
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		if len(b) > 160 {
			return string(b[:160]) + "…"
		}
		return string(b)
	}
	return ""
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var page = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>plexus demo report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1a202c}
h1{font-size:1.4em} .summary{background:#f7fafc;border:1px solid #e2e8f0;padding:.8em 1em}
.item{display:flex;gap:1.2em;border-bottom:1px solid #e2e8f0;padding:1em 0;align-items:flex-start}
.id{font-family:monospace;color:#4a5568;min-width:14em}
img.thumb{width:112px;height:112px;image-rendering:pixelated;border:1px solid #cbd5e0}
.bars{min-width:22em}.bar{display:flex;align-items:center;gap:.5em;font-size:12px}
.bar span.l{width:8em;text-align:right}.bar div{background:#90cdf4;height:10px}
.bar.truth span.l{font-weight:bold}.ok{color:#276749}.bad{color:#c53030}
img.spec{height:80px;width:300px;border:1px solid #cbd5e0}.gen{color:#2c5282}
.other{font-family:monospace;font-size:12px;color:#718096}
.words small{color:#718096}
</style></head><body>
<h1>plexus demo report</h1>
<div class="summary">{{range .Summary}}<div>{{.}}</div>{{end}}</div>
{{range .Rows}}<div class="item"><div class="id">{{.ID}}<br>{{.Modality}}</div>
{{if .ImageURI}}<img class="thumb" src="{{.ImageURI}}" alt="{{.ID}}">{{end}}
{{if .AudioURI}}<div>{{.WaveSVG}}<br>{{if .SpecURI}}<img class="spec" src="{{.SpecURI}}" alt="log-mel spectrogram"><br>{{end}}<audio controls src="{{.AudioURI}}"></audio>
{{if .Synth}}<br>resynthesised: <audio controls src="{{.Synth}}"></audio>{{end}}</div>{{end}}
<div>
{{if .HasLabel}}<div>label: <b>{{.Label}}</b>{{if .HasTruthLbl}} — truth: {{.TruthLabel}} {{if .Correct}}<span class="ok">✓</span>{{else}}<span class="bad">✗</span>{{end}}{{end}}</div>
<div class="bars">{{range .Bars}}<div class="bar{{if .Truth}} truth{{end}}"><span class="l">{{.Label}}</span><div style="width:{{printf "%.0f" .Percent}}px"></div>{{printf "%.1f" .Percent}}%</div>{{end}}</div>{{end}}
{{if .Spoken}}<div>spoken: {{.Spoken}}</div>{{end}}
{{if .Transcript}}<div>transcript: <b>{{.Transcript}}</b></div>{{end}}
{{if .Words}}<div class="words">{{range .Words}}<span title="confidence {{printf "%.2f" .Confid}}">{{.Word}} <small>{{printf "%.2f–%.2f s" .Start .End}}</small></span> {{end}}</div>{{end}}
{{if .Prompt}}<div>prompt: {{.Prompt}}</div>{{end}}
{{if .Continuation}}<div class="gen">continued: {{.Continuation}}</div>{{end}}
{{range .Other}}<div class="other">{{.}}</div>{{end}}
</div></div>{{end}}
</body></html>
`))
