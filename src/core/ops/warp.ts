/**
 * Random warps of a batch of small images (assembly/warp.ts): the distortions a training run applies
 * to its digits (src/data/augment.ts draws their parameters). Image r is resampled at
 *
 *   s(p) = c + M·(p + α·d(p) − c − t)      for every output pixel p = (y, x)
 *
 * by bilinear interpolation with zeros outside the image: c = ((h − 1)/2, (w − 1)/2), M the inverse
 * affine matrix [m00 m01; m10 m11] and t = (ty, tx) the translation (transforms [rows, 8]: m00, m01,
 * m10, m11, ty, tx, α, unused), d = (dy, dx) two fields of uniform values in [−1, 1), each smoothed by a
 * Gaussian of width σ truncated at radius round(4σ), with zeros outside the image. These are
 * scipy.ndimage's affine_transform, gaussian_filter and map_coordinates (order 1, mode 'constant'):
 * test/fixtures/make_augment_fixture.py records them and test/data/augment.test.ts checks the
 * references below against it.
 *
 * The field values are a hash of (seeds[r], index), index = y·w + x for dy and h·w + y·w + x for dx,
 * so they do not depend on how the batch is split across threads. α = 0 leaves the fields out.
 * The reference computes in float64; the kernel in float32 (byte outputs may then differ by one
 * where a value lies within float32 rounding of a half).
 */
import { Operation } from '../pool-protocol.js';
import { asArgumentError, checkLength, splitPoint, type WasmRuntime } from '../wasm-runtime.js';

/** Work space of `warpImages` for up to `rows` images of height × width (made by `allocWarp`). */
export interface WarpPlan {
  readonly rows: number;
  readonly height: number;
  readonly width: number;
  /** The fields' Gaussian width in pixels; 0: the plan warps without fields (every α must be 0). */
  readonly sigma: number;
  /** [width, width rounded up to 4]: the smoothing along x as a band matrix (assembly/warp.ts). */
  readonly bandX: Float32Array;
  /** [height, height]: the smoothing along y. */
  readonly bandY: Float32Array;
  /** [rows, warpScratchFloats(height, width)]: each image's fields and bordered copy. */
  readonly work: Float32Array;
}

export interface WarpKernels {
  /** A plan for `warpImages` of up to `rows` images of height × width with fields of width sigma (0: none). */
  allocWarp(rows: number, height: number, width: number, sigma: number): WarpPlan;

  /**
   * out [rows, h, w] = src [rows, h, w] warped as above, image r by transforms[8r .. 8r + 8) and
   * seeds[r]. Bytes in, bytes out (rounded to the nearest, half up); floats in, floats out.
   */
  warpImages<T extends Uint8Array | Float32Array>(plan: WarpPlan, src: T, rows: number, transforms: Float32Array, seeds: Int32Array, out: T): void;
}

/** Floats a plan holds per image: three fields of h × w rounded up to 4, and the image with a border. */
export function warpScratchFloats(height: number, width: number): number {
  const wp = Math.ceil(width / 4) * 4;
  return Math.ceil((3 * height * wp + (height + 2) * (width + 2)) / 4) * 4;
}

/** Floats of one image's transform in `transforms`. */
export const TRANSFORM_FLOATS = 8;

/** The 1-D Gaussian of width σ, truncated at radius round(4σ) and normalized to sum 1 (scipy's). */
export function gaussianKernel(sigma: number): Float64Array {
  if (!(sigma > 0 && Number.isFinite(sigma))) throw new RangeError(`the Gaussian's sigma must be a positive number, got ${sigma}`);
  const radius = Math.floor(4 * sigma + 0.5);
  const kernel = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) sum += kernel[i + radius] = Math.exp((-0.5 * i * i) / (sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i] /= sum;
  return kernel;
}

/** field [h, w] smoothed in place by `kernel` along both axes, zeros outside (scipy's mode 'constant'). */
export function smoothField(field: Float64Array, h: number, w: number, kernel: Float64Array): void {
  const radius = (kernel.length - 1) / 2;
  const line = new Float64Array(Math.max(h, w));
  for (const [count, length, step, next] of [[h, w, 1, w], [w, h, w, 1]] as const) {
    // count lines of `length` values `step` apart, each line `next` after the one before
    for (let n = 0; n < count; n++) {
      const base = n * next;
      for (let i = 0; i < length; i++) line[i] = field[base + i * step];
      for (let i = 0; i < length; i++) {
        let sum = 0;
        const from = Math.max(0, i - radius), to = Math.min(length - 1, i + radius);
        for (let j = from; j <= to; j++) sum += kernel[j - i + radius] * line[j];
        field[base + i * step] = sum;
      }
    }
  }
}

