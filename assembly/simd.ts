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

// Constants of the vector functions below, kept in memory and broadcast with v128.load32_splat (one
// instruction each). Written as v128.const, V8 rebuilds every constant from general registers inside
// the loop (about four instructions apiece), which tripled the cost of exp.
const EXP_MIN = 0; // −87.3
const EXP_MAX = 1; // 88
const LOG2E = 2;
const ROUNDING = 3; // 1.5·2²³
const LN2_HIGH = 4;
const LN2_LOW = 5;
const POLY = 6; // 8 entries: 1/7!, 1/6!, …, 1/1!, 1/0!
const MINUS_TWO = 14;
const TANH_SERIES = 15; // 3 entries: −17/315, 2/15, −1/3
const TANH_SMALL = 18; // 0.2
const ONE = 19;
const CONSTANTS = memory.data<f32>([
  -87.3, 88.0, 1.44269504088896341, 12582912.0, 0.693359375, -2.12194440e-4,
  1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0,
  -2.0,
  -17.0 / 315.0, 2.0 / 15.0, -1.0 / 3.0,
  0.2,
  1.0,
]);

// @ts-ignore: decorator
@inline export function constant(index: i32): v128 {
  return v128.load32_splat(CONSTANTS + (<usize>index << 2));
}

/**
 * e^x on four lanes, accurate to about 2 ulp over the float range.
 * Range reduction: x = n·ln2 + r with n = round(x·log2 e) and |r| ≤ ln2/2 (ln2 split in a high part
 * exact in float and a low part, Cody–Waite, so r keeps full precision); e^x = 2^n · e^r, where e^r is a
 * degree-7 Taylor polynomial (remainder r⁸/8! < 6e-9 at |r| = ln2/2).
 * n is rounded by adding 1.5·2²³: the sum's ulp is 1, so its low mantissa bits hold n + 0x400000 as an
 * integer; 2^n is then (those bits + 127) << 23, the shift dropping everything above the exponent field.
 * x is clamped to [-87.3, 88] so that −126 ≤ n ≤ 127 and 2^n stays a normal float: results saturate
 * near 2e38 and 1e-38 instead of overflowing the exponent field.
 */
// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  // pmin/pmax are single instructions (min/max need a NaN- and ±0-exact sequence); NaN still passes through
  x = f32x4.pmin(f32x4.pmax(x, constant(EXP_MIN)), constant(EXP_MAX));
  const shifted = f32x4.add(f32x4.mul(x, constant(LOG2E)), constant(ROUNDING));
  const n = f32x4.sub(shifted, constant(ROUNDING));
  let r = f32x4.sub(x, f32x4.mul(n, constant(LN2_HIGH)));
  r = f32x4.sub(r, f32x4.mul(n, constant(LN2_LOW)));
  // Horner: 1 + r(1 + r(1/2 + r(1/6 + r(1/24 + r(1/120 + r(1/720 + r/5040))))))
  let p = constant(POLY);
  p = f32x4.add(f32x4.mul(p, r), constant(POLY + 1));
  p = f32x4.add(f32x4.mul(p, r), constant(POLY + 2));
  p = f32x4.add(f32x4.mul(p, r), constant(POLY + 3));
  p = f32x4.add(f32x4.mul(p, r), constant(POLY + 4));
  p = f32x4.add(f32x4.mul(p, r), constant(POLY + 5));
  p = f32x4.add(f32x4.mul(p, r), constant(POLY + 6));
  p = f32x4.add(f32x4.mul(p, r), constant(POLY + 7));
  const scale = i32x4.shl(i32x4.add(shifted, i32x4.splat(127)), 23);
  return f32x4.mul(p, scale);
}

/** sigmoid(x) = 1 / (1 + e^−x); e^−x saturates to ~FLT_MAX for x ≪ 0, giving ~0 as it should. */
// @ts-ignore: decorator
@inline export function sigmoid4(x: v128): v128 {
  const one = constant(ONE);
  return f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(x))));
}

/**
 * tanh(x) = sign(x) · (1 − t) / (1 + t) with t = e^(−2|x|), which never overflows. For |x| < 0.2 the
 * subtraction 1 − t would lose relative precision, so there the odd Taylor series
 * x − x³/3 + 2x⁵/15 − 17x⁷/315 is used (next term 62x⁹/2835 < 1e-8 relative at |x| = 0.2).
 */
// @ts-ignore: decorator
@inline export function tanh4(x: v128): v128 {
  const one = constant(ONE);
  const ax = f32x4.abs(x);
  const t = exp4(f32x4.mul(ax, constant(MINUS_TWO)));
  const big = f32x4.div(f32x4.sub(one, t), f32x4.add(one, t));
  // copy the sign bit of x onto the positive result
  const signed = v128.or(big, v128.andnot(x, f32x4.abs(x))); // x without its magnitude: the sign bit
  const x2 = f32x4.mul(x, x);
  let q = constant(TANH_SERIES);
  q = f32x4.add(f32x4.mul(q, x2), constant(TANH_SERIES + 1));
  q = f32x4.add(f32x4.mul(q, x2), constant(TANH_SERIES + 2));
  const small = f32x4.add(x, f32x4.mul(x, f32x4.mul(q, x2)));
  return v128.bitselect(small, signed, f32x4.lt(ax, constant(TANH_SMALL)));
}
