//go:build !amd64 || purego

package kernels

func availableImpls() []*gemmImpl { return []*gemmImpl{goImpl} }

var bestImpl = goImpl

var hasVecMath = false

func vecAct(kind actKind, x, out []float32) bool { return false }

func vecExpSub(x, out []float32, m float32) (float32, bool) { return 0, false }

func rowMax(x []float32) float32 { return rowMaxScalar(x) }

func scaleRow(x []float32, s float32) { scaleRowScalar(x, s) }
