package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/plexusml/plexus/core/sched"
	"github.com/spf13/cobra"
)

// loadSimDevices reads the devices of a simulation file (configs/sim-*.yaml); sizes are
// written like pipeline sizes ("80GiB").
func loadSimDevices(path string) ([]sched.SimDevice, error) {
	c, err := sched.LoadSimConfig(path)
	if err != nil {
		return nil, err
	}
	return c.Devices, nil
}

func newDevicesCmd() *cobra.Command {
	var (
		simPath string
		only    bool
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "devices",
		Short: "Print the device inventory: the CPU, NVIDIA GPUs and simulated devices",
		Long: `devices lists where model instances can run: the CPU (cores, memory) always, NVIDIA
GPUs when a driver is present (read through nvidia-smi, no cgo), and simulated devices from
a --devices file, which the scheduler treats like real ones for capacity planning.`,
		Example: `  plexus devices
  plexus devices --devices configs/sim-2gpu.yaml --only-simulated --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := sched.InventoryOptions{OnlySimulated: only}
			if simPath != "" {
				sims, err := loadSimDevices(simPath)
				if err != nil {
					return err
				}
				o.Simulated = sims
			}
			devs, err := sched.Inventory(cmd.Context(), o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(devs)
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tNAME\tMEMORY\tFREE\tCORES\tUTIL\tSPEED")
			for _, d := range devs {
				util := "-"
				if d.Kind == sched.GPU && !d.Simulated {
					util = fmt.Sprintf("%.0f%%", 100*d.Utilisation)
				}
				cores := "-"
				if d.Cores > 0 {
					cores = fmt.Sprint(d.Cores)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%g\n", d.ID, d.Kind, d.Name,
					sched.FormatBytes(d.Memory), sched.FormatBytes(d.Free), cores, util, d.Speed)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&simPath, "devices", "", "YAML file of simulated devices (name, kind, memory, speed)")
	cmd.Flags().BoolVar(&only, "only-simulated", false, "list only the simulated devices")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func init() { rootCmd.AddCommand(newDevicesCmd()) }
