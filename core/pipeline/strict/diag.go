// Package strict decodes YAML documents into Go structs with no leniency: unknown keys,
// wrong types and bad values each become a FILE:LINE:COL diagnostic, all reported at once.
// The pipeline loader and the engine config share it, so overrides (--set, PLEXUS_*) and
// file errors read the same way in both.
package strict

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Diagnostic is one problem found in a file, or in an override (a --set flag or an
// environment variable), in which case Line is 0 and File names the override itself.
type Diagnostic struct {
	File      string
	Line, Col int
	Msg       string
}

// String renders "file:line:col: msg", or "origin: msg" for overrides.
func (d Diagnostic) String() string {
	if d.Line <= 0 {
		if d.File == "" {
			return d.Msg
		}
		return d.File + ": " + d.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", d.File, d.Line, d.Col, d.Msg)
}

// Diagnostics is a sorted list of problems; it is the error a strict load returns.
type Diagnostics []Diagnostic

// Error joins every diagnostic, one a line, so a caller that only prints the error
// still shows all problems.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Sort orders by file, line, column and message and drops exact duplicates, which
// arise when two checks reach the same conclusion about one node.
func (ds Diagnostics) Sort() Diagnostics {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col), cmp.Compare(a.Msg, b.Msg))
	})
	return slices.Compact(ds)
}

// Err returns nil for an empty list, so callers can `return x, ds.Err()`.
func (ds Diagnostics) Err() error {
	if len(ds) == 0 {
		return nil
	}
	return ds.Sort()
}

// Suggest returns the candidate closest to word, or "" when none is close enough to be
// a plausible misspelling. A candidate contained in the word (or the reverse) counts as
// close, which catches "batchsize" for "batch".
func Suggest(word string, candidates []string) string {
	best, bestDist := "", 1<<30
	lw := strings.ToLower(word)
	for _, c := range candidates {
		d := editDistance(lw, strings.ToLower(c))
		lc := strings.ToLower(c)
		// A distance as long as either word means nothing was kept: no suggestion.
		near := d <= max(1, len(word)/3) && d < len(word) && d < len(c)
		if len(c) >= 3 && len(word) >= 3 && (strings.Contains(lw, lc) || strings.Contains(lc, lw)) ||
			commonPrefix(lw, lc) >= 4 {
			near = true
		}
		if near && d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// DidYouMean formats a suggestion suffix, or "" without one.
func DidYouMean(word string, candidates []string) string {
	if s := Suggest(word, candidates); s != "" && s != word {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// editDistance is the optimal-string-alignment distance: a swap of two neighbouring
// letters, the commonest typo, costs one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
