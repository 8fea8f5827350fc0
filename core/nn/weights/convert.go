package weights

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/plexusml/plexus/core/tensor"
)

// ConvertOptions control Convert.
type ConvertOptions struct {
	// StripPrefix removes the first matching prefix from every name that has one.
	StripPrefix []string
	// DType converts every floating-point tensor to this float type; integer and
	// bool tensors are kept. tensor.Invalid keeps every dtype.
	DType tensor.DType
	// CopyConfig copies config.json from beside the input to beside the output.
	CopyConfig bool
}

// ConvertSummary describes what Convert wrote.
type ConvertSummary struct {
	Input, Output string
	Format        Format
	Tensors       int
	Params        int64  // elements over all tensors
	Bytes         int64  // size of the written file
	Config        string // config.json written beside Output, or ""
	ConfigNote    string // why a config was not copied, when one was found
}

func (s ConvertSummary) String() string {
	msg := fmt.Sprintf("%s -> %s: %d tensors, %d parameters (%s), %d bytes (%s)",
		s.Input, s.Output, s.Tensors, s.Params, humanCount(s.Params), s.Bytes, humanBytes(s.Bytes))
	if s.Config != "" {
		msg += ", config " + s.Config
	}
	return msg
}

// Convert reads any weights file Open reads and writes it as safetensors.
func Convert(in, out string, opts ConvertOptions) (ConvertSummary, error) {
	sum := ConvertSummary{Input: in, Output: out}
	if opts.DType != tensor.Invalid && !opts.DType.IsFloat() {
		return sum, fmt.Errorf("convert: target dtype %s is not a float type", opts.DType)
	}
	if abs(in) == abs(out) {
		return sum, fmt.Errorf("convert %s: input and output are the same file", in)
	}
	head := make([]byte, 16)
	if f, err := os.Open(in); err == nil {
		n, _ := io.ReadFull(f, head)
		f.Close()
		sum.Format = Sniff(head[:n])
	}
	s, err := Open(in)
	if err != nil {
		return sum, fmt.Errorf("convert: %w", err)
	}
	defer s.Close()
	tensors := make(map[string]*tensor.Tensor)
	from := make(map[string]string)
	for _, name := range s.Names() {
		t, _ := s.Get(name)
		newName := name
		for _, p := range opts.StripPrefix {
			if strings.HasPrefix(name, p) {
				newName = strings.TrimPrefix(name, p)
				break
			}
		}
		if newName == "" {
			return sum, fmt.Errorf("convert %s: stripping %v from %q leaves an empty name", in, opts.StripPrefix, name)
		}
		if prev, dup := from[newName]; dup {
			return sum, fmt.Errorf("convert %s: %q and %q both become %q after stripping the prefix", in, prev, name, newName)
		}
		from[newName] = name
		if opts.DType != tensor.Invalid && t.DType().IsFloat() && t.DType() != opts.DType {
			t = t.ConvertTo(opts.DType)
		}
		tensors[newName] = t
		sum.Params += int64(t.NumElems())
	}
	sum.Tensors = len(tensors)
	meta := map[string]string{"format": "pt"}
	if st, ok := s.(*Safetensors); ok {
		for k, v := range st.Metadata() {
			meta[k] = v
		}
	}
	if err := WriteSafetensors(out, tensors, meta); err != nil {
		return sum, fmt.Errorf("convert: %w", err)
	}
	if fi, err := os.Stat(out); err == nil {
		sum.Bytes = fi.Size()
	}
	if opts.CopyConfig {
		sum.Config, sum.ConfigNote, err = copyConfig(in, out)
		if err != nil {
			return sum, fmt.Errorf("convert: %w", err)
		}
	}
	return sum, nil
}

// copyConfig copies config.json from beside in to beside out. An existing, different
// config beside out is kept, and the note says so: it may have been edited by hand.
func copyConfig(in, out string) (written, note string, err error) {
	srcDir := filepath.Dir(in)
	if fi, err := os.Stat(in); err == nil && fi.IsDir() { // a Hugging Face model directory
		srcDir = in
	}
	src := filepath.Join(srcDir, "config.json")
	dst := filepath.Join(filepath.Dir(out), "config.json")
	data, err := os.ReadFile(src)
	if os.IsNotExist(err) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("read config: %w", err)
	}
	if abs(src) == abs(dst) {
		return "", "", nil
	}
	if old, err := os.ReadFile(dst); err == nil {
		if bytes.Equal(old, data) {
			return dst, "", nil
		}
		return "", fmt.Sprintf("%s exists and differs from %s; kept it", dst, src), nil
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		return "", "", fmt.Errorf("write config: %w", err)
	}
	return dst, "", nil
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
