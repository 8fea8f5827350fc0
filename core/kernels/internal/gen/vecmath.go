package main

import (
	"bytes"
	"fmt"
	"math"
)

// Vectorised transcendental kernels: 16 floats per iteration, the tail under a lane
// mask. exp uses the same Cephes reduction and polynomial as the scalar expf, with
// VSCALEFPS applying 2^n (it saturates to 0 and +Inf by itself).

// vconst names a broadcast constant and the register that holds it.
type vconst struct {
	reg string
	val float32
	raw uint32 // used when val is 0 and raw is set (bit masks)
}

func emitVecMath(w *bytes.Buffer) {
	expC := []vconst{
		{"Z16", 88.72283, 0}, {"Z17", -103.0, 0}, {"Z18", 1.44269504088896341, 0},
		{"Z19", 0.693359375, 0}, {"Z20", -2.12194440e-4, 0},
		{"Z21", 1.9875691500e-4, 0}, {"Z22", 1.3981999507e-3, 0}, {"Z23", 8.3334519073e-3, 0},
		{"Z24", 4.1665795894e-2, 0}, {"Z25", 1.6666665459e-1, 0}, {"Z26", 5.0000001201e-1, 0},
		{"Z27", 1, 0}, {"Z28", 0.5, 0}, {"Z29", 2, 0},
	}
	gelu := append(append([]vconst{}, expC...),
		vconst{"Z8", 0.70710678118654752, 0}, vconst{"Z9", 0.3275911, 0},
		vconst{"Z10", 1.061405429, 0}, vconst{"Z11", -1.453152027, 0}, vconst{"Z12", 1.421413741, 0},
		vconst{"Z13", -0.284496736, 0}, vconst{"Z14", 0.254829592, 0}, vconst{"Z15", 0, 0x80000000},
		vconst{"Z30", 0, 0x7fffffff})
	tanh := append(append([]vconst{}, expC...),
		vconst{"Z8", 0, 0x7fffffff}, vconst{"Z9", 0.0625, 0}, vconst{"Z10", 9, 0},
		vconst{"Z11", -1.0 / 3, 0}, vconst{"Z12", 2.0 / 15, 0}, vconst{"Z13", -17.0 / 315, 0},
		vconst{"Z15", 0, 0x80000000})

	// func vexpSubAVX512(dst, src *float32, n int, m float32, sums *float32)
	vecFunc(w, "vexpSubAVX512", "dst, src *float32, n int, m float32, sums *float32", 40, expC, func(p pf) {
		p("VBROADCASTSS m+24(FP), Z7")
		p("VPXORD Z6, Z6, Z6")
	}, func(p pf) {
		p("VSUBPS Z7, Z0, Z0")
		expInto(p, "Z0", "Z0")
		p("VADDPS Z0, Z6, K1, Z6")
	}, func(p pf) {
		p("MOVQ sums+32(FP), R9")
		p("VMOVUPS Z6, (R9)")
	})
	// func vsigmoidAVX512(dst, src *float32, n int): 1/(1+e^−x)
	vecFunc(w, "vsigmoidAVX512", "dst, src *float32, n int", 24, expC, nil, func(p pf) {
		p("VPXORD Z0, Z0, Z1")
		p("VSUBPS Z0, Z1, Z0") // −x
		expInto(p, "Z0", "Z0")
		p("VADDPS Z27, Z0, Z0")
		p("VDIVPS Z0, Z27, Z0")
	}, nil)
	// func vtanhAVX512(dst, src *float32, n int): sign(x)·(1 − 2/(e^{2|x|}+1)), with
	// a short odd series below |x| < 0.0625 where that form cancels.
	vecFunc(w, "vtanhAVX512", "dst, src *float32, n int", 24, tanh, nil, func(p pf) {
		p("VPANDD Z8, Z0, Z5")  // |x|
		p("VPANDD Z15, Z0, Z4") // sign bit
		p("VMINPS Z10, Z5, Z1") // min(|x|, 9)
		p("VADDPS Z1, Z1, Z1")  // 2|x|
		expInto(p, "Z1", "Z1")
		p("VADDPS Z27, Z1, Z1")
		p("VDIVPS Z1, Z29, Z1") // 2/(e+1)
		p("VSUBPS Z1, Z27, Z1") // 1 − …
		p("VPORD Z4, Z1, Z1")   // restore the sign
		// series: x·(1 + x²·(−1/3 + x²·(2/15 + x²·(−17/315))))
		p("VMULPS Z0, Z0, Z2")
		p("VMOVAPS Z13, Z3")
		p("VFMADD213PS Z12, Z2, Z3")
		p("VFMADD213PS Z11, Z2, Z3")
		p("VFMADD213PS Z27, Z2, Z3")
		p("VMULPS Z3, Z0, Z3")
		p("VCMPPS $1, Z9, Z5, K2") // |x| < 0.0625 (LT_OS)
		p("VMOVAPS Z3, K2, Z1")
		p("VMOVAPS Z1, Z0")
	}, nil)
	// func vgeluAVX512(dst, src *float32, n int): 0.5·x·(1 + erf(x/√2)), erf by
	// Abramowitz & Stegun 7.1.26 as the scalar erff.
	vecFunc(w, "vgeluAVX512", "dst, src *float32, n int", 24, gelu, nil, func(p pf) {
		p("VMULPS Z8, Z0, Z1")  // z = x/√2
		p("VPANDD Z15, Z1, Z4") // sign
		p("VPANDD Z30, Z1, Z1") // |z|
		p("VMOVAPS Z27, Z2")
		p("VFMADD231PS Z9, Z1, Z2") // 1 + p|z|
		p("VDIVPS Z2, Z27, Z2")     // t
		p("VMOVAPS Z10, Z3")
		p("VFMADD213PS Z11, Z2, Z3")
		p("VFMADD213PS Z12, Z2, Z3")
		p("VFMADD213PS Z13, Z2, Z3")
		p("VFMADD213PS Z14, Z2, Z3")
		p("VMULPS Z2, Z3, Z3") // poly(t)·t
		p("VMULPS Z1, Z1, Z5")
		p("VPXORD Z15, Z5, Z5") // −z²
		expInto(p, "Z5", "Z5")
		p("VMULPS Z5, Z3, Z3")
		p("VSUBPS Z3, Z27, Z3") // erf(|z|)
		p("VPXORD Z4, Z3, Z3")  // erf(z)
		p("VADDPS Z27, Z3, Z3")
		p("VMULPS Z28, Z0, Z0")
		p("VMULPS Z3, Z0, Z0")
	}, nil)
}

