package inception

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"architecture": "inception_v3", "num_classes": 1000, "transform_input": true, "aux_logits": true}`))
	if err != nil || !c.TransformInput || c.InputSize != 299 || c.ResizeSize != 342 {
		t.Fatalf("%+v, %v", c, err)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"architecture": "resnet50", "num_classes": 3}`, "not inception_v3"},
		{`{"num_classes": 0}`, "num_classes"},
		{`{"num_classes": 2, "input_size": 32}`, "input_size"},
	} {
		if _, err := ParseConfig([]byte(tc.json)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.json, err, tc.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "inception_v3_small.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"num_classes": 5, "mean": [1], "std": [2]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		if c.NumClasses < 1 || len(c.Mean) != 3 || c.InputSize < MinSize {
			t.Fatalf("accepted %+v", c)
		}
	})
}
