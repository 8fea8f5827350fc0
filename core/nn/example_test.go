package nn_test

import (
	"fmt"
	"log"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
)

// MLP is torch.nn.Sequential(Linear(4, 8), ReLU(), Linear(8, 3)), loaded by the
// Sequential's state-dict names fc1.* and fc2.*.
type MLP struct {
	fc1, fc2 *nn.Linear
}

// NewMLP builds the model from a Binder and reports every weights problem at once.
func NewMLP(b *weights.Binder) (*MLP, error) {
	m := &MLP{
		fc1: nn.NewLinear(b, "fc1", nn.LinearConfig{Activation: nn.ReLU}),
		fc2: nn.NewLinear(b, "fc2", nn.LinearConfig{}),
	}
	return m, b.Err()
}

// Forward maps batch×4 inputs to batch×3 logits in arena memory.
func (m *MLP) Forward(a *nn.Arena, x nn.Act) nn.Act {
	return m.fc2.Forward(a, m.fc1.Forward(a, x))
}

// Example loads a two-layer MLP that PyTorch saved as safetensors and runs it the way
// every plexus model runs: one arena, reset per pass, no allocation once it is sized.
func Example() {
	st, err := weights.Open("testdata/mlp.safetensors")
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close() // the layers share the file's memory: close after the last pass
	m, err := NewMLP(weights.NewBinder(st))
	if err != nil {
		log.Fatal(err)
	}
	a := nn.NewArena(0)
	for pass := 0; pass < 2; pass++ {
		a.Reset()
		x := a.Act(1, 4)
		copy(x.Data, []float32{0.5, -1, 2, 0.25})
		y := m.Forward(a, x)
		fmt.Printf("pass %d: %v %.4f\n", pass, y.Shape(), y.Data)
	}
	// Output:
	// pass 0: [1 3] [-0.4136 0.4255 -0.1675]
	// pass 1: [1 3] [-0.4136 0.4255 -0.1675]
}
