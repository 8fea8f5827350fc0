# plexus — build, test and demo. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
GO ?= go
BIN := bin
PLUGINS := $(notdir $(wildcard plugins/vision plugins/nlp plugins/speech))
DEBS_TEST := graphviz python3-numpy python3-grpcio python3-protobuf python3-cryptography espeak-ng sox
DEBS_DEMO := dataset-fashion-mnist espeak-ng fortunes sox
# PyTorch for the comparison columns, with OpenBLAS so that torch.mm is not the
# reference BLAS that python3-torch pulls in by default.
DEBS_BENCH := python3-torch python3-torchvision python3-torchaudio libopenblas0-pthread

.PHONY: all build plugins test lint race crossbuild demo bench docs deps-test deps-demo e2e golden golden-vision-large golden-wav2vec2-base proto clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/plexus ./cmd/plexus
	@for p in $(PLUGINS); do echo "go build plexus-plugin-$$p"; $(GO) build -o $(BIN)/plexus-plugin-$$p ./plugins/$$p || exit 1; done

# deps-* install the Debian packages a fresh machine lacks (as root, or with sudo).
deps-test:
	@./scripts/apt-install.sh $(DEBS_TEST)

deps-demo:
	@./scripts/apt-install.sh $(DEBS_DEMO)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

race:
	$(GO) test -race -count=1 ./...
	# The kernels split work by the worker count: check the one-worker path too.
	GOMAXPROCS=1 $(GO) test -count=1 ./core/kernels/... ./core/nn/...

crossbuild:
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) build ./...
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build ./...

# test is everything CI runs.
test: deps-test
	$(GO) mod download
	$(MAKE) lint
	CGO_ENABLED=0 $(GO) build ./...
	$(MAKE) race
	$(MAKE) crossbuild

demo: deps-demo build
	./scripts/demo.sh

# proto regenerates plugins/proto from plexus.proto (protoc from Debian's
# protobuf-compiler; the Go generators at pinned versions from the module proxy).
PROTOC_GEN_GO_VERSION ?= v1.36.12
PROTOC_GEN_GO_GRPC_VERSION ?= v1.5.1
GOBIN ?= $(shell $(GO) env GOPATH)/bin
proto:
	@./scripts/apt-install.sh protobuf-compiler
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	PATH="$(GOBIN):$$PATH" plugins/proto/gen.sh

# bench runs every benchmark beside PyTorch and writes docs/BENCHMARKS.md.
bench: build
	@./scripts/apt-install.sh $(DEBS_BENCH)
	$(BIN)/plexus bench all --markdown docs/BENCHMARKS.md

# docs regenerates the generated references: docs/cli.md, docs/stages.md and the key
# tables of docs/pipeline.md.
docs: build
	$(BIN)/plexus docs cli > docs/cli.md
	$(BIN)/plexus docs pipeline docs/pipeline.md
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/plexus docs stages > docs/stages.md

# e2e opens the demo's report in headless Chromium and fails on console errors (not in CI).
e2e:
	./scripts/e2e.sh

# golden regenerates the test fixtures from PyTorch (Debian's python3-torch).
golden:
	@for s in tools/golden/*.py; do case $$s in */common.py) continue;; esac; echo "python3 $$s"; /usr/bin/python3 $$s || exit 1; done

# golden-vision-large checks full-size torchvision ResNet-18/50 and Inception-v3 (about
# 250 MB of fixtures, not committed).
# golden-wav2vec2-base checks the full wav2vec2 base shape (95 M random parameters, about
# 380 MB of fixture, git-ignored) against torchaudio.
golden-wav2vec2-base:
	/usr/bin/python3 tools/golden/wav2vec2.py --base
	$(GO) test -count=1 -run TestGoldenBase -v ./speech/wav2vec2/

golden-vision-large:
	/usr/bin/python3 tools/golden/vision.py --large
	$(GO) test -count=1 -run TestGoldenLarge ./vision/resnet ./vision/inception

clean:
	rm -rf $(BIN) out
