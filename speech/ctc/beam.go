package ctc

import (
	"math"
	"slices"
	"unicode/utf8"
)

var negInf = math.Inf(-1)

// A prefix beam search over a trie of transcripts. Each node is one transcript prefix
// in normal form: separators only between words, at most one pending at the end (a
// separator at the start or after another one writes nothing, so those paths are
// merged with the prefix they leave unchanged). For each node in the beam it keeps
//   - pb, pnb: the log of the summed probabilities of the paths that produce the prefix
//     and end in a blank / in a label (the CTC prefix recursion);
//   - vb, vnb and their alignments: the single best such path (a Viterbi recursion
//     beside the sum), whose frames give the word timestamps.
// The language model and word bonus depend on the prefix's text alone, so they are a
// per-node constant (lm) added when ranking, not folded into the path sums.

// alignRec is one finished label of an alignment, linked to the one before it;
// alignments share their common beginnings.
type alignRec struct {
	label      int32
	start, end int32
	lp         float64
	prev       *alignRec
}

// pathState is a Viterbi path: its log probability, its finished labels, and when it
// ends in a label, that open label's start and log probability so far.
type pathState struct {
	v         float64
	rec       *alignRec
	headLabel int32
	headStart int32
	headLP    float64
}

type node struct {
	parent   *node
	label    int32 // the last label of the prefix; -1 for the empty prefix
	sepEnd   bool  // the prefix ends with a pending separator
	children []*node
	id       int32
	ctx      string  // LM context: the last N-1 symbols of the committed text
	lm       float64 // LMWeight·log P_LM(committed text) + WordBonus·words

	// This frame's state and the next frame's accumulators (valid when stamp is the
	// next frame's index).
	pb, pnb float64
	b, nb   pathState
	stamp   int
	npb     float64
	npnb    float64
	nb0     pathState // next b
	nb1     pathState // next nb
	closed  *alignRec // nb's alignment with its head finished at this frame, built once
	closedT int
}

// beamSearch is the state of one Decode call.
type beamSearch struct {
	d       *Decoder
	c       int
	nodes   int32
	lmCache map[string][]float64
	touched []*node
	keys    []rankKey
	slab    []node
}

func (d *Decoder) beam(lp []float64, frames int) Result {
	s := &beamSearch{d: d, c: len(d.labels), lmCache: map[string][]float64{}}
	root := &node{label: -1, id: 0}
	if d.opt.LM != nil {
		root.ctx = d.opt.LM.contextKey("")
	}
	root.pb, root.pnb = 0, negInf
	root.b = pathState{v: 0}
	root.nb = pathState{v: negInf}
	root.stamp = -1
	beam := []*node{root}
	minLP := d.opt.TokenMinLogProb
	if minLP == 0 {
		minLP = negInf
	}
	for t := 0; t < frames; t++ {
		row := lp[t*s.c : (t+1)*s.c]
		s.touched = s.touched[:0]
		for _, n := range beam {
			s.step(n, t, row, minLP)
		}
		// Rank by pointer-free keys: sorting pointers would pay a GC write barrier
		// per swap. Only the best BeamWidth need ordering.
		keys := s.keys[:0]
		for i, n := range s.touched {
			n.pb, n.pnb, n.b, n.nb = n.npb, n.npnb, n.nb0, n.nb1
			if sc := logAdd(n.pb, n.pnb) + n.lm; !math.IsInf(sc, -1) {
				keys = append(keys, rankKey{score: sc, id: n.id, i: int32(i)})
			}
		}
		k := min(d.opt.BeamWidth, len(keys))
		selectTop(keys, k)
		slices.SortFunc(keys[:k], rankKey.cmp)
		beam = beam[:0]
		for _, key := range keys[:k] {
			beam = append(beam, s.touched[key.i])
		}
		s.keys = keys
	}
	return s.finish(beam, frames)
}

// rankKey orders beam candidates: higher score first, then the older node.
type rankKey struct {
	score float64
	id    int32
	i     int32 // index in touched
}

func (a rankKey) cmp(b rankKey) int {
	switch {
	case a.score > b.score:
		return -1
	case a.score < b.score:
		return 1
	}
	return int(a.id - b.id)
}

