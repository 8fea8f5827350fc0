package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
)

func newConvertCmd() *cobra.Command {
	var (
		prefixes []string
		dtype    string
	)
	cmd := &cobra.Command{
		Use:   "convert IN OUT.safetensors",
		Short: "Convert a PyTorch checkpoint (.pth, .pt, pytorch_model.bin) or safetensors file to safetensors",
		Long: `Convert reads a PyTorch checkpoint written by torch.save (zip or the legacy format;
a state dict, a {"state_dict": ...} or {"model": ...} wrapper, or a pickled nn.Module),
a safetensors file, a shard index (*.index.json) or a Hugging Face model directory, and
writes one safetensors file. The format is told from the content, not the extension.
Nothing in the checkpoint is executed. A config.json beside IN (or in the directory) is
copied beside OUT; an existing, different one there is kept.`,
		Example: `  plexus convert resnet18.pth models/resnet18.safetensors
  plexus convert bert/pytorch_model.bin bert.safetensors --prefix-strip bert.
  plexus convert model.pt model-f32.safetensors --dtype float32
  plexus convert ./bert-base-uncased/ bert.safetensors`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := weights.ConvertOptions{StripPrefix: prefixes, CopyConfig: true}
			if dtype != "" {
				dt, err := tensor.ParseDType(dtype)
				if err != nil {
					return fmt.Errorf("--dtype: %w", err)
				}
				opts.DType = dt
			}
			sum, err := weights.Convert(args[0], args[1], opts)
			if err != nil {
				return err
			}
			if sum.ConfigNote != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "plexus: note:", sum.ConfigNote)
			}
			fmt.Fprintln(cmd.OutOrStdout(), sum)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&prefixes, "prefix-strip", nil, "remove this prefix from tensor names (repeatable)")
	cmd.Flags().StringVar(&dtype, "dtype", "", "convert floating-point tensors to float32, float16 or bfloat16")
	return cmd
}

func init() { rootCmd.AddCommand(newConvertCmd()) }
