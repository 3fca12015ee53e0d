// The distortions of src/data/augment.ts against scipy.ndimage (test/fixtures/make_augment_fixture.py:
// affine_transform, gaussian_filter, map_coordinates, order 1, zeros outside) on an MNIST digit and a
// random 9x11 image, and against exact cases (identity, whole-pixel shifts, a quarter turn).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Augmenter, gaussianKernel, smoothField, warpImage, type AffineParams, type AugmentSpec } from '../../src/data/augment.js';
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
      warpImage(c.image, c.height, c.width, c.affine, null, null, out);
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
      warpImage(c.image, c.height, c.width, c.affine, du, dv, out);
      assertClose(out, c.expected_elastic_affine, 1e-9, `${c.name}: elastic and affine`);
    });
  }

  it('are exact where they must be: identity, whole-pixel shifts, a quarter turn', () => {
    const [h, w] = [5, 5];
    const image = Array.from({ length: h * w }, (_, i) => (i * 37) % 256);
    const out = new Float64Array(h * w);
    const none: AffineParams = { rotate: 0, scale: 1, shear: 0, translateY: 0, translateX: 0 };
    warpImage(image, h, w, none, null, null, out);
    assert.deepEqual(Array.from(out), image);
    // a shift of (1, −2): output (y, x) shows source (y − 1, x + 2), zeros where that is outside
    warpImage(image, h, w, { ...none, translateY: 1, translateX: -2 }, null, null, out);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const [sy, sx] = [y - 1, x + 2];
      assert.equal(out[y * w + x], sy >= 0 && sy < h && sx < w ? image[sy * w + sx] : 0, `shift at (${y}, ${x})`);
    }
    // 90 degrees about the centre of a square image is a permutation of its pixels
    warpImage(image, h, w, { ...none, rotate: 90 }, null, null, out);
    assert.deepEqual(Array.from(out, Math.round).sort((a, b) => a - b), [...image].sort((a, b) => a - b));
    // a zero displacement field is the identity too
    warpImage(image, h, w, null, new Float64Array(h * w), new Float64Array(h * w), out);
    assert.deepEqual(Array.from(out), image);
    assert.throws(() => gaussianKernel(0), /sigma must be a positive number, got 0/);
  });

  it('draws each image\'s distortion from its seed, and resumes from its state', () => {
    const test = loadData('mnist').test;
    const digit = test.images.subarray(0, 784);
    const spec: AugmentSpec = { affine: { rotate: 15, scale: 0.1, shear: 10, translate: 2 }, elastic: { alpha: 34, sigma: 4 } };
    const run = (augmenter: Augmenter, count: number) => Array.from({ length: count }, () => {
      const out = new Uint8Array(784);
      augmenter.apply(digit, 28, 28, out);
      return out;
    });
    const a = run(new Augmenter(spec, 7), 4);
    const b = run(new Augmenter(spec, 7), 4);
    assert.deepEqual(a, b, 'the same seed gives the same images');
    assert.notDeepEqual(a[0], a[1], 'each image gets its own distortion');
    assert.notDeepEqual(run(new Augmenter(spec, 8), 1)[0], a[0], 'another seed, another distortion');
    // a generator restored from the state after two images continues with the third and fourth
    const first = new Augmenter(spec, 7);
    run(first, 2);
    const resumed = new Augmenter(spec, 0);
    resumed.state = first.state;
    assert.deepEqual(run(resumed, 2), a.slice(2));
    // the ink stays about as much as it was: a distortion moves strokes, it does not erase them
    const ink = (image: ArrayLike<number>) => Array.from(image).reduce((sum, v) => sum + v, 0);
    for (const image of a) assert.ok(Math.abs(ink(image) / ink(digit) - 1) < 0.35, `ink ${ink(image)} against ${ink(digit)}`);
    // zero ranges (and alpha 0) leave the digit as it is
    const still = new Augmenter({ affine: { rotate: 0, scale: 0, shear: 0, translate: 0 }, elastic: { alpha: 0, sigma: 4 } }, 1);
    assert.deepEqual(run(still, 1)[0], Uint8Array.from(digit));
    assert.throws(() => new Augmenter({ affine: { rotate: 10, scale: 1, shear: 0, translate: 0 } }, 1), /affine scale must be below 1/);
    assert.throws(() => new Augmenter({ elastic: { alpha: 34, sigma: -1 } }, 1), /sigma must be a positive number, got -1/);
  });
});