/** The source image at (y, x) by bilinear interpolation, 0 outside (scipy's map_coordinates, order 1, 'constant'). */
export function sampleBilinear(src: ArrayLike<number>, h: number, w: number, y: number, x: number): number {
  const y0 = Math.floor(y), x0 = Math.floor(x);
  const fy = y - y0, fx = x - x0;
  if (y0 < -1 || y0 >= h || x0 < -1 || x0 >= w) return 0;
  const top = y0 >= 0, bottom = y0 + 1 < h, left = x0 >= 0, right = x0 + 1 < w;
  const i = y0 * w + x0;
  const a = top && left ? src[i] : 0;
  const b = top && right ? src[i + 1] : 0;
  const c = bottom && left ? src[i + w] : 0;
  const d = bottom && right ? src[i + w + 1] : 0;
  return (1 - fy) * ((1 - fx) * a + fx * b) + fy * ((1 - fx) * c + fx * d);
}

/** The inverse affine map and translation of one warp (the first six floats of a transform). */
export interface WarpMatrix {
  m00: number; m01: number; m10: number; m11: number; ty: number; tx: number;
}

/**
 * out [h, w] = src [h, w] sampled at s(p) (see the top) with the displacement fields dy, dx [h, w]
 * already scaled by α (null: none). Values are the bilinear results, not rounded.
 */
export function warpImage(
  src: ArrayLike<number>, h: number, w: number, m: WarpMatrix, dy: Float64Array | null, dx: Float64Array | null, out: Float64Array,
): void {
  const cy = (h - 1) / 2, cx = (w - 1) / 2;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const qy = y + (dy ? dy[i] : 0) - cy - m.ty;
      const qx = x + (dx ? dx[i] : 0) - cx - m.tx;
      out[i] = sampleBilinear(src, h, w, cy + m.m00 * qy + m.m01 * qx, cx + m.m10 * qy + m.m11 * qx);
    }
  }
}

/** Field value `index` under `seed`: uniform in [−1, 1) with 24 bits (assembly/warp.ts's uniform4). */
export function fieldValue(seed: number, index: number): number {
  let x = (seed + Math.imul(index, 0x9e3779b9)) | 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return (x >>> 8) / 8388608 - 1;
}

/** The smoothed fields (dy, dx), each [h, w] and scaled by α, of one image's seed. */
export function warpFields(seed: number, h: number, w: number, sigma: number, alpha: number): [Float64Array, Float64Array] {
  const kernel = gaussianKernel(sigma);
  const fields = [0, 1].map((f) => {
    const field = new Float64Array(h * w);
    for (let i = 0; i < h * w; i++) field[i] = fieldValue(seed, f * h * w + i);
    smoothField(field, h, w, kernel);
    for (let i = 0; i < h * w; i++) field[i] *= alpha;
    return field;
  });
  return [fields[0], fields[1]];
}

/** The transform of image r as a WarpMatrix and its α. */
function transformOf(transforms: Float32Array, r: number): [WarpMatrix, number] {
  const t = transforms.subarray(r * TRANSFORM_FLOATS, (r + 1) * TRANSFORM_FLOATS);
  return [{ m00: t[0], m01: t[1], m10: t[2], m11: t[3], ty: t[4], tx: t[5] }, t[6]];
}

function checkPlan(rows: number, height: number, width: number, sigma: number): void {
  for (const [value, what] of [[rows, 'rows'], [height, 'height'], [width, 'width']] as const) {
    if (!(Number.isInteger(value) && value > 0)) throw new RangeError(`allocWarp: ${what} must be a positive integer, got ${value}`);
  }
  if (!(sigma === 0 || (sigma > 0 && Number.isFinite(sigma)))) {
    throw new RangeError(`allocWarp: sigma must be 0 (no fields) or a positive number, got ${sigma}`);
  }
}

/** The plan's band matrices (see assembly/warp.ts) from the Gaussian of its sigma. */
function fillBands(plan: WarpPlan): void {
  if (plan.sigma === 0) return;
  const kernel = gaussianKernel(plan.sigma);
  const radius = (kernel.length - 1) / 2;
  const wp = Math.ceil(plan.width / 4) * 4;
  for (let j = 0; j < plan.width; j++) {
    for (let x = 0; x < plan.width; x++) if (Math.abs(j - x) <= radius) plan.bandX[j * wp + x] = kernel[j - x + radius];
  }
  for (let y = 0; y < plan.height; y++) {
    for (let i = 0; i < plan.height; i++) if (Math.abs(i - y) <= radius) plan.bandY[y * plan.height + i] = kernel[i - y + radius];
  }
}

function makePlan(allocF32: (length: number) => Float32Array, rows: number, height: number, width: number, sigma: number): WarpPlan {
  checkPlan(rows, height, width, sigma);
  const elastic = sigma > 0;
  const plan: WarpPlan = {
    rows, height, width, sigma,
    bandX: allocF32(elastic ? width * Math.ceil(width / 4) * 4 : 0),
    bandY: allocF32(elastic ? height * height : 0),
    work: allocF32(rows * warpScratchFloats(height, width)),
  };
  fillBands(plan);
  return plan;
}

