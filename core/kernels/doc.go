// Package kernels holds plexus's CPU compute kernels: a packed, cache-blocked SGEMM with
// Go assembly micro-kernels, and the convolution, pooling, normalisation, activation and
// attention kernels built on it. Every function works on plain row-major float32 slices,
// so the layers above own their memory and the steady state of an inference loop does
// not allocate.
package kernels

//go:generate go run ./internal/gen -out gemm_amd64.s
