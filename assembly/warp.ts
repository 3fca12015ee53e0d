// Random warps of a batch of small images (training-time distortion): each image r is resampled at
//   s(p) = c + M·(p + α·d(p) − c − t)
// for every output pixel p = (y, x), by bilinear interpolation with zeros outside the image, where c is
// the image's centre, M = [m00 m01; m10 m11] and t = (ty, tx) its inverse affine map and translation,
// and d = (dy, dx) a displacement field of uniform values in [−1, 1) smoothed by a Gaussian (truncated,
// zeros outside the image). The formulas and the TypeScript reference are in src/core/ops/warp.ts.
//
// Per image, transforms holds 8 floats (m00, m01, m10, m11, ty, tx, α, unused) and seeds one int32. A
// field value is a hash of (seed, its index), not a draw from a running generator, so any split of the
// images across threads gives the same fields. α = 0 skips the fields (an affine warp only).
//
// The smoothing is two products with band matrices: along x, T = F·Bx with Bx [w, wp] (Bx[j, x] =
// g[j − x] for |j − x| ≤ radius, 0 elsewhere and in the padding columns x ≥ w), and along y,
// D = By·T with By [h, h]; rows of F, T, D are wp = w rounded up to 4 floats apart. Each image has its
// own work block of floats: dy, dx, T (h·wp each), then the image with a border of zeros,
// (h + 2)·(w + 2) floats, so that the four reads of an interpolation need no bounds checks.
import { madd } from './simd';

/** Floats of one image's work block (warpScratchFloats in src/core/ops/warp.ts). */
// @ts-ignore: decorator
@inline function blockFloats(h: i32, w: i32): i32 {
  const wp = (w + 3) & ~3;
  return (3 * h * wp + (h + 2) * (w + 2) + 3) & ~3;
}

/** The uniform value in [−1, 1) of field index i under `seed` on four lanes (i, i + 1, i + 2, i + 3). */
// @ts-ignore: decorator
@inline function uniform4(seed: v128, i: i32): v128 {
  let x = i32x4.add(seed, i32x4.mul(i32x4.add(i32x4.splat(i), v128(0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0)), i32x4.splat(0x9e3779b9)));
  x = v128.xor(x, i32x4.shr_u(x, 16));
  x = i32x4.mul(x, i32x4.splat(0x7feb352d));
  x = v128.xor(x, i32x4.shr_u(x, 15));
  x = i32x4.mul(x, i32x4.splat(0x846ca68b));
  x = v128.xor(x, i32x4.shr_u(x, 16));
  // the top 24 bits as a float in [0, 2), exactly, then − 1
  return f32x4.sub(f32x4.mul(f32x4.convert_i32x4_u(i32x4.shr_u(x, 8)), f32x4.splat(1.0 / 8388608.0)), f32x4.splat(1));
}

/**
 * out[y, :] = Σ_j a[y, j] · b[j, :] for y < rows: a [rows, k] with rows `aStride` bytes apart, b [k, wp]
 * and out [rows, wp] with rows `stride` bytes apart (wp a multiple of 4). Four rows at a time, so that
 * four sums are in flight instead of one chain of dependent multiply-adds.
 */
// @ts-ignore: decorator
@inline function bandProduct(a: usize, aStride: usize, b: usize, out: usize, rows: i32, k: i32, wp: i32, stride: usize): void {
  let y = 0;
  for (; y + 4 <= rows; y += 4) {
    const a0 = a + <usize>y * aStride, a1 = a0 + aStride, a2 = a1 + aStride, a3 = a2 + aStride;
    for (let v = 0; v < wp; v += 4) {
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
      let column = b + (<usize>v << 2);
      for (let j = 0; j < k; j++) {
        const bj = v128.load(column);
        const at = <usize>j << 2;
        s0 = madd(v128.load32_splat(a0 + at), bj, s0);
        s1 = madd(v128.load32_splat(a1 + at), bj, s1);
        s2 = madd(v128.load32_splat(a2 + at), bj, s2);
        s3 = madd(v128.load32_splat(a3 + at), bj, s3);
        column += stride;
      }
      const to = out + <usize>y * stride + (<usize>v << 2);
      v128.store(to, s0);
      v128.store(to + stride, s1);
      v128.store(to + 2 * stride, s2);
      v128.store(to + 3 * stride, s3);
    }
  }
  for (; y < rows; y++) {
    const ay = a + <usize>y * aStride;
    for (let v = 0; v < wp; v += 4) {
      let sum = f32x4.splat(0);
      for (let j = 0; j < k; j++) sum = madd(v128.load32_splat(ay + (<usize>j << 2)), v128.load(b + <usize>j * stride + (<usize>v << 2)), sum);
      v128.store(out + <usize>y * stride + (<usize>v << 2), sum);
    }
  }
}

