// Small SIMD helpers shared by the kernels. Everything here is inlined at compile time.

/**
 * acc + a·b on four lanes. With relaxed SIMD this is f32x4.relaxed_madd, which V8 lowers to a real
 * fused multiply-add (one rounding, one instruction); without it, a multiply then an add. The choice is
 * made at compile time, so the same source gives both builds.
 */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(f32x4.mul(a, b), acc);
}

/**
 * e^x on four lanes, accurate to about 2 ulp over the float range.
 * Range reduction: x = n·ln2 + r with n = round(x·log2 e) and |r| ≤ ln2/2 (ln2 split in a high part
 * exact in float and a low part, Cody–Waite, so r keeps full precision); e^x = 2^n · e^r, where e^r is a
 * degree-7 Taylor polynomial (remainder r⁸/8! < 6e-9 at |r| = ln2/2) and 2^n is built by writing
 * n + 127 into the exponent bits. x is clamped to [-87.3, 88] so that −126 ≤ n ≤ 127 and 2^n stays a
 * normal float: results saturate near 2e38 and 1e-38 instead of overflowing the exponent field.
 */
// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, f32x4.splat(-87.3)), f32x4.splat(88.0));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  // Horner: 1 + r(1 + r(1/2 + r(1/6 + r(1/24 + r(1/120 + r(1/720 + r/5040))))))
  let p = f32x4.splat(1.0 / 5040.0);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 720.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 120.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 24.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 6.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0));
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, scale);
}

/** sigmoid(x) = 1 / (1 + e^−x); e^−x saturates to ~FLT_MAX for x ≪ 0, giving ~0 as it should. */
// @ts-ignore: decorator
@inline export function sigmoid4(x: v128): v128 {
  const one = f32x4.splat(1.0);
  return f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(x))));
}

/**
 * tanh(x) = sign(x) · (1 − t) / (1 + t) with t = e^(−2|x|), which never overflows. For |x| < 0.2 the
 * subtraction 1 − t would lose relative precision, so there the odd Taylor series
 * x − x³/3 + 2x⁵/15 − 17x⁷/315 is used (next term 62x⁹/2835 < 1e-8 relative at |x| = 0.2).
 */
// @ts-ignore: decorator
@inline export function tanh4(x: v128): v128 {
  const one = f32x4.splat(1.0);
  const ax = f32x4.abs(x);
  const t = exp4(f32x4.mul(ax, f32x4.splat(-2.0)));
  const big = f32x4.div(f32x4.sub(one, t), f32x4.add(one, t));
  // copy the sign bit of x onto the positive result
  const signMask = i32x4.splat(0x80000000);
  const signed = v128.or(big, v128.and(x, signMask));
  const x2 = f32x4.mul(x, x);
  let q = f32x4.splat(-17.0 / 315.0);
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(2.0 / 15.0));
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(-1.0 / 3.0));
  const small = f32x4.add(x, f32x4.mul(x, f32x4.mul(q, x2)));
  return v128.bitselect(small, signed, f32x4.lt(ax, f32x4.splat(0.2)));
}
