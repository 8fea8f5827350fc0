package train

import (
	"math/rand/v2"

	"gorgonia.org/gorgonia"

	"github.com/plexusml/plexus/core/kernels/blas"
)

// Stepper runs training steps of a randomly initialised model on random tokens,
// exactly as Run does (forward, backward, Adam with clipping), for benchmarks.
type Stepper struct {
	nt  *net
	opt *Adam
	rng *rand.Rand
}

// NewStepper builds the unrolled graph for batch sequences of bptt tokens.
func NewStepper(vocab, emb, hidden, layers, batch, bptt int, dropout float64) (*Stepper, error) {
	gorgonia.Use(blas.Implementation{})
	rng := rand.New(rand.NewPCG(1, 2))
	nt, err := buildNet(vocab, emb, hidden, layers, batch, bptt, dropout, rand.New(rand.NewPCG(3, 4)), rng)
	if err != nil {
		return nil, err
	}
	opt := &Adam{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Clip: 1}
	for range nt.params {
		opt.Decay = append(opt.Decay, false)
	}
	return &Stepper{nt: nt, opt: opt, rng: rng}, nil
}

// Step trains on one random window and returns its mean loss in nats.
func (s *Stepper) Step() (float64, error) {
	for i := range s.nt.ids {
		s.nt.ids[i], s.nt.targets[i] = s.rng.IntN(s.nt.vocab), s.rng.IntN(s.nt.vocab)
	}
	loss, err := s.nt.step()
	if err != nil {
		return 0, err
	}
	if _, err := s.opt.Update(s.nt.valueGrads()); err != nil {
		return 0, err
	}
	return loss / float64(s.nt.batch*s.nt.steps), nil
}

// Tokens is the number of tokens one step trains on.
func (s *Stepper) Tokens() int { return s.nt.batch * s.nt.steps }
