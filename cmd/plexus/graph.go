package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newGraphCmd() *cobra.Command {
	var (
		sets   []string
		format string
	)
	cmd := &cobra.Command{
		Use:   "graph FILE",
		Short: "Print a pipeline's stage graph as Graphviz DOT or Mermaid",
		Long: `graph validates the pipeline (as validate does) and prints its DAG: the source,
every stage with its plugin or builtin, task and when:, and the sinks. Solid edges are
after: ordering; dashed edges are dependencies implied by input: or when:. A stage with
no dependency is fed by the source; the sinks are fed by their from: stages, or by every
stage nothing else depends on.`,
		Example: `  plexus graph pipelines/mixed-demo.yaml | dot -Tsvg > mixed-demo.svg
  plexus graph --format mermaid pipelines/mixed-demo.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "dot" && format != "mermaid" {
				return fmt.Errorf("--format %q: want dot or mermaid", format)
			}
			p, err := loadPipeline(cmd.ErrOrStderr(), args[0], sets)
			if err != nil {
				return err
			}
			out := p.DOT()
			if format == "mermaid" {
				out = p.Mermaid()
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), out)
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "dot", "dot (Graphviz) or mermaid")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a key after loading, such as stages.NAME.when=audio (repeatable)")
	return cmd
}

func init() { rootCmd.AddCommand(newGraphCmd()) }
