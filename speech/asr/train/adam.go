package train

import (
	"fmt"
	"math"
)

// Adam is torch.optim.Adam without weight decay, with its moments kept here so that a
// checkpoint can resume them; LR is set before every step by the schedule.
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	// ClipNorm, when positive, scales the whole gradient down to this L2 norm first.
	ClipNorm float64
	Step     int
	M, V     [][]float32
}

// Update applies one step to the parameters from their gradients, then clears the
// gradients (the tape machine adds each run's gradient into them). It returns the
// gradient norm before clipping.
func (a *Adam) Update(ps *params, grads [][]float32) (float64, error) {
	if a.M == nil {
		for _, p := range ps.list {
			a.M = append(a.M, make([]float32, len(p.data)))
			a.V = append(a.V, make([]float32, len(p.data)))
		}
	}
	if len(a.M) != len(ps.list) || len(grads) != len(ps.list) {
		return 0, fmt.Errorf("adam: state for %d parameters, %d gradients, model has %d", len(a.M), len(grads), len(ps.list))
	}
	var norm float64
	for _, g := range grads {
		for _, v := range g {
			norm += float64(v) * float64(v)
		}
	}
	norm = math.Sqrt(norm)
	scale := float32(1)
	if a.ClipNorm > 0 && norm > a.ClipNorm {
		scale = float32(a.ClipNorm / norm)
	}
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		// Skip the step rather than poison the moments; the caller sees the norm.
		for _, g := range grads {
			clear(g)
		}
		return norm, nil
	}
	a.Step++
	b1, b2 := float32(a.Beta1), float32(a.Beta2)
	c1 := 1 - math.Pow(a.Beta1, float64(a.Step))
	c2 := 1 - math.Pow(a.Beta2, float64(a.Step))
	lr := float32(a.LR / c1)
	sc2 := float32(1 / math.Sqrt(c2))
	eps := float32(a.Eps)
	for i, p := range ps.list {
		m, v, g := a.M[i], a.V[i], grads[i]
		for j, w := range p.data {
			gj := g[j] * scale
			m[j] = b1*m[j] + (1-b1)*gj
			v[j] = b2*v[j] + (1-b2)*gj*gj
			p.data[j] = w - lr*m[j]/(float32(math.Sqrt(float64(v[j])))*sc2+eps)
		}
		clear(g)
	}
	return norm, nil
}
