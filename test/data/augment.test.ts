// The distortions of src/data/augment.ts against scipy.ndimage (test/fixtures/make_augment_fixture.py:
// affine_transform, gaussian_filter, map_coordinates, order 1, zeros outside) on an MNIST digit and a
// random 9x11 image, and against exact cases (identity, whole-pixel shifts, a quarter turn).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createReferenceKernels, createWasmKernels, Random, type Kernels } from '../../src/core/index.js';
import { gaussianKernel, smoothField, TRANSFORM_FLOATS, warpImage } from '../../src/core/ops/warp.js';
import { Augmenter, warpMatrix, type AffineParams, type AugmentSpec } from '../../src/data/augment.js';
import { loadData } from '../../src/data/source.js';

interface Case {
  name: string; height: number; width: number; image: number[]; affine: AffineParams; sigma: number; alpha: number;
  u: number[]; v: number[]; expected_affine: number[]; expected_smoothed_u: number[]; expected_elastic_affine: number[];
}
const { cases } = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'data', 'augment.json'), 'utf8')) as { cases: Case[] };

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance, `${what}: element ${i} is ${actual[i]}, scipy gives ${expected[i]}`);
  }
}

describe('augmentation transforms', () => {
  for (const c of cases) {
    it(`match scipy.ndimage on the ${c.name} image (${c.height}x${c.width})`, () => {
      const n = c.height * c.width;
      const out = new Float64Array(n);
      warpImage(c.image, c.height, c.width, warpMatrix(c.affine), null, null, out);
      assertClose(out, c.expected_affine, 1e-9, `${c.name}: affine`);
      assert.ok(out.some((v, i) => v !== c.image[i]), `${c.name}: the warp changes the image`);

      const kernel = gaussianKernel(c.sigma);
      const du = Float64Array.from(c.u);
      smoothField(du, c.height, c.width, kernel);
      assertClose(du, c.expected_smoothed_u, 1e-12, `${c.name}: smoothed field`);
      const dv = Float64Array.from(c.v);
      smoothField(dv, c.height, c.width, kernel);
      for (let i = 0; i < n; i++) {
        du[i] *= c.alpha;
        dv[i] *= c.alpha;
      }
      warpImage(c.image, c.height, c.width, warpMatrix(c.affine), du, dv, out);
      assertClose(out, c.expected_elastic_affine, 1e-9, `${c.name}: elastic and affine`);
    });
  }

  it('are exact where they must be: identity, whole-pixel shifts, a quarter turn', () => {
    const [h, w] = [5, 5];
    const image = Array.from({ length: h * w }, (_, i) => (i * 37) % 256);
    const out = new Float64Array(h * w);
    const none: AffineParams = { rotate: 0, scale: 1, shear: 0, translateY: 0, translateX: 0 };
    warpImage(image, h, w, warpMatrix(none), null, null, out);
    assert.deepEqual(Array.from(out), image);
    // a shift of (1, −2): output (y, x) shows source (y − 1, x + 2), zeros where that is outside
    warpImage(image, h, w, warpMatrix({ ...none, translateY: 1, translateX: -2 }), null, null, out);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const [sy, sx] = [y - 1, x + 2];
      assert.equal(out[y * w + x], sy >= 0 && sy < h && sx < w ? image[sy * w + sx] : 0, `shift at (${y}, ${x})`);
    }
    // 90 degrees about the centre of a square image is a permutation of its pixels
    warpImage(image, h, w, warpMatrix({ ...none, rotate: 90 }), null, null, out);
    assert.deepEqual(Array.from(out, Math.round).sort((a, b) => a - b), [...image].sort((a, b) => a - b));
    // a zero displacement field is the identity too
    warpImage(image, h, w, warpMatrix(null), new Float64Array(h * w), new Float64Array(h * w), out);
    assert.deepEqual(Array.from(out), image);
    assert.throws(() => gaussianKernel(0), /sigma must be a positive number, got 0/);
  });

  it('draws each image\'s distortion from its seed, and resumes from its state', async () => {
    const kernels = await createWasmKernels();
    const digits = loadData('mnist').test.images.subarray(0, 4 * 784);
    const src = kernels.allocU8(4 * 784);
    src.set(digits);
    const spec: AugmentSpec = { affine: { rotate: 15, scale: 0.1, shear: 10, translate: 2 }, elastic: { alpha: 34, sigma: 4 } };
    const make = (s: AugmentSpec, seed: number) => new Augmenter(kernels, s, seed, 4, 28, 28);
    const run = (augmenter: Augmenter, count = 4): Uint8Array[] => {
      const out = kernels.allocU8(4 * 784);
      augmenter.apply(src, count, out);
      return Array.from({ length: count }, (_, r) => out.slice(r * 784, (r + 1) * 784));
    };
    const first = make(spec, 7);
    const a = run(first);
    const again = run(first);
    assert.deepEqual(run(make(spec, 7)), a, 'the same seed gives the same images');
    assert.notDeepEqual(again, a, 'the next batch gets new distortions');
    assert.notDeepEqual(run(make(spec, 8)), a, 'another seed, another distortion');
    for (let r = 0; r < 4; r++) assert.notDeepEqual(a[r], digits.slice(r * 784, (r + 1) * 784), `image ${r} is distorted`);
    // a generator restored from the state after one batch continues with the second
    const resumed = make(spec, 0);
    const restarted = make(spec, 7);
    run(restarted);
    resumed.state = restarted.state;
    assert.deepEqual(run(resumed), again);
    // the ink stays about as much as it was: a distortion moves strokes, it does not erase them
    const ink = (image: ArrayLike<number>) => Array.from(image).reduce((sum, v) => sum + v, 0);
    a.forEach((image, r) => {
      const before = ink(digits.subarray(r * 784, (r + 1) * 784));
      assert.ok(Math.abs(ink(image) / before - 1) < 0.35, `image ${r}: ink ${ink(image)} against ${before}`);
    });
    // zero ranges (and alpha 0) leave the digits as they are
    const still = make({ affine: { rotate: 0, scale: 0, shear: 0, translate: 0 }, elastic: { alpha: 0, sigma: 4 } }, 1);
    assert.deepEqual(Buffer.concat(run(still)), Buffer.from(digits));
    assert.throws(() => make({ affine: { rotate: 10, scale: 1, shear: 0, translate: 0 } }, 1), /affine scale must be below 1/);
    assert.throws(() => make({ elastic: { alpha: 34, sigma: -1 } }, 1), /elastic sigma must be a positive number, got -1/);
    assert.throws(() => first.apply(src, 5, kernels.allocU8(5 * 784)), /this augmenter takes up to 4/);
    await kernels.close();
  });
});

