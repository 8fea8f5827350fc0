package ctc

import (
	"math"
	"strings"
)

// EditDistance is the Levenshtein distance between two sequences: the fewest
// substitutions, insertions and deletions that turn ref into hyp.
func EditDistance[T comparable](ref, hyp []T) int {
	prev := make([]int, len(hyp)+1)
	cur := make([]int, len(hyp)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ref); i++ {
		cur[0] = i
		for j := 1; j <= len(hyp); j++ {
			sub := prev[j-1]
			if ref[i-1] != hyp[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(hyp)]
}

// WordErrors returns the word edit distance between a reference and a hypothesis and
// the reference's word count; words are split at white space, compared exactly (fold
// case first if it should not count).
func WordErrors(ref, hyp string) (edits, words int) {
	r, h := strings.Fields(ref), strings.Fields(hyp)
	return EditDistance(r, h), len(r)
}

// CharErrors returns the character edit distance and the reference's character count,
// white space runs counting as one space and the ends trimmed.
func CharErrors(ref, hyp string) (edits, chars int) {
	r := []rune(strings.Join(strings.Fields(ref), " "))
	h := []rune(strings.Join(strings.Fields(hyp), " "))
	return EditDistance(r, h), len(r)
}

// WER is the word error rate of a corpus: total word edits over total reference words.
// refs and hyps pair up by index (a missing hypothesis is empty); with no reference
// words it is 0 for empty hypotheses and +Inf otherwise.
func WER(refs, hyps []string) float64 {
	return rate(refs, hyps, WordErrors)
}

// CER is the character error rate of a corpus, as WER over characters.
func CER(refs, hyps []string) float64 {
	return rate(refs, hyps, CharErrors)
}

func rate(refs, hyps []string, f func(string, string) (int, int)) float64 {
	var e, n int
	for i, r := range refs {
		var h string
		if i < len(hyps) {
			h = hyps[i]
		}
		de, dn := f(r, h)
		e += de
		n += dn
	}
	if n == 0 {
		if e > 0 {
			return math.Inf(1)
		}
		return 0
	}
	return float64(e) / float64(n)
}
