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
 * the bent grid into the source. The warp itself is a kernel (src/core/ops/warp.ts, with the formulas
 * checked against scipy.ndimage); this file draws each image's parameters.
 */

import type { Kernels, WarpPlan } from '../core/kernels.js';
import { TRANSFORM_FLOATS, type WarpMatrix } from '../core/ops/warp.js';
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

/** What to distort with, each part optional (both: the elastic field bends the grid the affine map reads). */
export interface AugmentSpec {
  affine?: AffineRange;
  elastic?: ElasticOptions;
}

/** The usual ranges, as `--augment affine,elastic` takes them when no range is given. */
export const DEFAULT_AFFINE: AffineRange = { rotate: 10, scale: 0.1, shear: 10, translate: 2 };
export const DEFAULT_ELASTIC: ElasticOptions = { alpha: 34, sigma: 4 };

/** The warp (inverse matrix and translation) of one image's affine parameters (the identity for null). */
export function warpMatrix(p: AffineParams | null): WarpMatrix {
  if (!p) return { m00: 1, m01: 0, m10: 0, m11: 1, ty: 0, tx: 0 };
  const [m00, m01, m10, m11] = inverseAffine(p);
  return { m00, m01, m10, m11, ty: p.translateY, tx: p.translateX };
}

/** Throws a RangeError naming the first bad value of an augmentation spec. */
export function checkAugmentSpec(spec: AugmentSpec): void {
  const { affine, elastic } = spec;
  if (affine) {
    for (const key of ['rotate', 'scale', 'shear', 'translate'] as const) {
      if (!(affine[key] >= 0 && Number.isFinite(affine[key]))) throw new RangeError(`affine ${key} must be a non-negative number, got ${affine[key]}`);
    }
    if (affine.scale >= 1) throw new RangeError(`affine scale must be below 1 (the factor is drawn in [1 − scale, 1 + scale]), got ${affine.scale}`);
    if (affine.shear >= 90) throw new RangeError(`affine shear must be below 90 degrees, got ${affine.shear}`);
  }
  if (elastic) {
    if (!(elastic.alpha >= 0 && Number.isFinite(elastic.alpha))) throw new RangeError(`elastic alpha must be a non-negative number, got ${elastic.alpha}`);
    if (!(elastic.sigma > 0 && Number.isFinite(elastic.sigma))) throw new RangeError(`elastic sigma must be a positive number, got ${elastic.sigma}`);
  }
}

/** The spec as `--augment` writes it back, e.g. "affine(rotate 10, scale 0.1, shear 10, translate 2) + elastic(alpha 34, sigma 4)". */
export function formatAugmentSpec(spec: AugmentSpec | null | undefined): string {
  const parts: string[] = [];
  if (spec?.affine) {
    const a = spec.affine;
    parts.push(`affine(rotate ${a.rotate}, scale ${a.scale}, shear ${a.shear}, translate ${a.translate})`);
  }
  if (spec?.elastic) parts.push(`elastic(alpha ${spec.elastic.alpha}, sigma ${spec.elastic.sigma})`);
  return parts.length > 0 ? parts.join(' + ') : 'none';
}

/**
 * Distorts batches of images with the warp kernels (src/core/ops/warp.ts), each image by its own
 * parameters drawn from one seeded generator: per image, in this order, the affine parameters (rotate,
 * scale, shear, translate y, translate x; uniform in their ranges) and then the seed of its elastic
 * fields (32 bits). The generator's state goes into a checkpoint, so that a resumed run distorts as
 * the uninterrupted one does; the kernels' thread count does not change the result.
 */
export class Augmenter {
  private readonly random: Random;
  private readonly plan: WarpPlan;
  private readonly transforms: Float32Array;
  private readonly seeds: Int32Array;

