package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/plexusml/plexus/vision/train"
)

// trainFunc runs one training config: file is its path (for messages), data its bytes.
// It checkpoints into the config's output folder and resumes from it by itself.
type trainFunc func(ctx context.Context, file string, data []byte, log io.Writer) error

// trainKinds maps a config's `kind:` to its trainer. Each model family registers its
// kinds from an init function in its own file (train_nlp.go, train_speech.go, …).
var trainKinds = map[string]trainFunc{}

func registerTrainKind(kind string, f trainFunc) {
	if _, dup := trainKinds[kind]; dup {
		panic("plexus: training kind " + kind + " registered twice")
	}
	trainKinds[kind] = f
}

func trainKindNames() []string {
	names := make([]string, 0, len(trainKinds))
	for k := range trainKinds {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// evalFunc measures trained weights on the test set a training config names.
type evalFunc func(file string, data []byte, weights string) (string, error)

// evalKinds are the training kinds that can evaluate (`plexus train --eval W CONFIG`).
var evalKinds = map[string]evalFunc{}

func init() {
	evalKinds[train.Kind] = func(file string, data []byte, w string) (string, error) {
		cfg, err := train.ParseConfig(file, data)
		if err != nil {
			return "", err
		}
		acc, err := train.Evaluate(cfg, w)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s: test accuracy %.2f%% on %s", w, 100*acc, cfg.Data.TestImages), nil
	}
	registerTrainKind(train.Kind, func(ctx context.Context, file string, data []byte, log io.Writer) error {
		cfg, err := train.ParseConfig(file, data)
		if err != nil {
			return err
		}
		_, err = train.Run(ctx, cfg, log)
		return err
	})
	var evalWeights string
	cmd := &cobra.Command{
		Use:   "train CONFIG",
		Short: "Train a model from a YAML config (kind: vision.resnet, …); checkpoints and resumes",
		Long: `Train a model from a YAML config. The config's kind: picks the trainer; the rest
(dataset, hyper-parameters, output folder) is the trainer's own and is decoded strictly.
Checkpoints (safetensors with config.json beside them) go to the output folder every few
steps and at each epoch's end; running the same command again resumes from the last one.
Ctrl-C writes a checkpoint before exiting. With --eval WEIGHTS it trains nothing and
measures those weights on the config's test set instead.`,
		Example: "  plexus train configs/train/fashion-resnet.yaml\n  plexus train --eval models/fashion-resnet.safetensors configs/train/fashion-resnet.yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			var head struct {
				Kind string `yaml:"kind"`
			}
			if err := yaml.Unmarshal(data, &head); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			if evalWeights != "" {
				eval, ok := evalKinds[head.Kind]
				if !ok {
					return fmt.Errorf("%s: kind %q cannot evaluate weights", file, head.Kind)
				}
				line, err := eval(file, data, evalWeights)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), line)
				return nil
			}
			run, ok := trainKinds[head.Kind]
			if !ok {
				return fmt.Errorf("%s: kind %q is not a training kind (known: %s)", file, head.Kind, strings.Join(trainKindNames(), ", "))
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return run(ctx, file, data, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&evalWeights, "eval", "", "evaluate these weights on the config's test set instead of training")
	rootCmd.AddCommand(cmd)
}