// selectTop moves the k best keys to the front, in no particular order (Hoare's
// quickselect with a median-of-three pivot).
func selectTop(keys []rankKey, k int) {
	lo, hi := 0, len(keys)-1
	for lo < hi && k > 0 && k < len(keys) {
		mid := lo + (hi-lo)/2
		if keys[mid].cmp(keys[lo]) < 0 {
			keys[mid], keys[lo] = keys[lo], keys[mid]
		}
		if keys[hi].cmp(keys[lo]) < 0 {
			keys[hi], keys[lo] = keys[lo], keys[hi]
		}
		if keys[hi].cmp(keys[mid]) < 0 {
			keys[hi], keys[mid] = keys[mid], keys[hi]
		}
		p := keys[mid]
		i, j := lo, hi
		for i <= j {
			for keys[i].cmp(p) < 0 {
				i++
			}
			for keys[j].cmp(p) > 0 {
				j--
			}
			if i <= j {
				keys[i], keys[j] = keys[j], keys[i]
				i++
				j--
			}
		}
		// Now keys[lo..j] <= p <= keys[i..hi] in rank order.
		switch {
		case k-1 <= j:
			hi = j
		case k-1 >= i:
			lo = i
		default:
			return
		}
	}
}

// target readies n to receive contributions for frame t.
func (s *beamSearch) target(n *node, t int) *node {
	if n.stamp != t {
		n.stamp = t
		n.npb, n.npnb = negInf, negInf
		n.nb0 = pathState{v: negInf}
		n.nb1 = pathState{v: negInf}
		s.touched = append(s.touched, n)
	}
	return n
}

// closedNB returns n's best label-ending path with its open label finished at frame t.
func (n *node) closedNB(t int) *alignRec {
	if n.closed == nil || n.closedT != t {
		n.closed = &alignRec{label: n.nb.headLabel, start: n.nb.headStart, end: int32(t), lp: n.nb.headLP, prev: n.nb.rec}
		n.closedT = t
	}
	return n.closed
}

// offer keeps cand as x's path when it is better.
func offer(x *pathState, cand pathState) {
	if cand.v > x.v {
		*x = cand
	}
}

// step spreads node n's paths over frame t's labels.
func (s *beamSearch) step(n *node, t int, row []float64, minLP float64) {
	both := logAdd(n.pb, n.pnb)
	// A blank keeps the prefix; a label-ending path finishes its label here.
	blank := row[0]
	tn := s.target(n, t)
	tn.npb = logAdd(tn.npb, both+blank)
	offer(&tn.nb0, pathState{v: n.b.v + blank, rec: n.b.rec})
	if !math.IsInf(n.nb.v, -1) {
		offer(&tn.nb0, pathState{v: n.nb.v + blank, rec: n.closedNB(t)})
	}
	for c := 1; c < s.c; c++ {
		p := row[c]
		if p < minLP {
			continue
		}
		l := int32(c)
		sep := s.d.isSep[c]
		if sep && (n.label < 0 || n.sepEnd) {
			// A separator that writes nothing: the prefix stays. After a label-ending
			// path it repeats that separator; after a blank it starts another one.
			tn := s.target(n, t)
			tn.npnb = logAdd(tn.npnb, both+p)
			if !math.IsInf(n.nb.v, -1) {
				h := n.nb
				h.v += p
				h.headLP += p
				offer(&tn.nb1, h)
			}
			offer(&tn.nb1, pathState{v: n.b.v + p, rec: n.b.rec, headLabel: l, headStart: int32(t), headLP: p})
			continue
		}
		child := s.target(s.child(n, l), t)
		fresh := pathState{v: n.b.v + p, rec: n.b.rec, headLabel: l, headStart: int32(t), headLP: p}
		if l == n.label {
			// The same label again is a new one only after a blank; straight after
			// itself it is the same label held for one more frame.
			child.npnb = logAdd(child.npnb, n.pb+p)
			offer(&child.nb1, fresh)
			tn.npnb = logAdd(tn.npnb, n.pnb+p)
			if !math.IsInf(n.nb.v, -1) {
				h := n.nb
				h.v += p
				h.headLP += p
				offer(&tn.nb1, h)
			}
			continue
		}
		child.npnb = logAdd(child.npnb, both+p)
		offer(&child.nb1, fresh)
		if !math.IsInf(n.nb.v, -1) {
			offer(&child.nb1, pathState{v: n.nb.v + p, rec: n.closedNB(t), headLabel: l, headStart: int32(t), headLP: p})
		}
	}
}

