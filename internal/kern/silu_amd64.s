#include "textflag.h"

// func siluAVX(y, s, u *float32, n int, c *[14 * 8]float32)
// For n a multiple of 8: s = σ(u) = 1/(1 + e^(−u)), y = u·s (y may be u).
// e^x is exp32's algorithm, 8 lanes at a time; c holds its constants,
// each repeated 8 times (see siluConsts).
TEXT ·siluAVX(SB), NOSPLIT, $0-40
	MOVQ y+0(FP), DI
	MOVQ s+8(FP), SI
	MOVQ u+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ c+32(FP), R8
	VMOVUPS 384(R8), Y4         // 1

loop:
	CMPQ CX, $8
	JL   done
	VMOVUPS     (DX), Y0        // u
	VMAXPS      0(R8), Y0, Y1   // clamp u to [−88, 87], so x = −u is in [−87, 88]
	VMINPS      32(R8), Y1, Y1
	VMULPS      64(R8), Y1, Y2  // x·log2e
	VADDPS      96(R8), Y2, Y2  // round to an integer k
	VSUBPS      96(R8), Y2, Y2
	VFMADD231PS 128(R8), Y2, Y1 // r' = u + k·ln2hi + k·ln2lo = −r
	VFMADD231PS 160(R8), Y2, Y1
	VMOVUPS     192(R8), Y3     // Horner in r' with alternating signs
	VFMADD213PS 224(R8), Y1, Y3
	VFMADD213PS 256(R8), Y1, Y3
	VFMADD213PS 288(R8), Y1, Y3
	VFMADD213PS 320(R8), Y1, Y3
	VFMADD213PS 352(R8), Y1, Y3
	VFMADD213PS 384(R8), Y1, Y3
	VCVTPS2DQ   Y2, Y2          // 2^k in the exponent bits
	VPADDD      416(R8), Y2, Y2
	VPSLLD      $23, Y2, Y2
	VMULPS      Y2, Y3, Y3      // e^(−u)
	VADDPS      Y4, Y3, Y3
	VDIVPS      Y3, Y4, Y3      // σ = 1/(1 + e^(−u))
	VMOVUPS     Y3, (SI)
	VMULPS      Y3, Y0, Y0
	VMOVUPS     Y0, (DI)
	ADDQ        $32, DI
	ADDQ        $32, SI
	ADDQ        $32, DX
	SUBQ        $8, CX
	JMP         loop

done:
	VZEROUPPER
	RET
