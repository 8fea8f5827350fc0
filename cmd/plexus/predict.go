package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/vision/models"
)

// predictInput is one INPUT of `plexus predict`: a tensor file (.npy, safetensors) is
// read as tensors, anything else (image, audio, text) as bytes for the model to decode.
type predictInput struct {
	Name    string // NAME of NAME=FILE, "" otherwise
	Path    string
	Data    []byte
	Tensors map[string]*tensor.Tensor // from a tensor file; one entry for .npy
}

// predictItem is the answer for one item: an input file, or one row of a tensor batch.
type predictItem struct {
	Input  string        `json:"input"`
	Top    []scoredLabel `json:"top,omitempty"`
	Text   string        `json:"text,omitempty"`
	Err    error         `json:"-"`
	ErrMsg string        `json:"error,omitempty"`
}

type scoredLabel struct {
	Label string  `json:"label"`
	Index int     `json:"index"`
	Score float64 `json:"score"`
}

// rawOutput is a named raw output: row-major data with its shape.
type rawOutput struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

// predictResult is what a predictor returns: items for the readable form and the raw
// outputs (under the reference implementation's names) for --raw.
type predictResult struct {
	Items []predictItem
	Raw   map[string]rawOutput
}

type predictOptions struct {
	TopK   int
	Limits media.Limits
	// Opts are the --opt KEY=VALUE settings, already checked against the family's
	// options.
	Opts map[string]string
}

// predictor runs one model for `plexus predict`. A bad item (a corrupt image, a
// wrong-shape tensor) is reported in its predictItem, never as Predict's error.
type predictor interface {
	Predict(ctx context.Context, in []predictInput, opt predictOptions) (*predictResult, error)
	Close() error
}

// predictFamily opens the models of one family; accepts says whether --model names one.
type predictFamily struct {
	accepts func(model string) bool
	names   []string
	open    func(model, weights, config string) (predictor, error)
	// options are the --opt keys the family reads, with what each means.
	options map[string]string
}

// predictModels is the registry of model kinds predict knows. Each family registers
// itself from an init function in its own file (vision here; nlp and speech theirs).
var predictModels []predictFamily

func registerPredictModels(f predictFamily) { predictModels = append(predictModels, f) }

func predictModelNames() []string {
	var out []string
	for _, f := range predictModels {
		out = append(out, f.names...)
	}
	sort.Strings(out)
	return out
}

func init() {
	registerPredictModels(predictFamily{
		accepts: func(m string) bool {
			return m == "resnet" || m == "inception" || slices.Contains(models.Architectures(), m)
		},
		names: append([]string{"inception"}, models.Architectures()...),
		open: func(model, w, c string) (predictor, error) {
			m, err := models.Open(w, c, model)
			if err != nil {
				return nil, err
			}
			for _, w := range m.Warnings {
				fmt.Fprintln(os.Stderr, "plexus: warning:", w)
			}
			return &visionPredictor{m: m}, nil
		},
	})

	var (
		model, weightsPath, configPath string
		raw                            bool
		topK                           int
		maxPixels                      int64
		opts                           []string
	)
	cmd := &cobra.Command{
		Use:   "predict --model M --weights W [--config C] INPUT...",
		Short: "Run one model on image, audio, text or tensor files and print its outputs",
		Long: `Run one model on its inputs and print the result: the top-k labels of a classifier,
or with --raw one JSON object {"outputs": {"NAME": {"shape": [...], "data": [...]}}} with the
model's raw outputs (logits, not probabilities) under the names the reference
implementation uses.

An INPUT is an image, audio or text file, a tensor file (.npy, safetensors) fed as it is
with its first dimension as the batch, or NAME=FILE.npy for a model with several inputs.
The config is --config, else NAME.json or config.json beside the weights. A bad input
(corrupt image, image over --max-pixels, wrong-shape tensor) fails alone: the others are
still predicted, and the exit status is 1.`,
		Example: "  plexus predict --model resnet --weights models/fashion-resnet.safetensors shirt.png\n" +
			"  plexus predict --raw --model resnet50 --weights resnet50.safetensors cat.jpg\n" +
			"  plexus predict --model inception_v3 --weights inception.safetensors --config inception.json batch.npy",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if weightsPath == "" {
				return errors.New("--weights is required")
			}
			var fam *predictFamily
			for i := range predictModels {
				if predictModels[i].accepts(model) {
					fam = &predictModels[i]
					break
				}
			}
			if fam == nil {
				return fmt.Errorf("--model %q: known models are %s", model, strings.Join(predictModelNames(), ", "))
			}
			// A repeated flag's slice outlives one Execute (tests run several).
			defer func() { opts = nil }()
			set, err := parsePredictOpts(opts, fam, model)
			if err != nil {
				return err
			}
			inputs, err := readPredictInputs(args)
			if err != nil {
				return err
			}
			p, err := fam.open(model, weightsPath, configPath)
			if err != nil {
				return err
			}
			defer p.Close()
			lim := media.DefaultLimits()
			if maxPixels > 0 {
				lim.MaxPixels = maxPixels
			}
			res, err := p.Predict(cmd.Context(), inputs, predictOptions{TopK: topK, Limits: lim, Opts: set})
			if err != nil {
				return err
			}
			return printPrediction(cmd.OutOrStdout(), cmd.ErrOrStderr(), res, raw)
		},
	}
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "model kind or architecture (resnet, resnet50, inception_v3, …)")
	f.StringVar(&weightsPath, "weights", "", "weights file (safetensors or PyTorch .pth)")
	f.StringVar(&configPath, "config", "", "model config.json (default: beside the weights)")
	f.BoolVar(&raw, "raw", false, "print the raw outputs as one JSON object")
	f.IntVar(&topK, "top", 5, "labels shown per input")
	f.Int64Var(&maxPixels, "max-pixels", 0, "largest image accepted, width × height (default: core/media's limit)")
	f.StringArrayVar(&opts, "opt", nil, "a model setting KEY=VALUE, repeatable (recognisers: decoder, beam_width, lm, lm_weight, word_bonus, chunk_seconds, overlap_seconds)")
	cmd.MarkFlagRequired("model")
	rootCmd.AddCommand(cmd)
}