// child returns n's child for label l, creating it (and scoring its text) once.
func (s *beamSearch) child(n *node, l int32) *node {
	for _, ch := range n.children {
		if ch.label == l {
			return ch
		}
	}
	s.nodes++
	if len(s.slab) == 0 {
		s.slab = make([]node, 256) // nodes live as long as the search: allocate in bulk
	}
	ch := &s.slab[0]
	s.slab = s.slab[1:]
	*ch = node{parent: n, label: l, id: s.nodes, ctx: n.ctx, lm: n.lm, stamp: -1}
	ch.b, ch.nb = pathState{v: negInf}, pathState{v: negInf}
	ch.pb, ch.pnb = negInf, negInf
	if s.d.isSep[l] {
		ch.sepEnd = true // scored with the next word, so a trailing one costs nothing
	} else {
		if n.label < 0 || n.sepEnd {
			ch.lm += s.d.opt.WordBonus
		}
		if lm := s.d.opt.LM; lm != nil && s.d.opt.LMWeight != 0 {
			var lp float64
			if n.sepEnd {
				lp += s.lmStep(&ch.ctx, ' ')
			}
			for _, r := range s.d.lmSyms[l] {
				lp += s.lmStep(&ch.ctx, r)
			}
			ch.lm += s.d.opt.LMWeight * lp
		}
	}
	n.children = append(n.children, ch)
	return ch
}

// lmStep returns log P(r | *ctx) and moves *ctx on by r (a symbol the LM does not
// know, such as a space for an LM trained on single words, counts as UNK).
func (s *beamSearch) lmStep(ctx *string, r rune) float64 {
	lm := s.d.opt.LM
	i, ok := lm.index[r]
	if !ok {
		r, i = UNK, lm.index[UNK]
	}
	lp := s.lmLogProbs(*ctx)[i]
	if lm.order > 1 {
		_, size := utf8.DecodeRuneInString(*ctx)
		*ctx = (*ctx)[size:] + string(r)
	}
	return lp
}

func (s *beamSearch) lmLogProbs(ctx string) []float64 {
	p, ok := s.lmCache[ctx]
	if !ok {
		p = s.d.opt.LM.logProbs(ctx)
		s.lmCache[ctx] = p
	}
	return p
}

// finish scores the surviving prefixes as whole transcripts (a pending separator
// dropped, the sentence end scored by the LM) and returns the best with its alignment.
func (s *beamSearch) finish(beam []*node, frames int) Result {
	type final struct {
		n     *node // the transcript's node, without a pending separator
		score float64
		best  pathState
	}
	var finals []*final
	byNode := map[*node]*final{}
	for _, n := range beam {
		key := n
		if n.sepEnd {
			key = n.parent
		}
		f := byNode[key]
		if f == nil {
			f = &final{n: key, score: negInf, best: pathState{v: negInf}}
			byNode[key] = f
			finals = append(finals, f)
		}
		f.score = logAdd(f.score, logAdd(n.pb, n.pnb))
		offer(&f.best, n.b)
		if !math.IsInf(n.nb.v, -1) {
			offer(&f.best, pathState{v: n.nb.v, rec: n.closedNB(frames)})
		}
	}
	var best *final
	for _, f := range finals {
		f.score += f.n.lm
		if lm := s.d.opt.LM; lm != nil && s.d.opt.LMWeight != 0 {
			f.score += s.d.opt.LMWeight * s.lmLogProbs(f.n.ctx)[lm.index[EOS]]
		}
		if best == nil || f.score > best.score || f.score == best.score && f.n.id < best.n.id {
			best = f
		}
	}
	r := Result{Score: best.score}
	for a := best.best.rec; a != nil; a = a.prev {
		r.Tokens = append(r.Tokens, Token{Label: int(a.label), Start: int(a.start), End: int(a.end), LogProb: a.lp})
	}
	slices.Reverse(r.Tokens)
	return r
}
