//go:build tools

// Package deps pins the project's dependencies while the packages that use them are
// being written in parallel; it is never built.
package deps

import (
	_ "github.com/disintegration/imaging"
	_ "github.com/go-audio/audio"
	_ "github.com/go-audio/wav"
	_ "github.com/hashicorp/go-hclog"
	_ "github.com/hashicorp/go-plugin"
	_ "github.com/knadh/koanf/parsers/yaml"
	_ "github.com/knadh/koanf/providers/confmap"
	_ "github.com/knadh/koanf/providers/env/v2"
	_ "github.com/knadh/koanf/providers/file"
	_ "github.com/knadh/koanf/providers/rawbytes"
	_ "github.com/knadh/koanf/v2"
	_ "github.com/nlpodyssey/gopickle/pickle"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "github.com/spf13/pflag"
	_ "github.com/vbauerster/mpb/v8"
	_ "github.com/x448/float16"
	_ "go4.org/unsafe/assume-no-moving-gc"
	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
	_ "golang.org/x/sys/cpu"
	_ "golang.org/x/sys/unix"
	_ "gonum.org/v1/gonum/blas/gonum"
	_ "google.golang.org/grpc"
	_ "google.golang.org/protobuf/proto"
	_ "gopkg.in/yaml.v3"
	_ "gorgonia.org/gorgonia"
	_ "gorgonia.org/tensor"
)