describe('the warp kernels', () => {
  const reference = createReferenceKernels();
  const backends: Kernels[] = [];
  before(async () => {
    backends.push(await createWasmKernels({ relaxed: false }), await createWasmKernels(), await createWasmKernels({ threads: 2 }));
  });
  after(async () => {
    for (const kernels of backends) await kernels.close();
  });

  /** rows random images of h×w (bytes, about a fifth of them ink), their transforms and seeds. */
  function problem(rows: number, h: number, w: number, seed: number) {
    const random = new Random(seed);
    const images = Uint8Array.from({ length: rows * h * w }, () => (random.next() < 0.2 ? random.int(256) : 0));
    const transforms = new Float32Array(rows * TRANSFORM_FLOATS);
    const seeds = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      const m = warpMatrix({
        rotate: random.uniform(-20, 20), scale: random.uniform(0.8, 1.2), shear: random.uniform(-15, 15),
        translateY: random.uniform(-3, 3), translateX: random.uniform(-3, 3),
      });
      // every third image without fields: a plan with fields takes affine-only images too
      transforms.set([m.m00, m.m01, m.m10, m.m11, m.ty, m.tx, r % 3 === 2 ? 0 : random.uniform(5, 40), 0], r * TRANSFORM_FLOATS);
      seeds[r] = random.nextUint32() | 0;
    }
    return { images, transforms, seeds };
  }

  function warp<T extends Uint8Array | Float32Array>(kernels: Kernels, rows: number, h: number, w: number, sigma: number,
    p: ReturnType<typeof problem>, floats: T extends Float32Array ? true : false): T {
    const plan = kernels.allocWarp(rows, h, w, sigma);
    const src = floats ? kernels.allocF32(rows * h * w) : kernels.allocU8(rows * h * w);
    src.set(p.images);
    const out = floats ? kernels.allocF32(rows * h * w) : kernels.allocU8(rows * h * w);
    const transforms = kernels.allocF32(p.transforms.length);
    transforms.set(p.transforms);
    const seeds = kernels.allocI32(p.seeds.length);
    seeds.set(p.seeds);
    kernels.warpImages(plan, src, rows, transforms, seeds, out);
    return out as T;
  }

  for (const [rows, h, w, sigma] of [[6, 28, 28, 4], [5, 9, 11, 1.5], [40, 28, 28, 4], [3, 17, 6, 2]] as const) {
    it(`match the reference on ${rows} images of ${h}x${w}, fields of sigma ${sigma}, and do not depend on the thread count`, () => {
      const p = problem(rows, h, w, rows * 1000 + h);
      const expected = warp<Float32Array>(reference, rows, h, w, sigma, p, true);
      const expectedBytes = warp<Uint8Array>(reference, rows, h, w, sigma, p, false);
      assert.ok(expected.some((v, i) => Math.abs(v - p.images[i]) > 1), 'the warp moves the ink');
      const results: Uint8Array[] = [];
      for (const kernels of backends) {
        const what = `${kernels.name} on ${kernels.threads} thread(s)`;
        const floats = warp<Float32Array>(kernels, rows, h, w, sigma, p, true);
        for (let i = 0; i < expected.length; i++) {
          if (!(Math.abs(floats[i] - expected[i]) <= 2e-3)) assert.fail(`${what}: pixel ${i} is ${floats[i]}, the reference gives ${expected[i]}`);
        }
        const bytes = warp<Uint8Array>(kernels, rows, h, w, sigma, p, false);
        let off = 0;
        for (let i = 0; i < bytes.length; i++) {
          assert.ok(Math.abs(bytes[i] - expectedBytes[i]) <= 1, `${what}: byte ${i} is ${bytes[i]}, the reference gives ${expectedBytes[i]}`);
          if (bytes[i] !== expectedBytes[i]) off++;
        }
        assert.ok(off <= bytes.length / 1000, `${what}: ${off} bytes differ by one from the reference`);
        results.push(bytes);
      }
      assert.deepEqual(results[2], results[1], 'two threads give the bytes one thread gives');
    });
  }

  it('refuse calls that do not fit their plan', async () => {
    const kernels = backends[0];
    const plan = kernels.allocWarp(2, 4, 4, 0);
    const src = kernels.allocU8(32);
    const transforms = kernels.allocF32(16);
    const seeds = kernels.allocI32(2);
    transforms.set([1, 0, 0, 1, 0, 0, 5, 0]);
    assert.throws(() => kernels.warpImages(plan, src, 1, transforms, seeds, kernels.allocU8(32)), /image 0 has α = 5, but the plan was made without fields/);
    transforms[6] = 0;
    assert.throws(() => kernels.warpImages(plan, src, 3, transforms, seeds, kernels.allocU8(48)), /rows must be an integer in \[0, 2\]/);
    assert.throws(() => kernels.warpImages(plan, src, 2, transforms, seeds, kernels.allocF32(32) as unknown as Uint8Array), /both be bytes or both floats/);
    assert.throws(() => kernels.warpImages(plan, src, 2, transforms, seeds, src), /overlap/);
    assert.throws(() => kernels.warpImages(plan, src, 2, transforms, seeds, new Uint8Array(32)), /not in this kernel memory/);
    transforms[4] = NaN;
    assert.throws(() => kernels.warpImages(plan, src, 1, transforms, seeds, kernels.allocU8(32)), /image 0's transform has a value that is not finite/);
    assert.throws(() => kernels.allocWarp(2, 0, 4, 0), /height must be a positive integer, got 0/);
    assert.throws(() => kernels.allocWarp(2, 4, 4, -1), /sigma must be 0 \(no fields\) or a positive number, got -1/);
  });
});
