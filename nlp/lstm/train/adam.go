package train

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	gtensor "gorgonia.org/tensor"
)

// Adam is torch.optim.AdamW (Adam with decoupled weight decay, bias-corrected moments)
// with global gradient-norm clipping first, as torch.nn.utils.clip_grad_norm_ does it.
// gorgonia's AdamSolver is not used because its moments are private (a checkpoint
// could not resume them) and its learning rate is fixed at construction (no schedule).
type Adam struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	Clip                               float64 // max global L2 norm; 0 disables
	Decay                              []bool  // per parameter: whether weight decay applies
	// Step counts updates done; M and V are the moments, per parameter. They are the
	// state a checkpoint keeps.
	Step int
	M, V [][]float32
}

// Update applies one step to every parameter from its gradient, clears the gradients
// (gorgonia's tape adds each run's gradient into them) and returns the gradient norm
// before clipping.
func (a *Adam) Update(model []gorgonia.ValueGrad) (float64, error) {
	if a.M == nil {
		a.M, a.V = make([][]float32, len(model)), make([][]float32, len(model))
	}
	if len(a.M) != len(model) || len(a.Decay) != len(model) {
		return 0, fmt.Errorf("adam: state for %d parameters, model has %d", len(a.M), len(model))
	}
	ws, gs := make([][]float32, len(model)), make([][]float32, len(model))
	var sq float64
	for i, vg := range model {
		w, err := floats(vg.Value())
		if err != nil {
			return 0, fmt.Errorf("adam: parameter %d: %w", i, err)
		}
		gv, err := vg.Grad()
		if err != nil {
			return 0, fmt.Errorf("adam: parameter %d: %w", i, err)
		}
		g, err := floats(gv)
		if err != nil {
			return 0, fmt.Errorf("adam: gradient %d: %w", i, err)
		}
		if len(g) != len(w) {
			return 0, fmt.Errorf("adam: parameter %d has %d values, gradient %d", i, len(w), len(g))
		}
		ws[i], gs[i] = w, g
		for _, v := range g {
			sq += float64(v) * float64(v)
		}
	}
	norm := math.Sqrt(sq)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm, fmt.Errorf("adam: gradient norm is %g", norm)
	}
	scale := 1.0
	if a.Clip > 0 && norm > a.Clip {
		scale = a.Clip / (norm + 1e-6)
	}
	a.Step++
	b1, b2 := a.Beta1, a.Beta2
	bc1 := 1 - math.Pow(b1, float64(a.Step))
	bc2 := 1 - math.Pow(b2, float64(a.Step))
	stepSize := float32(a.LR / bc1)
	sqrtBC2 := float32(math.Sqrt(bc2))
	eps := float32(a.Eps)
	fb1, fb2, fs := float32(b1), float32(b2), float32(scale)
	for i := range ws {
		w, g := ws[i], gs[i]
		if a.M[i] == nil {
			a.M[i], a.V[i] = make([]float32, len(w)), make([]float32, len(w))
		}
		m, v := a.M[i], a.V[i]
		if a.Decay[i] && a.WeightDecay > 0 {
			d := float32(1 - a.LR*a.WeightDecay)
			for j := range w {
				w[j] *= d
			}
		}
		for j := range w {
			gj := g[j] * fs
			m[j] = fb1*m[j] + (1-fb1)*gj
			v[j] = fb2*v[j] + (1-fb2)*gj*gj
			w[j] -= stepSize * m[j] / (float32(math.Sqrt(float64(v[j])))/sqrtBC2 + eps)
		}
		clear(g)
	}
	return norm, nil
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

// scheduleLR is the learning rate at step (0-based) of total: linear warm-up to peak,
// then cosine decay to floor.
func scheduleLR(peak, floor float64, step, warmup, total int) float64 {
	if step < warmup {
		return peak * float64(step+1) / float64(warmup)
	}
	if total <= warmup {
		return peak
	}
	p := min(float64(step-warmup)/float64(total-warmup), 1)
	return floor + (peak-floor)*0.5*(1+math.Cos(math.Pi*p))
}
