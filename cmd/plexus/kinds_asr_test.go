package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	asrtrain "github.com/plexusml/plexus/speech/asr/train"
)

// TestASRTrainKind: the speech.ctc kind is registered and runs the shipped config's
// parser, reporting its errors with the file's name.
func TestASRTrainKind(t *testing.T) {
	run, ok := trainKinds[asrtrain.Kind]
	if !ok {
		t.Fatalf("kind %s is not registered", asrtrain.Kind)
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "configs", "train", "speech-ctc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The shipped config with a missing corpus: parsing succeeds, loading fails.
	dir := t.TempDir()
	y := strings.Replace(string(b), "out/train-asr", filepath.Join(dir, "out"), 1)
	y = strings.Replace(y, "data/asr2/train.jsonl", filepath.Join(dir, "none.jsonl"), 1)
	var log bytes.Buffer
	err = run(context.Background(), "speech-ctc.yaml", []byte(y), &log)
	if err == nil || !strings.Contains(err.Error(), "none.jsonl") {
		t.Fatalf("error %v", err)
	}
	err = run(context.Background(), "bad.yaml", []byte("kind: speech.ctc\noutput: o\n"), &log)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:1: data.train") {
		t.Fatalf("error %v", err)
	}
}