  constructor(
    private readonly kernels: Kernels, readonly spec: AugmentSpec, seed: number,
    /** The most images one call distorts, and their size. */
    readonly rows: number, readonly height: number, readonly width: number,
  ) {
    checkAugmentSpec(spec);
    this.random = new Random(seed);
    this.plan = kernels.allocWarp(rows, height, width, spec.elastic?.sigma ?? 0);
    this.transforms = kernels.allocF32(rows * TRANSFORM_FLOATS);
    this.seeds = kernels.allocI32(rows);
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

  /**
   * out = a new random distortion of each of the `rows` images of src ([rows, height, width], bytes or
   * floats, both from the kernels' memory; out must not overlap src).
   */
  apply<T extends Uint8Array | Float32Array>(src: T, rows: number, out: T): void {
    if (!(Number.isInteger(rows) && rows >= 0 && rows <= this.rows)) {
      throw new RangeError(`augmentation of ${rows} images: this augmenter takes up to ${this.rows}`);
    }
    const alpha = this.spec.elastic?.alpha ?? 0;
    const t = this.transforms;
    for (let r = 0; r < rows; r++) {
      const m = warpMatrix(this.drawAffine());
      const at = r * TRANSFORM_FLOATS;
      [t[at], t[at + 1], t[at + 2], t[at + 3], t[at + 4], t[at + 5], t[at + 6]] = [m.m00, m.m01, m.m10, m.m11, m.ty, m.tx, alpha];
      this.seeds[r] = this.spec.elastic ? this.random.nextUint32() | 0 : 0;
    }
    this.kernels.warpImages(this.plan, src, rows, this.transforms, this.seeds, out);
  }
}

/** An augmentation spec that cannot be used, with what was wrong and how to write it. */
export class AugmentSpecError extends RangeError {
  constructor(what: string, problem: string) {
    super(`${what}: ${problem}`);
    this.name = 'AugmentSpecError';
  }
}

export const AUGMENT_FORMS =
  '"none", "affine", "elastic" or "affine,elastic"; or an object such as ' +
  '{ "affine": { "rotate": 10, "scale": 0.1, "shear": 10, "translate": 2 }, "elastic": { "alpha": 34, "sigma": 4 } } ' +
  '(omitted ranges take these defaults)';

/**
 * An augmentation as the faces take it (`what` names it in errors): a list of parts as text ("affine",
 * "elastic", "affine,elastic"; "none" or "" for none), or an object { affine?, elastic? } whose parts are
 * true or ranges (each range optional, the default where absent). `ranges` overrides single ranges of
 * the parts given (the command line's --affine-rotate, …); a range for a part not asked for is refused.
 * Returns undefined for none.
 */
export function parseAugment(
  value: unknown, what: string,
  ranges: Partial<AffineRange> & Partial<ElasticOptions> = {},
): AugmentSpec | undefined {
  let parts: { affine?: unknown; elastic?: unknown };
  if (value === undefined || value === null || value === false) parts = {};
  else if (typeof value === 'string') {
    parts = {};
    const names = value.split(',').map((name) => name.trim()).filter((name) => name !== '' && name !== 'none');
    for (const name of names) {
      if (name !== 'affine' && name !== 'elastic') throw new AugmentSpecError(what, `'${name}' is not a distortion: use ${AUGMENT_FORMS}`);
      parts[name] = true;
    }
  } else if (typeof value === 'object' && !Array.isArray(value)) {
    parts = value as typeof parts;
    for (const key of Object.keys(parts)) {
      if (key !== 'affine' && key !== 'elastic') throw new AugmentSpecError(what, `'${key}' is not a distortion: use ${AUGMENT_FORMS}`);
    }
  } else {
    throw new AugmentSpecError(what, `${JSON.stringify(value)} is not an augmentation: use ${AUGMENT_FORMS}`);
  }
  const spec: AugmentSpec = {};
  const affineKeys = ['rotate', 'scale', 'shear', 'translate'] as const;
  const elasticKeys = ['alpha', 'sigma'] as const;
  const part = <K extends string>(name: string, given: unknown, keys: readonly K[], defaults: Record<K, number>): Record<K, number> | undefined => {
    if (given === undefined || given === false) return undefined;
    if (given !== true && (typeof given !== 'object' || given === null || Array.isArray(given))) {
      throw new AugmentSpecError(what, `${name} must be true or an object of ranges (${keys.join(', ')}), got ${JSON.stringify(given)}`);
    }
    const out = { ...defaults };
    for (const [key, v] of Object.entries(given === true ? {} : (given as object))) {
      if (!keys.includes(key as K)) throw new AugmentSpecError(what, `${name} has no range '${key}' (it has ${keys.join(', ')})`);
      if (typeof v !== 'number') throw new AugmentSpecError(what, `${name} ${key} must be a number, got ${JSON.stringify(v)}`);
      out[key as K] = v;
    }
    return out;
  };
  spec.affine = part('affine', parts.affine, affineKeys, DEFAULT_AFFINE);
  spec.elastic = part('elastic', parts.elastic, elasticKeys, DEFAULT_ELASTIC);
  for (const key of affineKeys) {
    if (ranges[key] === undefined) continue;
    if (!spec.affine) throw new AugmentSpecError(what, `a ${key} range needs the affine distortion (add affine)`);
    spec.affine[key] = ranges[key];
  }
  for (const key of elasticKeys) {
    if (ranges[key] === undefined) continue;
    if (!spec.elastic) throw new AugmentSpecError(what, `an elastic ${key} needs the elastic distortion (add elastic)`);
    spec.elastic[key] = ranges[key];
  }
  if (!spec.affine) delete spec.affine;
  if (!spec.elastic) delete spec.elastic;
  if (!spec.affine && !spec.elastic) return undefined;
  try {
    checkAugmentSpec(spec);
  } catch (error) {
    throw new AugmentSpecError(what, (error as Error).message);
  }
  return spec;
}
