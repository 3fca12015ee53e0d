/**
 * Random distortions of training images (Simard et al. 2003; Ciresan et al. 2010), drawn per image
 * from a seeded generator, so that a run sees new variants of its digits every epoch and the same ones
 * again from the same seed.
 *
 *   affine   rotation by ±rotate degrees, scale in [1 − scale, 1 + scale], shear of x along y by
 *            ±shear degrees, translation by ±translate pixels on each axis; about the image's centre
 *   elastic  two displacement fields (one per axis) of uniform values in [−1, 1] per pixel, each
 *            smoothed by a Gaussian of width σ (truncated at 4σ, zeros outside the image) and scaled by α
 *
 * An output pixel p = (y, x) reads the source at  s(p) = c + A⁻¹·(p + α·d(p) − c − t)  (c the centre,
 * A the affine matrix, t the translation, d the smoothed field at p), by bilinear interpolation with
 * zeros outside the image: with both, the elastic field bends the output grid and the affine map takes
 * the bent grid into the source. The formulas are scipy.ndimage's affine_transform, gaussian_filter and
 * map_coordinates (order 1, mode 'constant'); test/fixtures/make_augment_fixture.py records those.
 */

import { Random, type RandomState } from '../core/random.js';

/** Ranges of the random affine map (0 turns a part off). */
export interface AffineRange {
  /** Degrees, drawn in [−rotate, rotate]. */
  rotate: number;
  /** Drawn in [1 − scale, 1 + scale]. */
  scale: number;
  /** Degrees, drawn in [−shear, shear]. */
  shear: number;
  /** Pixels, drawn in [−translate, translate] on each axis. */
  translate: number;
}

export interface ElasticOptions {
  /** The displacement's scale in pixels (MNIST's usual 34). */
  alpha: number;
  /** The smoothing Gaussian's width in pixels (MNIST's usual 4). */
  sigma: number;
}

/** One image's affine parameters (what the generator draws from an AffineRange). */
export interface AffineParams {
  rotate: number;
  scale: number;
  shear: number;
  translateY: number;
  translateX: number;
}

/**
 * A = R(rotate)·Sh(shear)·scale acting on (y, x) as a column: returns A⁻¹ as [m00, m01, m10, m11]
 * (row-major), which maps output offsets back into the source.
 */
export function inverseAffine(p: Pick<AffineParams, 'rotate' | 'scale' | 'shear'>): [number, number, number, number] {
  const r = (p.rotate * Math.PI) / 180;
  const k = Math.tan((p.shear * Math.PI) / 180);
  const [cos, sin] = [Math.cos(r), Math.sin(r)];
  // rotation [[cos, −sin], [sin, cos]] on (y, x), times the shear x' = x + k·y ([[1, 0], [k, 1]]), times scale
  const a00 = (cos - sin * k) * p.scale, a01 = -sin * p.scale;
  const a10 = (sin + cos * k) * p.scale, a11 = cos * p.scale;
  const det = a00 * a11 - a01 * a10;
  return [a11 / det, -a01 / det, -a10 / det, a00 / det];
}

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

/**
 * out [h, w] = src [h, w] sampled at s(p) (see the top) for the given affine parameters (null: none) and
 * smoothed displacement fields dy, dx [h, w] already scaled by α (null: none). Values are the bilinear
 * results, not rounded.
 */
export function warpImage(
  src: ArrayLike<number>, h: number, w: number, affine: AffineParams | null,
  dy: Float64Array | null, dx: Float64Array | null, out: Float64Array,
): void {
  const [m00, m01, m10, m11] = affine ? inverseAffine(affine) : [1, 0, 0, 1];
  const ty = affine?.translateY ?? 0, tx = affine?.translateX ?? 0;
  const cy = (h - 1) / 2, cx = (w - 1) / 2;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const qy = y + (dy ? dy[i] : 0) - cy - ty;
      const qx = x + (dx ? dx[i] : 0) - cx - tx;
      out[i] = sampleBilinear(src, h, w, cy + m00 * qy + m01 * qx, cx + m10 * qy + m11 * qx);
    }
  }
}

/** What to distort with, each part optional (both: the elastic field bends the grid the affine map reads). */
export interface AugmentSpec {
  affine?: AffineRange;
  elastic?: ElasticOptions;
}

/**
 * Draws every image's distortion from its own seeded generator and writes the distorted image as
 * bytes (the bilinear values rounded; they stay within the source's range). Per image it draws, in
 * this order, the affine parameters (rotate, scale, shear, translate y, translate x; uniform in their
 * ranges) and then the two fields (y, then x; row after row). Its generator's state goes into a
 * checkpoint, so that a resumed run distorts as the uninterrupted one does.
 */
export class Augmenter {
  private readonly random: Random;
  private readonly kernel: Float64Array | null;
  private buffers: { size: number; dy: Float64Array; dx: Float64Array; out: Float64Array } | null = null;

  constructor(readonly spec: AugmentSpec, seed: number) {
    const { affine, elastic } = spec;
    if (affine) {
      for (const key of ['rotate', 'scale', 'shear', 'translate'] as const) {
        if (!(affine[key] >= 0 && Number.isFinite(affine[key]))) throw new RangeError(`affine ${key} must be a non-negative number, got ${affine[key]}`);
      }
      if (affine.scale >= 1) throw new RangeError(`affine scale must be below 1 (the factor is drawn in [1 − scale, 1 + scale]), got ${affine.scale}`);
    }
    if (elastic && !(elastic.alpha >= 0 && Number.isFinite(elastic.alpha))) throw new RangeError(`elastic alpha must be a non-negative number, got ${elastic.alpha}`);
    this.kernel = elastic ? gaussianKernel(elastic.sigma) : null;
    this.random = new Random(seed);
  }

  get state(): RandomState {
    return this.random.getState();
  }

  set state(state: RandomState) {
    this.random.setState(state);
  }

  /** The next image's affine parameters, or null without an affine part. */
  private drawAffine(): AffineParams | null {
    const range = this.spec.affine;
    if (!range) return null;
    const r = this.random;
    return {
      rotate: r.uniform(-range.rotate, range.rotate),
      scale: r.uniform(1 - range.scale, 1 + range.scale),
      shear: r.uniform(-range.shear, range.shear),
      translateY: r.uniform(-range.translate, range.translate),
      translateX: r.uniform(-range.translate, range.translate),
    };
  }

  /** out [h, w] = a new random distortion of src [h, w]. */
  apply(src: ArrayLike<number>, h: number, w: number, out: Uint8Array | Float32Array): void {
    const size = h * w;
    if (this.buffers?.size !== size) {
      this.buffers = { size, dy: new Float64Array(size), dx: new Float64Array(size), out: new Float64Array(size) };
    }
    const { dy, dx, out: values } = this.buffers;
    const affine = this.drawAffine();
    const elastic = this.spec.elastic;
    if (elastic && this.kernel) {
      for (const field of [dy, dx]) {
        for (let i = 0; i < size; i++) field[i] = this.random.uniform(-1, 1);
        smoothField(field, h, w, this.kernel);
        for (let i = 0; i < size; i++) field[i] *= elastic.alpha;
      }
    }
    warpImage(src, h, w, affine, elastic ? dy : null, elastic ? dx : null, values);
    for (let i = 0; i < size; i++) out[i] = Math.round(values[i]);
  }
}
