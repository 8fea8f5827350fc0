#!/bin/sh
# Regenerates the plexus.v1 Go and Python code; `make proto` runs it.
# Needs protoc (Debian protobuf-compiler) and, on PATH:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
set -eu
cd "$(dirname "$0")"
protoc --go_out=. --go_opt=paths=source_relative \
	--go-grpc_out=. --go-grpc_opt=paths=source_relative \
	plexus/v1/plexus.proto
protoc --python_out=../examples/python plexus/v1/plexus.proto
