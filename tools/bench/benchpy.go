// Package benchpy embeds the PyTorch side of every `plexus bench` suite, so the plexus
// binary carries the scripts it compares itself with.
package benchpy

import "embed"

// FS holds one NAME.py per suite.
//
//go:embed *.py
var FS embed.FS

// Script returns the text of NAME.py.
func Script(name string) string {
	b, err := FS.ReadFile(name + ".py")
	if err != nil {
		panic("benchpy: no script " + name + ".py")
	}
	return string(b)
}