/** One smoothed field of h×w values at `field` (row stride wp), using `temp` (h·wp floats). */
// @ts-ignore: decorator
@inline function smooth(field: usize, temp: usize, h: i32, w: i32, wp: i32, bandX: usize, bandY: usize): void {
  const stride = <usize>wp << 2;
  // along x: temp = field · bandX; along y: field = bandY · temp
  bandProduct(field, stride, bandX, temp, h, w, wp, stride);
  bandProduct(bandY, <usize>h << 2, temp, field, h, h, wp, stride);
}

/**
 * The whole floats f (|f| < 2²²) as int32 on four lanes: f + 1.5·2²³ has its ulp at 1, so its bits are
 * those of 1.5·2²³ plus f. (i32x4.trunc_sat_f32x4_s is a long instruction sequence in V8 on x64: with
 * it, the conversions took half of an affine warp's time.)
 */
// @ts-ignore: decorator
@inline function toInt(f: v128): v128 {
  return i32x4.sub(f32x4.add(f, f32x4.splat(12582912)), i32x4.splat(0x4b400000));
}

/** Images [r0, r1) of src [rows, h, w] warped into out (T = u8: rounded to the nearest byte). */
// @ts-ignore: decorator
@inline function warpRows<T>(
  src: usize, out: usize, r0: i32, r1: i32, h: i32, w: i32, transforms: usize, seeds: usize, bandX: usize, bandY: usize, work: usize,
): void {
  const wp = (w + 3) & ~3;
  const plane = h * wp;
  const bw = w + 2;
  const cy = <f32>(h - 1) * 0.5, cx = <f32>(w - 1) * 0.5;
  const hi = <f32>(h + 1), wi = <f32>(w + 1);
  for (let r = r0; r < r1; r++) {
    const block = work + (<usize>(r * blockFloats(h, w)) << 2);
    const dy = block, dx = block + (<usize>plane << 2), temp = dx + (<usize>plane << 2), bordered = temp + (<usize>plane << 2);
    const image = src + <usize>(r * h * w) * sizeof<T>();
    // the image inside a border of zeros
    memory.fill(bordered, 0, <usize>(bw * (h + 2)) << 2);
    for (let y = 0; y < h; y++) {
      const from = image + <usize>(y * w) * sizeof<T>();
      const to = bordered + (<usize>((y + 1) * bw + 1) << 2);
      for (let x = 0; x < w; x++) store<f32>(to + (<usize>x << 2), <f32>load<T>(from + <usize>x * sizeof<T>()));
    }
    const t = transforms + (<usize>r << 5);
    const m00 = load<f32>(t), m01 = load<f32>(t, 4), m10 = load<f32>(t, 8), m11 = load<f32>(t, 12);
    const ty = load<f32>(t, 16), tx = load<f32>(t, 20), alpha = load<f32>(t, 24);
    const elastic = alpha != 0;
    if (elastic) {
      const seed = i32x4.splat(load<i32>(seeds + (<usize>r << 2)));
      for (let f = 0; f < 2; f++) {
        const field = f == 0 ? dy : dx;
        for (let y = 0; y < h; y++) {
          const row = field + (<usize>(y * wp) << 2);
          for (let x = 0; x < w; x += 4) v128.store(row + (<usize>x << 2), uniform4(seed, f * h * w + y * w + x));
        }
        smooth(field, temp, h, w, wp, bandX, bandY);
      }
    }
    const to = out + <usize>(r * h * w) * sizeof<T>();
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x += 4) {
        let qy = f32x4.splat(<f32>y - cy - ty);
        let qx = f32x4.add(f32x4.splat(<f32>x - cx - tx), f32x4(0, 1, 2, 3));
        if (elastic) {
          const at = <usize>(y * wp + x) << 2;
          qy = madd(f32x4.splat(alpha), v128.load(dy + at), qy);
          qx = madd(f32x4.splat(alpha), v128.load(dx + at), qx);
        }
        // clamped so that the conversion stays in range; −2 and h + 1 are outside either way
        let sy = f32x4.add(f32x4.splat(cy), f32x4.add(f32x4.mul(f32x4.splat(m00), qy), f32x4.mul(f32x4.splat(m01), qx)));
        let sx = f32x4.add(f32x4.splat(cx), f32x4.add(f32x4.mul(f32x4.splat(m10), qy), f32x4.mul(f32x4.splat(m11), qx)));
        sy = f32x4.pmin(f32x4.pmax(sy, f32x4.splat(-2)), f32x4.splat(hi));
        sx = f32x4.pmin(f32x4.pmax(sx, f32x4.splat(-2)), f32x4.splat(wi));
        const fy0 = f32x4.floor(sy), fx0 = f32x4.floor(sx);
        const fy = f32x4.sub(sy, fy0), fx = f32x4.sub(sx, fx0);
        const y0 = toInt(fy0), x0 = toInt(fx0);
        // inside: −1 ≤ y0 < h and −1 ≤ x0 < w (lanes outside read the border's first floats, then count 0)
        const inside = v128.and(
          v128.and(i32x4.gt_s(y0, i32x4.splat(-2)), i32x4.lt_s(y0, i32x4.splat(h))),
          v128.and(i32x4.gt_s(x0, i32x4.splat(-2)), i32x4.lt_s(x0, i32x4.splat(w))),
        );
        const index = v128.and(inside, i32x4.add(i32x4.mul(i32x4.add(y0, i32x4.splat(1)), i32x4.splat(bw)), i32x4.add(x0, i32x4.splat(1))));
        const p0 = bordered + (<usize>i32x4.extract_lane(index, 0) << 2);
        const p1 = bordered + (<usize>i32x4.extract_lane(index, 1) << 2);
        const p2 = bordered + (<usize>i32x4.extract_lane(index, 2) << 2);
        const p3 = bordered + (<usize>i32x4.extract_lane(index, 3) << 2);
        const below = <usize>bw << 2;
        // (a, b) and (c, d): the two pixel pairs of each lane's 2×2 neighbourhood, as (a0 b0 a1 b1), (a2 b2 a3 b3)
        const top01 = v128.load64_lane(p1, v128.load64_zero(p0), 1);
        const top23 = v128.load64_lane(p3, v128.load64_zero(p2), 1);
        const bottom01 = v128.load64_lane(p1 + below, v128.load64_zero(p0 + below), 1);
        const bottom23 = v128.load64_lane(p3 + below, v128.load64_zero(p2 + below), 1);
        const a = v128.shuffle<f32>(top01, top23, 0, 2, 4, 6), b = v128.shuffle<f32>(top01, top23, 1, 3, 5, 7);
        const c = v128.shuffle<f32>(bottom01, bottom23, 0, 2, 4, 6), d = v128.shuffle<f32>(bottom01, bottom23, 1, 3, 5, 7);
        const one = f32x4.splat(1);
        const gx = f32x4.sub(one, fx), gy = f32x4.sub(one, fy);
        const upper = f32x4.add(f32x4.mul(gx, a), f32x4.mul(fx, b));
        const lower = f32x4.add(f32x4.mul(gx, c), f32x4.mul(fx, d));
        const value = v128.and(inside, f32x4.add(f32x4.mul(gy, upper), f32x4.mul(fy, lower)));
        const at = to + <usize>(y * w + x) * sizeof<T>();
        const lanes = min(4, w - x);
        if (isInteger<T>()) {
          // nearest byte, half up
          const rounded = toInt(f32x4.pmin(f32x4.pmax(f32x4.floor(f32x4.add(value, f32x4.splat(0.5))), f32x4.splat(0)), f32x4.splat(255)));
          const bytes = i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(rounded, rounded), i16x8.narrow_i32x4_s(rounded, rounded));
          if (lanes == 4) v128.store32_lane(at, bytes, 0);
          else {
            store<u8>(at, i8x16.extract_lane_u(bytes, 0));
            if (lanes > 1) store<u8>(at + 1, i8x16.extract_lane_u(bytes, 1));
            if (lanes > 2) store<u8>(at + 2, i8x16.extract_lane_u(bytes, 2));
          }
        } else {
          if (lanes == 4) v128.store(at, value);
          else {
            store<f32>(at, f32x4.extract_lane(value, 0));
            if (lanes > 1) store<f32>(at, f32x4.extract_lane(value, 1), 4);
            if (lanes > 2) store<f32>(at, f32x4.extract_lane(value, 2), 8);
          }
        }
      }
    }
  }
}

/** Images [r0, r1) of the byte images src [rows, h, w] warped into the bytes out (see above). */
export function warpImagesU8(
  src: usize, out: usize, r0: i32, r1: i32, h: i32, w: i32, transforms: usize, seeds: usize, bandX: usize, bandY: usize, work: usize,
): void {
  warpRows<u8>(src, out, r0, r1, h, w, transforms, seeds, bandX, bandY, work);
}

/** Images [r0, r1) of the float images src [rows, h, w] warped into the floats out (see above). */
export function warpImagesF32(
  src: usize, out: usize, r0: i32, r1: i32, h: i32, w: i32, transforms: usize, seeds: usize, bandX: usize, bandY: usize, work: usize,
): void {
  warpRows<f32>(src, out, r0, r1, h, w, transforms, seeds, bandX, bandY, work);
}
