//go:build !purego

#include "textflag.h"

// func gemv64(w, x, y *float32, in, ld int)
// y[0:64] += Σ_i x[i]·w[i·ld : i·ld+64]. Two rows per iteration into two sets of four
// accumulators, so eight FMA chains hide the FMA latency.
TEXT ·gemv64(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DX
	MOVQ y+16(FP), DI
	MOVQ in+24(FP), CX
	MOVQ ld+32(FP), BX
	SHLQ $2, BX
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	VXORPS  Z4, Z4, Z4
	VXORPS  Z5, Z5, Z5
	VXORPS  Z6, Z6, Z6
	VXORPS  Z7, Z7, Z7

loop2:
	CMPQ CX, $2
	JLT  tail
	VBROADCASTSS (DX), Z8
	VBROADCASTSS 4(DX), Z9
	VFMADD231PS  (SI), Z8, Z0
	VFMADD231PS  64(SI), Z8, Z1
	VFMADD231PS  128(SI), Z8, Z2
	VFMADD231PS  192(SI), Z8, Z3
	VFMADD231PS  (SI)(BX*1), Z9, Z4
	VFMADD231PS  64(SI)(BX*1), Z9, Z5
	VFMADD231PS  128(SI)(BX*1), Z9, Z6
	VFMADD231PS  192(SI)(BX*1), Z9, Z7
	LEAQ         (SI)(BX*2), SI
	ADDQ         $8, DX
	SUBQ         $2, CX
	JMP          loop2

tail:
	CMPQ CX, $0
	JEQ  done
	VBROADCASTSS (DX), Z8
	VFMADD231PS  (SI), Z8, Z0
	VFMADD231PS  64(SI), Z8, Z1
	VFMADD231PS  128(SI), Z8, Z2
	VFMADD231PS  192(SI), Z8, Z3

done:
	VADDPS  Z4, Z0, Z0
	VADDPS  Z5, Z1, Z1
	VADDPS  Z6, Z2, Z2
	VADDPS  Z7, Z3, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VZEROUPPER
	RET

// func gemv16(w, x, y *float32, in, ld int)
// y[0:16] += Σ_i x[i]·w[i·ld : i·ld+16], four rows per iteration.
TEXT ·gemv16(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DX
	MOVQ y+16(FP), DI
	MOVQ in+24(FP), CX
	MOVQ ld+32(FP), BX
	SHLQ $2, BX
	LEAQ (BX)(BX*2), R8
	VMOVUPS (DI), Z0
	VXORPS  Z1, Z1, Z1
	VXORPS  Z2, Z2, Z2
	VXORPS  Z3, Z3, Z3

loop4:
	CMPQ CX, $4
	JLT  tail1
	VBROADCASTSS (DX), Z8
	VBROADCASTSS 4(DX), Z9
	VBROADCASTSS 8(DX), Z10
	VBROADCASTSS 12(DX), Z11
	VFMADD231PS  (SI), Z8, Z0
	VFMADD231PS  (SI)(BX*1), Z9, Z1
	VFMADD231PS  (SI)(BX*2), Z10, Z2
	VFMADD231PS  (SI)(R8*1), Z11, Z3
	LEAQ         (SI)(BX*4), SI
	ADDQ         $16, DX
	SUBQ         $4, CX
	JMP          loop4

tail1:
	CMPQ CX, $0
	JEQ  done16
	VBROADCASTSS (DX), Z8
	VFMADD231PS  (SI), Z8, Z0
	ADDQ         BX, SI
	ADDQ         $4, DX
	DECQ         CX
	JMP          tail1

done16:
	VADDPS  Z1, Z0, Z0
	VADDPS  Z3, Z2, Z2
	VADDPS  Z2, Z0, Z0
	VMOVUPS Z0, (DI)
	VZEROUPPER
	RET
