package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/hashicorp/go-hclog"
	"github.com/plexusml/plexus/core/config"
	"github.com/plexusml/plexus/core/plugin"
	"github.com/spf13/cobra"
)

// engineConfig is the engine configuration file (--config); "" reads none.
var engineConfig string

// pluginHost returns a Host searching plugins.path from the engine configuration:
// the file, then PLEXUS_PLUGINS_PATH, then --plugins-path.
func pluginHost(cmd *cobra.Command) (*plugin.Host, error) {
	cfg, err := config.Load(engineConfig, os.Environ(), cmd.Flags())
	if err != nil {
		return nil, err
	}
	if cmd.Parent() == pluginsCmd && cmd.Name() == "list" {
		for _, d := range cfg.Plugins.Path {
			if _, err := os.Stat(d); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "plexus: note: plugins directory %s: %v\n", d, err)
			}
		}
	}
	return plugin.NewHost(plugin.HostOptions{Dirs: cfg.Plugins.Path,
		Logger: hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: os.Stderr, Level: hclog.Warn})}), nil
}

var pluginsCmd = &cobra.Command{
	Use:   "plugins",
	Short: "List the model plugins plexus finds and describe what they offer",
	Long: `Plugins are executables found, in order, in the directories of plugins.path (engine
config file, PLEXUS_PLUGINS_PATH, --plugins-path), then on PATH. An executable named
plexus-plugin-NAME is plugin NAME.`,
}

var pluginsListCmd = &cobra.Command{
	Use:   "list",
	Short: "List discovered plugins",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		h, err := pluginHost(cmd)
		if err != nil {
			return err
		}
		defer h.Close()
		found, err := h.Discover()
		if err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "plexus: warning:", err)
		}
		if len(found) == 0 {
			fmt.Fprintln(cmd.OutOrStdout(), "no plugins found (searched plugins.path and plexus-plugin-* on PATH)")
			return nil
		}
		tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSOURCE\tPATH")
		for _, f := range found {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Name, f.Source, f.Path)
		}
		return tw.Flush()
	},
}

var describeJSON bool

var pluginsDescribeCmd = &cobra.Command{
	Use:   "describe NAME",
	Short: "Start a plugin and print its models, tasks, contracts, config schema and resources",
	Args:  cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		h, err := pluginHost(cmd)
		if err != nil {
			return err
		}
		defer h.Close()
		d, err := h.Describe(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		if describeJSON {
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(d)
		}
		writeDescription(cmd.OutOrStdout(), d)
		return nil
	},
}

func writeDescription(w io.Writer, d *plugin.Description) {
	caps := strings.Join(d.Capabilities, ", ")
	if caps == "" {
		caps = "none"
	}
	fmt.Fprintf(w, "%s %s (protocol v%d; capabilities: %s)\n", d.Name, d.Version, d.Protocol, caps)
	for _, m := range d.Models {
		fmt.Fprintf(w, "\nmodel %s", m.Name)
		if m.Description != "" {
			fmt.Fprintf(w, " — %s", m.Description)
		}
		fmt.Fprintln(w)
		devs := strings.Join(m.Resources.Devices, "|")
		if devs == "" {
			devs = "any"
		}
		batch := "unlimited"
		if m.MaxBatch > 0 {
			batch = fmt.Sprint(m.MaxBatch)
		}
		fmt.Fprintf(w, "  resources: device %s, memory %s, max batch %s\n", devs, bytesString(m.Resources.Memory), batch)
		if len(m.Config) > 0 {
			fmt.Fprintln(w, "  config:")
			for _, c := range m.Config {
				extra := ""
				if c.Required {
					extra += " required"
				}
				if c.Default != nil {
					b, _ := json.Marshal(c.Default)
					extra += " default " + string(b)
				}
				if len(c.Enum) > 0 {
					extra += " one of " + strings.Join(c.Enum, "|")
				}
				fmt.Fprintf(w, "    %s: %s%s", c.Name, c.Type, extra)
				if c.Description != "" {
					fmt.Fprintf(w, " — %s", c.Description)
				}
				fmt.Fprintln(w)
			}
		}
		for _, t := range m.Tasks {
			fmt.Fprintf(w, "  task %s", t.Name)
			if t.Description != "" {
				fmt.Fprintf(w, " — %s", t.Description)
			}
			fmt.Fprintln(w)
			writeContract(w, "in ", t.Input)
			writeContract(w, "out", t.Output)
		}
	}
}

func writeContract(w io.Writer, dir string, c plugin.Contract) {
	mods := strings.Join(c.Modalities, "|")
	if mods == "" {
		mods = "any modality"
	}
	fmt.Fprintf(w, "    %s: %s\n", dir, mods)
	for _, f := range c.Fields {
		typ := f.Kind
		if f.Kind == "tensor" {
			dt := f.DType
			if dt == "" {
				dt = "any"
			}
			typ = fmt.Sprintf("tensor %s[%s]", dt, strings.Join(f.Shape, ", "))
		}
		opt := ""
		if f.Optional {
			opt = " (optional)"
		}
		fmt.Fprintf(w, "         %s: %s%s", f.Name, typ, opt)
		if f.Description != "" {
			fmt.Fprintf(w, " — %s", f.Description)
		}
		fmt.Fprintln(w)
	}
}

func bytesString(n int64) string {
	switch {
	case n <= 0:
		return "unspecified"
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%.0fMiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%dB", n)
}

func init() {
	pluginsCmd.PersistentFlags().StringVar(&engineConfig, "config", "", "engine configuration file (plugins.path)")
	config.RegisterFlags(pluginsCmd.PersistentFlags())
	pluginsDescribeCmd.Flags().BoolVar(&describeJSON, "json", false, "print the description as JSON")
	pluginsCmd.AddCommand(pluginsListCmd, pluginsDescribeCmd)
	rootCmd.AddCommand(pluginsCmd)
}
