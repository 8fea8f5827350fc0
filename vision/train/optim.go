package train

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	gtensor "gorgonia.org/tensor"
)

// SGD is stochastic gradient descent with (Nesterov) momentum and decoupled-from-norms
// weight decay, as torch.optim.SGD computes it. It is a gorgonia.Solver. gorgonia's own
// Momentum solver is not used because its state is private (a checkpoint could not
// resume it), its learning rate is fixed at construction (no schedule), and in v0.9.18
// its L2 term is taken from the velocity instead of the weights.
type SGD struct {
	LR          float64
	Momentum    float64
	Nesterov    bool
	WeightDecay float64
	Decay       []bool      // per parameter, in Step's order: whether weight decay applies
	Velocity    [][]float32 // per parameter; the optimizer state a checkpoint keeps
}

// Step applies one update to every parameter from its gradient.
func (s *SGD) Step(model []gorgonia.ValueGrad) error {
	if s.Velocity == nil {
		s.Velocity = make([][]float32, len(model))
	}
	if len(s.Velocity) != len(model) || len(s.Decay) != len(model) {
		return fmt.Errorf("sgd: state for %d parameters, model has %d", len(s.Velocity), len(model))
	}
	lr, mom := float32(s.LR), float32(s.Momentum)
	for i, vg := range model {
		w, err := floats(vg.Value())
		if err != nil {
			return fmt.Errorf("sgd: parameter %d: %w", i, err)
		}
		gv, err := vg.Grad()
		if err != nil {
			return fmt.Errorf("sgd: parameter %d: %w", i, err)
		}
		g, err := floats(gv)
		if err != nil {
			return fmt.Errorf("sgd: gradient %d: %w", i, err)
		}
		if len(g) != len(w) {
			return fmt.Errorf("sgd: parameter %d has %d values, gradient %d", i, len(w), len(g))
		}
		if s.Velocity[i] == nil {
			s.Velocity[i] = make([]float32, len(w))
		}
		v := s.Velocity[i]
		var wd float32
		if s.Decay[i] {
			wd = float32(s.WeightDecay)
		}
		for j := range w {
			d := g[j] + wd*w[j]
			v[j] = mom*v[j] + d
			if s.Nesterov {
				d += mom * v[j]
			} else {
				d = v[j]
			}
			w[j] -= lr * d
		}
		// gorgonia's tape machine adds each run's gradient into the dual value, so a
		// solver clears it after use, as gorgonia's own solvers do.
		clear(g)
	}
	return nil
}

func floats(v gorgonia.Value) ([]float32, error) {
	d, ok := v.(*gtensor.Dense)
	if !ok {
		return nil, fmt.Errorf("value is %T, want a dense tensor", v)
	}
	f, ok := d.Data().([]float32)
	if !ok {
		return nil, fmt.Errorf("value is %v, want float32", d.Dtype())
	}
	return f, nil
}

// scheduleLR is the learning rate at step (0-based) of total: a linear warm-up to peak,
// then a cosine decay to zero, which reaches good accuracy in few epochs.
func scheduleLR(peak float64, step, warmup, total int) float64 {
	if step < warmup {
		return peak * float64(step+1) / float64(warmup)
	}
	if total <= warmup {
		return peak
	}
	p := float64(step-warmup) / float64(total-warmup)
	return peak * 0.5 * (1 + math.Cos(math.Pi*min(p, 1)))
}

var _ gorgonia.Solver = (*SGD)(nil)
