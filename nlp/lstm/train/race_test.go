//go:build race

package train

// raceEnabled shrinks the shipped model's held-out sample: the race detector makes its
// scalar loops tens of times slower, and the check is about the weights, not races.
const raceEnabled = true
