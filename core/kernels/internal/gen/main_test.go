package main

import (
	"bytes"
	"os"
	"testing"
)

// TestCommittedAssemblyIsCurrent fails when gemm_amd64.s was edited by hand or the
// generator changed without `go generate ./core/kernels`.
func TestCommittedAssemblyIsCurrent(t *testing.T) {
	want, err := os.ReadFile("../../gemm_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	prefetchA = 512 // the flag defaults that go:generate uses
	prefetchC = true
	if got := generate(); !bytes.Equal(got, want) {
		t.Fatal("gemm_amd64.s differs from the generator's output: run go generate ./core/kernels")
	}
}