// parsePredictOpts checks each --opt against the keys the model's family reads, so a
// misspelt setting is an error rather than silently ignored.
func parsePredictOpts(opts []string, fam *predictFamily, model string) (map[string]string, error) {
	set := map[string]string{}
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--opt %q: expected KEY=VALUE", o)
		}
		if _, known := fam.options[k]; !known {
			keys := slices.Sorted(maps.Keys(fam.options))
			if len(keys) == 0 {
				return nil, fmt.Errorf("--opt %s: model %s takes no settings", k, model)
			}
			return nil, fmt.Errorf("--opt %s: model %s reads %s", k, model, strings.Join(keys, ", "))
		}
		set[k] = v
	}
	return set, nil
}

func readPredictInputs(args []string) ([]predictInput, error) {
	var out []predictInput
	for _, a := range args {
		in := predictInput{Path: a}
		if name, file, ok := strings.Cut(a, "="); ok && name != "" && !strings.ContainsAny(name, `/\`) {
			if _, err := os.Stat(a); err != nil { // a file may have "=" in its name
				in.Name, in.Path = name, file
			}
		}
		switch strings.ToLower(filepath.Ext(in.Path)) {
		case ".npy":
			t, err := tensor.LoadNpy(in.Path)
			if err != nil {
				return nil, fmt.Errorf("input %s: %w", in.Path, err)
			}
			in.Tensors = map[string]*tensor.Tensor{in.Name: t}
		case ".safetensors":
			st, err := weights.OpenSafetensors(in.Path)
			if err != nil {
				return nil, fmt.Errorf("input %s: %w", in.Path, err)
			}
			in.Tensors = map[string]*tensor.Tensor{}
			for _, n := range st.Names() {
				t, _ := st.Get(n)
				in.Tensors[n] = t.Clone()
			}
			st.Close()
		default:
			b, err := os.ReadFile(in.Path)
			if err != nil {
				return nil, fmt.Errorf("input: %w", err)
			}
			in.Data = b
		}
		out = append(out, in)
	}
	return out, nil
}

func printPrediction(stdout, stderr io.Writer, res *predictResult, raw bool) error {
	failed := 0
	for _, it := range res.Items {
		if it.Err != nil {
			failed++
			var ie *models.InputError
			if errors.As(it.Err, &ie) {
				fmt.Fprintf(stderr, "plexus: %v\n", it.Err) // it names the input
			} else {
				fmt.Fprintf(stderr, "plexus: %s: %v\n", it.Input, it.Err)
			}
		}
	}
	if raw {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(struct {
			Outputs map[string]rawOutput `json:"outputs"`
		}{res.Raw}); err != nil {
			return err
		}
	} else {
		for _, it := range res.Items {
			if it.Err != nil {
				continue
			}
			if it.Text != "" {
				fmt.Fprintf(stdout, "%s: %s\n", it.Input, it.Text)
				continue
			}
			fmt.Fprintf(stdout, "%s:\n", it.Input)
			for _, s := range it.Top {
				fmt.Fprintf(stdout, "  %6.2f%%  %s (%d)\n", 100*s.Score, s.Label, s.Index)
			}
		}
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d inputs failed", failed, len(res.Items))}
	}
	return nil
}

// visionPredictor runs a vision classifier: images are decoded and transformed into one
// batch, tensor files are fed as they are (N×C×H×W, or C×H×W for one image).
type visionPredictor struct{ m *models.Model }

func (v *visionPredictor) Close() error { return v.m.Close() }

func (v *visionPredictor) Predict(ctx context.Context, in []predictInput, opt predictOptions) (*predictResult, error) {
	c, s := v.m.Channels(), v.m.Size()
	// Every image input goes through the network in one batch; tensor files run as the
	// batches they are. Rows are then reported in input order.
	type rows struct {
		logits, feats nn.Act
		err           error
	}
	per := make([]rows, len(in))
	var data [][]byte
	var names []string
	var which []int
	for i, p := range in {
		if p.Tensors == nil {
			data, names, which = append(data, p.Data), append(names, p.Path), append(which, i)
		}
	}
	if len(data) > 0 {
		x, ok, errs := v.m.Batch(data, names, opt.Limits)
		for j, err := range errs {
			per[which[j]].err = err
		}
		if len(ok) > 0 {
			l, f, err := v.m.Run(nn.NewArena(0), x, len(ok), s, s)
			if err != nil {
				return nil, err
			}
			k, d := l.Dim(1), f.Dim(1)
			for r, j := range ok {
				per[which[j]] = rows{logits: nn.NewAct(l.Data[r*k:(r+1)*k], 1, k), feats: nn.NewAct(f.Data[r*d:(r+1)*d], 1, d)}
			}
		}
	}
	for i, p := range in {
		if p.Tensors == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(p.Tensors) != 1 {
			per[i].err = fmt.Errorf("%w: %d tensors in the file; the model takes one input", models.ErrInput, len(p.Tensors))
			continue
		}
		var t *tensor.Tensor
		for _, only := range p.Tensors {
			t = only
		}
		shape := t.Shape()
		if len(shape) == 3 {
			shape = append([]int{1}, shape...)
		}
		if len(shape) != 4 || shape[1] != c {
			per[i].err = fmt.Errorf("%w: tensor shape %v, the model takes N×%d×H×W", models.ErrInput, t.Shape(), c)
			continue
		}
		l, f, err := v.m.Run(nn.NewArena(0), t.ToFloat32().Contiguous().Float32s(), shape[0], shape[2], shape[3])
		per[i] = rows{logits: l, feats: f, err: err}
	}
	res := &predictResult{Raw: map[string]rawOutput{}}
	var logits, feats []float32
	n, k, d := 0, len(v.m.Labels), 0
	for i, p := range in {
		r := per[i]
		if r.err != nil {
			res.Items = append(res.Items, predictItem{Input: p.Path, Err: r.err})
			continue
		}
		b := r.logits.Dim(0)
		k, d = r.logits.Dim(1), r.feats.Dim(1)
		logits = append(logits, r.logits.Data...)
		feats = append(feats, r.feats.Data...)
		for j := 0; j < b; j++ {
			it := predictItem{Input: p.Path}
			if p.Tensors != nil {
				it.Input = fmt.Sprintf("%s[%d]", p.Path, j)
			}
			for _, sc := range v.m.TopK(r.logits.Data[j*k:(j+1)*k], opt.TopK) {
				it.Top = append(it.Top, scoredLabel{Label: sc.Label, Index: sc.Index, Score: sc.Score})
			}
			res.Items = append(res.Items, it)
		}
		n += b
	}
	for i, x := range logits {
		if math.IsNaN(float64(x)) {
			return nil, fmt.Errorf("logit %d is NaN", i)
		}
	}
	res.Raw["logits"] = rawOutput{Shape: []int{n, k}, Data: nonNil(logits)}
	res.Raw["features"] = rawOutput{Shape: []int{n, d}, Data: nonNil(feats)}
	return res, nil
}

func nonNil(x []float32) []float32 {
	if x == nil {
		return []float32{}
	}
	return x
}
