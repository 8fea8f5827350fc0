package lstm

import (
	"fmt"
	"math"

	"github.com/plexusml/plexus/core/nn"
)

// logSoftmaxAt returns log softmax(z)[k].
func logSoftmaxAt(z []float32, k int) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v))
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v) - m)
	}
	return float64(z[k]) - m - math.Log(s)
}

// StreamLoss is the summed negative log-likelihood, in nats, of ids[1:] given what
// precedes each token, read as one long text cut into streams equal parts that run
// side by side (a batch), each from a zero state, chunk steps at a time with the state
// carried. It returns the loss and the number of tokens scored. With streams = 1 it is
// the exact loss of the whole text; more streams trade a little context at each cut
// for speed. It is how training measures held-out bits per character.
func (m *Model) StreamLoss(ids []int, streams, chunk int) (float64, int, error) {
	if streams < 1 || chunk < 1 {
		return 0, 0, fmt.Errorf("lstm: streams %d, chunk %d", streams, chunk)
	}
	per := (len(ids) - 1) / streams
	if per < 1 {
		return 0, 0, fmt.Errorf("lstm: %d tokens cannot fill %d streams", len(ids), streams)
	}
	st := m.NewState(streams)
	a := nn.NewArena(0)
	x := make([]int64, streams*chunk)
	v := m.FC.Out
	var loss float64
	n := 0
	for s := 0; s < per; s += chunk {
		steps := min(chunk, per-s)
		for b := 0; b < streams; b++ {
			for t := 0; t < steps; t++ {
				x[b*steps+t] = int64(ids[b*per+s+t])
			}
		}
		a.Reset()
		logits, err := m.Forward(a, x[:streams*steps], streams, steps, st)
		if err != nil {
			return 0, 0, err
		}
		for b := 0; b < streams; b++ {
			for t := 0; t < steps; t++ {
				z := logits.Data[(b*steps+t)*v : (b*steps+t+1)*v]
				loss -= logSoftmaxAt(z, ids[b*per+s+t+1])
				n++
			}
		}
	}
	return loss, n, nil
}
