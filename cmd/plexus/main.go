// Command plexus runs, validates and benchmarks multi-modal ML pipelines whose stages are
// model plugins in separate processes. Each subcommand lives in its own file and adds
// itself to rootCmd from an init function.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

var rootCmd = &cobra.Command{
	Use:   "plexus",
	Short: "Multi-modal ML pipelines with out-of-process model plugins",
	Long: `plexus loads pipelines declared in YAML and streams text, image and audio
datasets through stages: model plugins that run as separate processes (text, vision,
speech) and in-process builtins, all sharing one tensor layer and one device scheduler.`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

// exitError carries a process exit status through cobra without printing twice.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	err := rootCmd.Execute()
	if err == nil {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(os.Stderr, "plexus:", msg)
	}
	os.Exit(code)
}
