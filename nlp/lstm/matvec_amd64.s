//go:build amd64 && !purego

#include "textflag.h"

// func matvecAVX2(m, n int, w *float32, ldw int, x *float32, y *float32)
// y[i] += Σ_j w[i·ldw+j]·x[j] for i < m: one dot product per row, 32 floats per
// iteration in four accumulators, then 8 at a time, then one at a time.
TEXT ·matvecAVX2(SB), NOSPLIT, $0-48
	MOVQ m+0(FP), R8
	MOVQ n+8(FP), R9
	MOVQ w+16(FP), SI
	MOVQ ldw+24(FP), R10
	SHLQ $2, R10          // row stride in bytes
	MOVQ x+32(FP), DI
	MOVQ y+40(FP), DX
	TESTQ R8, R8
	JE   done

row:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ SI, AX           // row pointer
	MOVQ DI, BX           // x pointer
	MOVQ R9, CX           // remaining

loop32:
	CMPQ CX, $32
	JL   loop8
	VMOVUPS (AX), Y4
	VMOVUPS 32(AX), Y5
	VMOVUPS 64(AX), Y6
	VMOVUPS 96(AX), Y7
	VFMADD231PS (BX), Y4, Y0
	VFMADD231PS 32(BX), Y5, Y1
	VFMADD231PS 64(BX), Y6, Y2
	VFMADD231PS 96(BX), Y7, Y3
	ADDQ $128, AX
	ADDQ $128, BX
	SUBQ $32, CX
	JMP  loop32

loop8:
	CMPQ CX, $8
	JL   reduce
	VMOVUPS (AX), Y4
	VFMADD231PS (BX), Y4, Y0
	ADDQ $32, AX
	ADDQ $32, BX
	SUBQ $8, CX
	JMP  loop8

reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0

tail:
	TESTQ CX, CX
	JE   store
	VMOVSS (AX), X4
	VFMADD231SS (BX), X4, X0
	ADDQ $4, AX
	ADDQ $4, BX
	DECQ CX
	JMP  tail

store:
	VADDSS (DX), X0, X0
	VMOVSS X0, (DX)
	ADDQ $4, DX
	ADDQ R10, SI
	DECQ R8
	JNE  row

done:
	VZEROUPPER
	RET
