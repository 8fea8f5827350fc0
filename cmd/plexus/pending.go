package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// pendingCmd is a command whose capability has not landed yet. Its help says so and it
// fails when run, rather than pretending to work.
func pendingCmd(use, short, example, issue string) *cobra.Command {
	return &cobra.Command{
		Use:     use,
		Short:   short + " (not available yet)",
		Long:    short + ".\n\nNot available yet: " + issue + " adds it. Running it now exits with an error.",
		Example: example,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fmt.Errorf("%s is not available yet (%s)", cmd.Name(), issue)
		},
	}
}

func init() {
	rootCmd.AddCommand(
		pendingCmd("predict --model M --weights W [--config C] INPUT...",
			"Run one model on image, audio, text or tensor files and print its outputs",
			"  plexus predict --model resnet --weights models/fashion-resnet.safetensors shirt.png\n  plexus predict --raw --model bert --weights bert.safetensors sentence.txt",
			"the vision issue (#6)"),
		pendingCmd("train CONFIG",
			"Train a model from a YAML config (kind: vision.resnet, nlp.lstm, speech.wavenet, speech.ctc); checkpoints and resumes",
			"  plexus train configs/train/fashion-resnet.yaml",
			"the vision issue (#6)"),
	)
}
