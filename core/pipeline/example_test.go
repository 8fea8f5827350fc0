package pipeline_test

import (
	"fmt"

	"github.com/plexusml/plexus/core/pipeline"
)

func ExampleParse() {
	src := []byte(`version: 1
source: {path: "${DATA:-data/demo/items}"}
stages:
  - {name: asr, plugin: speech, model: asr-ctc, when: audio}
  - {name: lm, plugin: nlp, model: lstm-lm, input: [asr.text, text]}
sinks: [{jsonl: out/results.jsonl}]
`)
	p, err := pipeline.Parse("demo.yaml", src, pipeline.LoadOptions{
		Sets:   []string{"stages.lm.batch.max=8"},
		Getenv: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Name, p.Source.Path, p.Stages[1].Batch.Max, p.Deps(1))
	// Output: demo data/demo/items 8 [0]
}

func ExampleParse_diagnostics() {
	src := []byte(`version: 1
source: {path: data}
stages:
  - name: classify
    plugin: vision
    batchsize: 16
sinks: [{jsonl: out.jsonl}]
`)
	_, err := pipeline.Parse("demo.yaml", src, pipeline.LoadOptions{})
	fmt.Println(err)
	// Output: demo.yaml:6:5: unknown key "batchsize" (did you mean "batch"?)
}

type item struct{ fields map[string]any }

func (item) Modality() string { return "audio" }
func (i item) Field(name string) (any, bool) {
	v, ok := i.fields[name]
	return v, ok
}

func ExampleParseWhen() {
	e, err := pipeline.ParseWhen(`audio and duration < 30 and lang in ["en", "de"]`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.Match(item{map[string]any{"duration": 12.5, "lang": "en"}}))
	fmt.Println(e.Match(item{map[string]any{"duration": "45", "lang": "en"}}))
	// Output:
	// true
	// false
}
