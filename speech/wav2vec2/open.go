package wav2vec2

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/plexusml/plexus/core/nn/weights"
)

// ConfigPath finds a model's config.json: explicit when given, else NAME.json beside
// the weights, else config.json beside them.
func ConfigPath(weightsPath, explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	base := strings.TrimSuffix(weightsPath, filepath.Ext(weightsPath)) + ".json"
	for _, p := range []string{base, filepath.Join(filepath.Dir(weightsPath), "config.json")} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("wav2vec2 %s: no config (tried %s and config.json beside it)", weightsPath, base)
}

// Open loads a weights file (safetensors, or a PyTorch .pth such as
// torch.save(bundle.get_model().state_dict(), "w.pth")) with its config.json (found by
// ConfigPath when configPath is ""). The parameters are copied, so the file is closed
// on return. Unknown config keys are ignored; ReadConfig reports them.
func Open(weightsPath, configPath string) (*Model, error) {
	p, err := ConfigPath(weightsPath, configPath)
	if err != nil {
		return nil, err
	}
	cfg, _, err := ReadConfig(p)
	if err != nil {
		return nil, err
	}
	st, err := weights.Open(weightsPath)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	m, err := New(st, cfg, weights.CopyData())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", weightsPath, err)
	}
	return m, nil
}
