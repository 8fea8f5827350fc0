package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/plexusml/plexus/core/config"
	"github.com/plexusml/plexus/core/engine"
	"github.com/plexusml/plexus/core/pipeline"
	"github.com/plexusml/plexus/core/plugin"
	"github.com/plexusml/plexus/core/sched"
)

// loadPipeline loads one pipeline file for a command. Diagnostics are printed to w,
// one a line, and turned into an exit status 1 whose message only counts them, so
// nothing is printed twice.
func loadPipeline(w io.Writer, file string, sets []string) (*pipeline.Pipeline, error) {
	p, err := pipeline.Load(file, pipeline.LoadOptions{Sets: sets})
	var ds pipeline.Diagnostics
	switch {
	case errors.As(err, &ds):
		return nil, reportDiagnostics(w, file, ds)
	case err != nil:
		return nil, &exitError{code: 1, err: err}
	}
	return p, nil
}

// checker adds the checks that need this machine to a loaded pipeline: placement on
// its devices (with the engine config's simulated ones) and each plugin stage against
// its plugin's own description, when the plugin is installed.
type checker struct {
	devs  []sched.Device
	host  *plugin.Host
	found map[string]bool
	descs map[string]*plugin.Description
}

func newChecker(ctx context.Context, cmd *cobra.Command) (*checker, error) {
	cfg, err := config.Load(engineConfig, os.Environ(), cmd.Flags())
	if err != nil {
		return nil, &exitError{code: 1, err: err}
	}
	devs, err := sched.Inventory(ctx, sched.InventoryOptions{Simulated: cfg.SimDevices()})
	if err != nil {
		return nil, &exitError{code: 1, err: fmt.Errorf("device inventory: %w", err)}
	}
	c := &checker{devs: devs, found: map[string]bool{}, descs: map[string]*plugin.Description{},
		host: plugin.NewHost(plugin.HostOptions{Dirs: cfg.Plugins.Path,
			Logger: hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: cmd.ErrOrStderr(), Level: hclog.Warn})})}
	found, err := c.host.Discover()
	if err != nil {
		fmt.Fprintln(cmd.ErrOrStderr(), "plexus: warning:", err)
	}
	for _, f := range found {
		c.found[f.Name] = true
	}
	return c, nil
}

// check returns p's placement and plugin-contract diagnostics, and the stages whose
// plugin is not installed here ("classify (vision)"): those are a warning, not a
// failure, since validate also runs where a pipeline is written, not only where it runs.
func (c *checker) check(ctx context.Context, p *pipeline.Pipeline) (ds pipeline.Diagnostics, unchecked []string) {
	ds = sched.CheckPlacement(p, c.devs)
	for i := range p.Stages {
		st := &p.Stages[i]
		if st.Plugin == "" {
			continue
		}
		if !c.found[st.Plugin] {
			unchecked = append(unchecked, fmt.Sprintf("%s (%s)", st.Name, st.Plugin))
			continue
		}
		d, ok := c.descs[st.Plugin]
		if !ok {
			var err error
			if d, err = c.host.Describe(ctx, st.Plugin); err != nil {
				ds = append(ds, p.At("stages."+st.Name+".plugin", "plugin %s: %v", st.Plugin, err))
			}
			c.descs[st.Plugin] = d
		}
		if d == nil {
			continue
		}
		spec := plugin.StageSpec{Model: st.Model, Task: st.Task, Config: st.Config}
		// As a run does: an omitted model or task is the plugin's only one, and the
		// stage's weights: reach a model that takes them.
		if spec.Model == "" && len(d.Models) == 1 {
			spec.Model = d.Models[0].Name
		}
		if m, ok := d.FindModel(spec.Model); ok {
			if spec.Task == "" && len(m.Tasks) == 1 {
				spec.Task = m.Tasks[0].Name
			}
			spec.Config = engine.StageConfig(st, m)
		}
		for _, err := range plugin.CheckStage(d, spec) {
			key, msg := "", err.Error()
			var fe *plugin.FieldError
			if errors.As(err, &fe) {
				key, msg = fe.Path, fe.Msg
			}
			at := "stages." + st.Name
			if key != "" {
				at += "." + key
			}
			ds = append(ds, p.At(at, "stage %s: %s", st.Name, msg))
		}
	}
	return ds.Sort(), unchecked
}

// close stops the plugin processes Describe started.
func (c *checker) close() { c.host.Close() }

func newValidateCmd() *cobra.Command {
	var sets []string
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check pipeline files and report every problem as FILE:LINE:COL: message",
		Long: `validate loads each pipeline as run would (the file, then --set overrides, with
${VAR} and ${VAR:-default} taken from the environment), decodes it strictly and checks
it: unknown keys (with a suggestion), wrong types, duplicate stage names, after:, input:
and from: naming unknown stages, dependency cycles, bad durations and sizes, and when:
expressions that do not parse. It then checks the pipeline against this machine: every
stage's instances must fit on its devices (the CPU, the GPUs nvidia-smi finds and the
simulated devices of the engine config, --config), and each plugin stage's model, task
and config must match what its plugin describes; a plugin that is not installed is
warned about, not failed. Every problem is printed, sorted, as FILE:LINE:COL: message
(or "--set KEY=VALUE: message" for an override); the exit status is 1 when there is
any. The pipeline format is described in docs/pipeline.md.`,
		Example: `  plexus validate pipelines/mixed-demo.yaml
  plexus validate pipelines/*.yaml
  plexus validate --config configs/sim-2gpu.yaml pipelines/mixed-demo.yaml
  plexus validate --set stages.classify.batch.max=32 pipelines/mixed-demo.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			var chk *checker
			var failed []error
			for _, file := range args {
				p, err := loadPipeline(cmd.ErrOrStderr(), file, sets)
				if err != nil {
					failed = append(failed, err)
					continue
				}
				if chk == nil {
					if chk, err = newChecker(ctx, cmd); err != nil {
						return err
					}
					defer chk.close()
				}
				ds, unchecked := chk.check(ctx, p)
				if err := reportDiagnostics(cmd.ErrOrStderr(), file, ds); err != nil {
					failed = append(failed, err)
					continue
				}
				// The warning is part of the verdict, on the same line, so a script that
				// reads "ok" also sees what "ok" did not cover.
				note := ""
				if len(unchecked) > 0 {
					note = "; warning: plugins not installed here, so these stages were not checked against them: " + strings.Join(unchecked, ", ")
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d stages, %d sinks)%s\n", file, len(p.Stages), len(p.Sinks), note)
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
	cmd.Flags().StringVar(&engineConfig, "config", "", "engine configuration file: plugins.path and the simulated devices placement may use")
	return cmd
}

// reportDiagnostics prints ds to w, one a line, and returns the exit error that counts
// them, or nil when there are none.
func reportDiagnostics(w io.Writer, file string, ds pipeline.Diagnostics) error {
	if len(ds) == 0 {
		return nil
	}
	for _, d := range ds {
		fmt.Fprintln(w, d)
	}
	noun := "problems"
	if len(ds) == 1 {
		noun = "problem"
	}
	return &exitError{code: 1, err: fmt.Errorf("%s: %d %s", file, len(ds), noun)}
}

func init() { rootCmd.AddCommand(newValidateCmd()) }
