package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/plexusml/plexus/core/bench"
	"github.com/spf13/cobra"
)

func newBenchCmd() *cobra.Command {
	var (
		asJSON   bool
		markdown string
		o        bench.Options
	)
	cmd := &cobra.Command{
		Use:   "bench SUITE... | all",
		Short: "Measure plexus beside PyTorch on this machine and print ratios",
		Long: `bench runs benchmark suites and prints one table with the columns bench, config,
plexus, pytorch, unit and ratio (plexus ÷ pytorch, higher is better). PyTorch's figures come
from Debian's python3-torch in the same run at its best settings (all cores, OPENBLAS_*
overrides removed for that process); the column reads n/a when it is not installed.
Figures are medians of --runs timed runs after --warmup untimed ones.`,
		Example: `  plexus bench list
  plexus bench kernels
  plexus bench transport --json
  plexus bench all --markdown docs/BENCHMARKS.md`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && args[0] == "list" {
				for _, s := range bench.Suites() {
					fmt.Fprintf(cmd.OutOrStdout(), "%-12s %s\n", s.Name, s.Doc)
				}
				return nil
			}
			var run []bench.Suite
			for _, a := range args {
				if a == "all" {
					run = bench.Suites()
					break
				}
				s, ok := bench.Lookup(a)
				if !ok {
					var names []string
					for _, s := range bench.Suites() {
						names = append(names, s.Name)
					}
					return fmt.Errorf("no benchmark suite %q (have: %s, all)", a, strings.Join(names, ", "))
				}
				run = append(run, s)
			}
			var rows []bench.Row
			var failed []string
			for _, s := range run {
				fmt.Fprintf(cmd.ErrOrStderr(), "bench %s …\n", s.Name)
				r, err := s.Run(cmd.Context(), o)
				if err != nil {
					failed = append(failed, fmt.Sprintf("%s: %v", s.Name, err))
					continue
				}
				rows = append(rows, r...)
			}
			out := cmd.OutOrStdout()
			var err error
			if asJSON {
				err = bench.WriteJSON(out, rows)
			} else {
				err = bench.WriteTable(out, rows)
			}
			if err != nil {
				return err
			}
			if markdown != "" {
				if err := writeBenchMarkdown(markdown, args, rows); err != nil {
					return err
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("benchmarks failed:\n  %s", strings.Join(failed, "\n  "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the rows as a JSON array instead of a table")
	cmd.Flags().StringVar(&markdown, "markdown", "", "also write the rows as a Markdown page to this file")
	cmd.Flags().BoolVar(&o.Quick, "quick", false, "fewer sizes and runs (a smoke test, not a measurement)")
	cmd.Flags().IntVar(&o.Runs, "runs", 0, "timed runs per figure (default 5, 2 with --quick)")
	cmd.Flags().IntVar(&o.Warmup, "warmup", 0, "untimed warm-up runs per figure (default 1)")
	cmd.Flags().StringVar(&o.Python, "python", "/usr/bin/python3", "Python interpreter with torch")
	return cmd
}

func writeBenchMarkdown(path string, args []string, rows []bench.Row) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\nMeasured with `plexus bench %s` on %s.\n", strings.Join(args, " "), bench.Machine())
	b.WriteString("Ratio is plexus ÷ PyTorch in throughput units: above 1 means plexus is faster.\n\n")
	if err := bench.WriteMarkdown(&b, rows); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func init() { rootCmd.AddCommand(newBenchCmd()) }