/** Throws unless the call fits the plan and its arrays. */
function checkCall(plan: WarpPlan, src: Uint8Array | Float32Array, rows: number, transforms: Float32Array, seeds: Int32Array, out: Uint8Array | Float32Array): void {
  if (!(Number.isInteger(rows) && rows >= 0 && rows <= plan.rows)) {
    throw new RangeError(`warpImages: rows must be an integer in [0, ${plan.rows}] (the plan's), got ${rows}`);
  }
  if (src.constructor !== out.constructor) throw new RangeError('warpImages: src and out must both be bytes or both floats');
  const size = rows * plan.height * plan.width;
  if (src.length < size || out.length < size) {
    throw new RangeError(`warpImages: ${rows} images of ${plan.height}×${plan.width} need ${size} values, src has ${src.length} and out ${out.length}`);
  }
  if (transforms.length < rows * TRANSFORM_FLOATS || seeds.length < rows) {
    throw new RangeError(`warpImages: ${rows} images need ${rows * TRANSFORM_FLOATS} transform floats and ${rows} seeds`);
  }
  for (let r = 0; r < rows; r++) {
    const t = transforms.subarray(r * TRANSFORM_FLOATS, r * TRANSFORM_FLOATS + 7);
    if (!t.every(Number.isFinite)) throw new RangeError(`warpImages: image ${r}'s transform has a value that is not finite`);
    if (plan.sigma === 0 && t[6] !== 0) throw new RangeError(`warpImages: image ${r} has α = ${t[6]}, but the plan was made without fields (sigma 0)`);
  }
}

export const warpReference: WarpKernels = {
  allocWarp: (rows, height, width, sigma) => makePlan((length) => new Float32Array(length), rows, height, width, sigma),

  warpImages(plan, src, rows, transforms, seeds, out) {
    checkCall(plan, src, rows, transforms, seeds, out);
    const { height: h, width: w } = plan;
    const size = h * w;
    const values = new Float64Array(size);
    for (let r = 0; r < rows; r++) {
      const [m, alpha] = transformOf(transforms, r);
      const [dy, dx] = alpha !== 0 ? warpFields(seeds[r], h, w, plan.sigma, alpha) : [null, null];
      warpImage(src.subarray(r * size, (r + 1) * size), h, w, m, dy, dx, values);
      const to = r * size;
      if (out instanceof Uint8Array) for (let i = 0; i < size; i++) out[to + i] = Math.min(255, Math.max(0, Math.round(values[i])));
      else out.set(values, to);
    }
  },
};

/** The exports of assembly/warp.ts. */
export interface WarpExports {
  warpImagesU8(src: number, out: number, r0: number, r1: number, h: number, w: number, transforms: number, seeds: number,
    bandX: number, bandY: number, work: number): void;
  warpImagesF32(src: number, out: number, r0: number, r1: number, h: number, w: number, transforms: number, seeds: number,
    bandX: number, bandY: number, work: number): void;
}

/** Pixels below which a batch is warped on the calling thread (a few images: posting costs more). */
const PARALLEL_MIN_PIXELS = 1 << 12;

export function bindWarp(rt: WasmRuntime, wasm: WarpExports): WarpKernels {
  return {
    allocWarp(rows, height, width, sigma) {
      let plan: WarpPlan | undefined;
      asArgumentError(() => {
        plan = makePlan((length) => rt.allocF32(length), rows, height, width, sigma);
      });
      return plan as WarpPlan;
    },

    warpImages(plan, src, rows, transforms, seeds, out) {
      asArgumentError(() => checkCall(plan, src, rows, transforms, seeds, out));
      checkLength(rows, 'warpImages: rows');
      const { height: h, width: w } = plan;
      const size = rows * h * w;
      const ps = rt.pointer(src, size, 'warpImages: src');
      const po = rt.pointer(out, size, 'warpImages: out');
      rt.distinct(ps, po, size * src.BYTES_PER_ELEMENT, 'warpImages');
      const pt = rt.pointer(transforms, rows * TRANSFORM_FLOATS, 'warpImages: transforms');
      const pseeds = rt.pointer(seeds, rows, 'warpImages: seeds');
      const px = rt.pointer(plan.bandX, plan.bandX.length, 'warpImages: the plan');
      const py = rt.pointer(plan.bandY, plan.bandY.length, 'warpImages: the plan');
      const pw = rt.pointer(plan.work, rows * warpScratchFloats(h, w), 'warpImages: the plan');
      const operation = src instanceof Uint8Array ? 'warpImagesU8' : 'warpImagesF32';
      const parts = rt.parts(size, PARALLEL_MIN_PIXELS, rows);
      for (let t = parts - 1; t >= 0; t--) {
        const r0 = splitPoint(rows, 1, parts, t);
        const r1 = splitPoint(rows, 1, parts, t + 1);
        if (t > 0) rt.post(t, Operation[operation], ps, po, r0, r1, h, w, pt, pseeds, px, py, pw);
        else wasm[operation](ps, po, r0, r1, h, w, pt, pseeds, px, py, pw);
      }
      rt.finish(parts);
    },
  };
}
