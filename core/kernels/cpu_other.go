//go:build !amd64 || purego

package kernels

func availableImpls() []*gemmImpl { return []*gemmImpl{goImpl} }

var bestImpl = goImpl

var hasVecMath = false

func vecAct(kind actKind, x, out []float32) bool { return false }

func vecExpSub(x, out []float32, m float32) (float32, bool) { return 0, false }

func rowMax(x []float32) float32 { return rowMaxScalar(x) }

func scaleRow(x []float32, s float32) { scaleRowScalar(x, s) }

func packPerm(dst, src *float32, offs []int, d *permPanel) {
	panic("kernels: packPerm without AVX-512")
}

func epilogueVec(dst, src []float32, b float32, res []float32, relu bool) bool { return false }
