// Command mkdemo makes the demo's mixed dataset from Debian packages, reproducibly:
// Fashion-MNIST test images (dataset-fashion-mnist) as PNG and JPEG, spoken digit strings
// and sentences synthesised with espeak-ng as WAV, and text prompts from fortunes. It also
// writes truth.jsonl (the label or spoken text of every item) for the demo's accuracy
// figures.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/plexusml/plexus/core/dataset"
)

// FashionLabels are Fashion-MNIST's ten classes in label order.
var FashionLabels = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

var digitWords = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

// sentences are Harvard sentences from tools/speechcorpus's built-in list: the shipped
// recogniser learnt its sentence vocabulary from those 50 alone (spoken by other voices),
// so on other text it spells sounds, not words. The demo's voices are held out.
var sentences = []string{
	"Glue the sheet to the dark blue background.",
	"It's easy to tell the depth of a well.",
	"Rice is often served in round bowls.",
	"The juice of lemons makes fine punch.",
	"The box was thrown beside the parked truck.",
}

type truth struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Label string `json:"label,omitempty"`
	Text  string `json:"text,omitempty"`
}

func main() {
	out := flag.String("out", "data/demo", "output folder")
	nImages := flag.Int("images", 40, "Fashion-MNIST test images (half PNG, half JPEG)")
	nDigits := flag.Int("digits", 6, "spoken digit strings")
	nSentences := flag.Int("sentences", 4, "spoken sentences")
	nPrompts := flag.Int("prompts", 6, "text prompts from fortunes")
	fashion := flag.String("fashion", "/usr/share/datasets/fashion-mnist", "dataset-fashion-mnist folder")
	fortunes := flag.String("fortunes", "/usr/share/games/fortunes/fortunes", "fortunes file")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("mkdemo: ")
	rng := rand.New(rand.NewPCG(*seed, 0x9e3779b97f4a7c15))
	var truths []truth
	items := filepath.Join(*out, "items")
	for _, d := range []string{"images", "audio", "text"} {
		if err := os.MkdirAll(filepath.Join(items, d), 0o755); err != nil {
			log.Fatal(err)
		}
	}
	t, err := images(items, *fashion, *nImages)
	if err != nil {
		log.Fatal(err)
	}
	truths = append(truths, t...)
	t, err = speech(items, rng, *nDigits, *nSentences)
	if err != nil {
		log.Fatal(err)
	}
	truths = append(truths, t...)
	t, err = prompts(items, *fortunes, rng, *nPrompts)
	if err != nil {
		log.Fatal(err)
	}
	truths = append(truths, t...)
	f, err := os.Create(filepath.Join(*out, "truth.jsonl"))
	if err != nil {
		log.Fatal(err)
	}
	enc := json.NewEncoder(f)
	for _, tr := range truths {
		if err := enc.Encode(tr); err != nil {
			log.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "mkdemo: %d items in %s\n", len(truths), *out)
}

func images(out, dir string, n int) ([]truth, error) {
	imgs, err := dataset.ReadIDX(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		return nil, fmt.Errorf("%w (install dataset-fashion-mnist)", err)
	}
	labels, err := dataset.ReadIDX(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		return nil, err
	}
	h, w := imgs.Dim(1), imgs.Dim(2)
	px := imgs.Bytes()
	var ts []truth
	for i := 0; i < n && i < imgs.Dim(0); i++ {
		g := image.NewGray(image.Rect(0, 0, w, h))
		copy(g.Pix, px[i*h*w:(i+1)*h*w])
		ext := ".png"
		if i%2 == 1 {
			ext = ".jpg"
		}
		name := fmt.Sprintf("fashion-%04d%s", i, ext)
		f, err := os.Create(filepath.Join(out, "images", name))
		if err != nil {
			return nil, err
		}
		if ext == ".png" {
			err = png.Encode(f, g)
		} else {
			err = jpeg.Encode(f, toRGB(g), &jpeg.Options{Quality: 95})
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		ts = append(ts, truth{ID: "images/" + name, Kind: "image", Label: FashionLabels[int(labels.At(i))]})
	}
	return ts, nil
}

// toRGB stores a JPEG as colour so the demo exercises both decoders' paths.
func toRGB(g *image.Gray) image.Image {
	rgb := image.NewRGBA(g.Bounds())
	for y := g.Rect.Min.Y; y < g.Rect.Max.Y; y++ {
		for x := g.Rect.Min.X; x < g.Rect.Max.X; x++ {
			v := g.GrayAt(x, y).Y
			rgb.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	return rgb
}

// voices are tools/speechcorpus's held-out voices (accents and variants that the
// shipped recogniser never heard in training), so the demo's word error rate is an
// honest held-out figure.
var voices = []string{"en-029+m5", "en-gb-x-gbcwmd+f4", "en-029+Lee", "en-gb-x-gbcwmd+belinda", "en-029+f4", "en-gb-x-gbcwmd+m5"}

func speech(out string, rng *rand.Rand, nDigits, nSentences int) ([]truth, error) {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		return nil, fmt.Errorf("espeak-ng not found (install espeak-ng)")
	}
	var ts []truth
	say := func(name, text string) error {
		voice := voices[rng.IntN(len(voices))]
		rate := 130 + rng.IntN(50)
		pitch := 35 + rng.IntN(30)
		path := filepath.Join(out, "audio", name)
		cmd := exec.Command("espeak-ng", "-v", voice, "-s", fmt.Sprint(rate), "-p", fmt.Sprint(pitch), "-w", path, text)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("espeak-ng %q: %v: %s", text, err, b)
		}
		ts = append(ts, truth{ID: "audio/" + name, Kind: "audio", Text: text})
		return nil
	}
	for i := 0; i < nDigits; i++ {
		words := make([]string, 3+rng.IntN(4))
		for j := range words {
			words[j] = digitWords[rng.IntN(10)]
		}
		if err := say(fmt.Sprintf("digits-%02d.wav", i), strings.Join(words, " ")); err != nil {
			return nil, err
		}
	}
	for i := 0; i < nSentences; i++ {
		if err := say(fmt.Sprintf("sentence-%02d.wav", i), sentences[i%len(sentences)]); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

func prompts(out, path string, rng *rand.Rand, n int) ([]truth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w (install fortunes)", err)
	}
	defer f.Close()
	var all []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() == "%" {
			if s := strings.Join(strings.Fields(cur.String()), " "); len(s) > 20 && len(s) < 200 {
				all = append(all, s)
			}
			cur.Reset()
			continue
		}
		cur.WriteString(sc.Text() + " ")
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%s: no fortunes found", path)
	}
	var ts []truth
	for i := 0; i < n; i++ {
		s := all[rng.IntN(len(all))]
		// A prompt is the fortune's first words: the model continues it.
		words := strings.Fields(s)
		if len(words) > 6 {
			words = words[:6]
		}
		name := fmt.Sprintf("prompt-%02d.txt", i)
		if err := os.WriteFile(filepath.Join(out, "text", name), []byte(strings.Join(words, " ")+"\n"), 0o644); err != nil {
			return nil, err
		}
		ts = append(ts, truth{ID: "text/" + name, Kind: "text", Text: strings.Join(words, " ")})
	}
	return ts, nil
}
