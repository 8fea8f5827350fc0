package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/plexusml/plexus/core/pipeline"
)

// loadPipeline loads one pipeline file for a command. Diagnostics are printed to w,
// one a line, and turned into an exit status 1 whose message only counts them, so
// nothing is printed twice.
func loadPipeline(w io.Writer, file string, sets []string) (*pipeline.Pipeline, error) {
	p, err := pipeline.Load(file, pipeline.LoadOptions{Sets: sets})
	var ds pipeline.Diagnostics
	switch {
	case errors.As(err, &ds):
		for _, d := range ds {
			fmt.Fprintln(w, d)
		}
		noun := "problems"
		if len(ds) == 1 {
			noun = "problem"
		}
		return nil, &exitError{code: 1, err: fmt.Errorf("%s: %d %s", file, len(ds), noun)}
	case err != nil:
		return nil, &exitError{code: 1, err: err}
	}
	return p, nil
}

func newValidateCmd() *cobra.Command {
	var sets []string
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check pipeline files and report every problem as FILE:LINE:COL: message",
		Long: `validate loads each pipeline as run would (the file, then --set overrides, with
${VAR} and ${VAR:-default} taken from the environment), decodes it strictly and checks
it: unknown keys (with a suggestion), wrong types, duplicate stage names, after:, input:
and from: naming unknown stages, dependency cycles, bad durations and sizes, and when:
expressions that do not parse. Every problem is printed, sorted, as FILE:LINE:COL:
message (or "--set KEY=VALUE: message" for an override); the exit status is 1 when
there is any. The pipeline format is described in docs/pipeline.md.`,
		Example: `  plexus validate pipelines/mixed-demo.yaml
  plexus validate pipelines/*.yaml
  plexus validate --set stages.classify.batch.max=32 pipelines/mixed-demo.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var failed []error
			for _, file := range args {
				p, err := loadPipeline(cmd.ErrOrStderr(), file, sets)
				if err != nil {
					failed = append(failed, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d stages, %d sinks)\n", file, len(p.Stages), len(p.Sinks))
			}
			switch len(failed) {
			case 0:
				return nil
			case 1:
				return failed[0]
			}
			return &exitError{code: 1, err: fmt.Errorf("%d of %d files have problems", len(failed), len(args))}
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a key after loading, such as stages.NAME.batch.max=8 (repeatable)")
	return cmd
}

func init() { rootCmd.AddCommand(newValidateCmd()) }