type pf func(string, ...any)

// expInto computes exp(src) into dst, clobbering src. Besides the constants it uses
// Z31 for n and the per-function scratch registers X_H (Horner) and X_R2 (r²), which
// vecFunc substitutes so that they miss the registers its caller keeps live.
func expInto(p pf, src, dst string) {
	p("VMINPS Z16, %s, %s", src, src)
	p("VMAXPS Z17, %s, %s", src, src)
	p("VMULPS Z18, %s, Z31", src)
	p("VRNDSCALEPS $0, Z31, Z31")
	p("VFNMADD231PS Z19, Z31, %s", src)
	p("VFNMADD231PS Z20, Z31, %s", src)
	p("VMOVAPS Z21, X_H")
	p("VFMADD213PS Z22, %s, X_H", src)
	p("VFMADD213PS Z23, %s, X_H", src)
	p("VFMADD213PS Z24, %s, X_H", src)
	p("VFMADD213PS Z25, %s, X_H", src)
	p("VFMADD213PS Z26, %s, X_H", src)
	p("VMULPS %s, %s, X_R2", src, src)
	p("VADDPS Z27, %s, %s", src, src)
	p("VFMADD231PS X_R2, X_H, %s", src)
	p("VSCALEFPS Z31, %s, %s", src, dst)
}

