package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// writeCLIReference writes the Markdown reference of every command, generated from the
// cobra tree so that docs/cli.md cannot drift from the binary (a test checks it).
func writeCLIReference(w io.Writer, root *cobra.Command) error {
	var b strings.Builder
	b.WriteString("# Command reference\n\nGenerated from the CLI itself by `plexus docs cli > docs/cli.md`; do not edit.\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		if c != root {
			fmt.Fprintf(&b, "\n## %s\n\n", c.CommandPath())
			if c.Long != "" {
				b.WriteString(strings.TrimSpace(c.Long) + "\n\n")
			} else if c.Short != "" {
				b.WriteString(c.Short + "\n\n")
			}
			if c.Runnable() {
				fmt.Fprintf(&b, "```\n%s\n```\n\n", c.UseLine())
			}
			if c.Example != "" {
				fmt.Fprintf(&b, "Examples:\n\n```\n%s\n```\n\n", strings.Trim(c.Example, "\n"))
			}
			var flags []*pflag.Flag
			c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
				if !f.Hidden && f.Name != "help" {
					flags = append(flags, f)
				}
			})
			if len(flags) > 0 {
				b.WriteString("| flag | default | meaning |\n|---|---|---|\n")
				for _, f := range flags {
					name := "--" + f.Name
					if f.Shorthand != "" {
						name = "-" + f.Shorthand + ", " + name
					}
					def := f.DefValue
					if def == "" || def == "[]" {
						def = " "
					} else {
						def = "`" + def + "`"
					}
					fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, def, strings.ReplaceAll(f.Usage, "|", "\\|"))
				}
				b.WriteString("\n")
			}
		}
		subs := c.Commands()
		sort.Slice(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
		for _, s := range subs {
			walk(s)
		}
	}
	walk(root)
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

func newDocsCmd() *cobra.Command {
	docs := &cobra.Command{
		Use:    "docs",
		Short:  "Generate reference documentation from the CLI",
		Hidden: true,
	}
	docs.AddCommand(&cobra.Command{
		Use:     "cli",
		Short:   "Print the Markdown command reference (docs/cli.md)",
		Example: "  plexus docs cli > docs/cli.md",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return writeCLIReference(cmd.OutOrStdout(), rootCmd)
		},
	})
	return docs
}

func init() { rootCmd.AddCommand(newDocsCmd()) }