// vecFunc writes one elementwise function: setup, then a loop over 16-float blocks
// with the final partial block under mask K1.
func vecFunc(w *bytes.Buffer, name, sig string, argBytes int, consts []vconst, setup, body, finish func(p pf)) {
	var buf bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&buf, "\t"+format+"\n", args...) }
	fmt.Fprintf(&buf, "\n// func %s(%s)\n", name, sig)
	fmt.Fprintf(&buf, "TEXT ·%s(SB), NOSPLIT, $0-%d\n", name, argBytes)
	p("MOVQ dst+0(FP), DI")
	p("MOVQ src+8(FP), SI")
	p("MOVQ n+16(FP), CX")
	for _, c := range consts {
		bits := c.raw
		if bits == 0 {
			bits = math.Float32bits(c.val)
		}
		p("MOVL $0x%08x, AX", bits)
		p("VPBROADCASTD AX, %s", c.reg)
	}
	if setup != nil {
		setup(p)
	}
	p("TESTQ CX, CX")
	p("JLE done_%s", name)
	fmt.Fprintf(&buf, "loop_%s:\n", name)
	p("MOVQ $0xffff, R8")
	p("CMPQ CX, $16")
	p("JGE full_%s", name)
	p("MOVQ $1, R8")
	p("SHLQ CX, R8")
	p("DECQ R8")
	fmt.Fprintf(&buf, "full_%s:\n", name)
	p("KMOVW R8, K1")
	p("VMOVUPS.Z (SI), K1, Z0")
	body(p)
	p("VMOVUPS Z0, K1, (DI)")
	p("ADDQ $64, SI")
	p("ADDQ $64, DI")
	p("SUBQ $16, CX")
	p("JG loop_%s", name)
	fmt.Fprintf(&buf, "done_%s:\n", name)
	if finish != nil {
		finish(p)
	}
	p("VZEROUPPER")
	p("RET")
	// exp's scratch registers: Horner and r² must not clash with a caller's live values.
	s := bytes.ReplaceAll(buf.Bytes(), []byte("X_H"), []byte(scratchH(name)))
	s = bytes.ReplaceAll(s, []byte("X_R2"), []byte(scratchR2(name)))
	w.Write(s)
}

// The vtanh and vgelu bodies keep Z0–Z5 live across exp; vexpSub keeps Z6 and Z7.
func scratchH(name string) string {
	if name == "vexpSubAVX512" {
		return "Z2"
	}
	return "Z6"
}

func scratchR2(name string) string {
	if name == "vexpSubAVX512" {
		return "Z3"
	}
	return "Z7"
}

// emitRowOps writes the softmax helpers: the maximum of a row and an in-place scale.
func emitRowOps(w *bytes.Buffer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	tailMask := func(name string) {
		p("MOVQ $0xffff, R8")
		p("CMPQ CX, $16")
		p("JGE full_%s", name)
		p("MOVQ $1, R8")
		p("SHLQ CX, R8")
		p("DECQ R8")
		fmt.Fprintf(w, "full_%s:\n", name)
		p("KMOVW R8, K1")
	}
	fmt.Fprintf(w, "\n// func vmaxAVX512(x *float32, n int) float32\n")
	fmt.Fprintf(w, "TEXT ·vmaxAVX512(SB), NOSPLIT, $0-20\n")
	p("MOVQ x+0(FP), SI")
	p("MOVQ n+8(FP), CX")
	p("MOVL $0x%08x, AX", math.Float32bits(float32(math.Inf(-1))))
	p("VPBROADCASTD AX, Z0")
	p("TESTQ CX, CX")
	p("JLE done_vmax")
	fmt.Fprintf(w, "loop_vmax:\n")
	tailMask("vmax")
	// Merge-masking keeps −Inf in the lanes past the end.
	p("VMAXPS (SI), Z0, K1, Z0")
	p("ADDQ $64, SI")
	p("SUBQ $16, CX")
	p("JG loop_vmax")
	fmt.Fprintf(w, "done_vmax:\n")
	p("VEXTRACTF64X4 $1, Z0, Y1")
	p("VMAXPS Y1, Y0, Y0")
	p("VEXTRACTF128 $1, Y0, X1")
	p("VMAXPS X1, X0, X0")
	p("VPERMILPS $0x4e, X0, X1")
	p("VMAXPS X1, X0, X0")
	p("VPERMILPS $0xb1, X0, X1")
	p("VMAXPS X1, X0, X0")
	p("VZEROUPPER")
	p("MOVSS X0, ret+16(FP)")
	p("RET")

	fmt.Fprintf(w, "\n// func vscaleAVX512(x *float32, n int, s float32)\n")
	fmt.Fprintf(w, "TEXT ·vscaleAVX512(SB), NOSPLIT, $0-20\n")
	p("MOVQ x+0(FP), SI")
	p("MOVQ n+8(FP), CX")
	p("VBROADCASTSS s+16(FP), Z1")
	p("TESTQ CX, CX")
	p("JLE done_vscale")
	fmt.Fprintf(w, "loop_vscale:\n")
	tailMask("vscale")
	p("VMOVUPS.Z (SI), K1, Z0")
	p("VMULPS Z1, Z0, Z0")
	p("VMOVUPS Z0, K1, (SI)")
	p("ADDQ $64, SI")
	p("SUBQ $16, CX")
	p("JG loop_vscale")
	fmt.Fprintf(w, "done_vscale:\n")
	p("VZEROUPPER")
	p("RET")
}
