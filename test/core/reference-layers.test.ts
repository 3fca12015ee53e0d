/**
 * The reference kernels of convolution, pooling, batch normalization and dropout: in float32 against
 * torch.nn (test/fixtures/make_conv_fixtures.py) to 1e-5, and every backward pass in float64 against
 * central finite differences of its forward pass.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { conv2dGeometry, pool2dGeometry, type FloatArray } from '../../src/core/geometry2d.js';

type Pair = [number, number];
import { Random } from '../../src/core/random.js';
import {
  batchnormBackwardEval, batchnormBackwardTraining, batchnormForwardEval, batchnormForwardTraining, batchnormGeometry,
} from '../../src/core/reference-batchnorm.js';
import { conv2dForward, conv2dInputGrad, conv2dWeightGrad } from '../../src/core/reference-conv2d.js';
import { dropoutBackward, dropoutForward, dropoutMask } from '../../src/core/reference-dropout.js';
import {
  avgpool2dBackward, avgpool2dForward, maxpool2dBackward, maxpool2dForward,
} from '../../src/core/reference-pool2d.js';

interface ConvCase {
  batch: number; channels: number; height: number; width: number; out_channels: number;
  kernel: Pair; stride: Pair; padding: Pair; output_shape: number[];
  x: number[]; weight: number[]; bias: number[] | null; y: number[]; dy: number[]; dx: number[]; dweight: number[]; dbias: number[] | null;
}
interface PoolCase {
  batch: number; channels: number; height: number; width: number; kernel: Pair; stride: Pair; output_shape: number[];
  x: number[];
  max: { y: number[]; indices: number[]; dy: number[]; dx: number[] };
  avg: { y: number[]; dy: number[]; dx: number[] };
}
interface BatchnormMode {
  x: number[]; weight: number[]; bias: number[]; running_mean: number[]; running_var: number[];
  y: number[]; dy: number[]; dx: number[]; dweight: number[]; dbias: number[];
  running_mean_after: number[]; running_var_after: number[]; num_batches_tracked_after: number;
}
interface BatchnormCase { shape: number[]; eps: number; momentum: number; training: BatchnormMode; eval: BatchnormMode }
interface DropoutCase { shape: number[]; p: number; x: number[]; keep: number[]; y: number[]; dy: number[]; dx: number[] }

const fixture = JSON.parse(readFileSync(new URL('../fixtures/nn/torch_layers.json', import.meta.url), 'utf8')) as {
  conv2d: ConvCase[]; pool2d: PoolCase[]; batchnorm: BatchnormCase[]; dropout: DropoutCase[];
};

const f32 = (values: number[]) => Float32Array.from(values);

/** Every value within 1e-5 (relative to values above 1) of the float32 torch recorded. */
function assertClose(got: FloatArray, want: number[], what: string, tolerance = 1e-5): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const error = Math.abs(got[i] - Math.fround(want[i]));
    if (!(error <= tolerance * Math.max(1, Math.abs(want[i])))) {
      assert.fail(`${what}[${i}]: got ${got[i]}, torch has ${want[i]} (difference ${error.toExponential(2)})`);
    }
  }
}

function randomArray(random: Random, length: number, low = -1, high = 1): Float64Array {
  return Float64Array.from({ length }, () => random.uniform(low, high));
}

/**
 * Checks `analytic` = ∂L/∂input against central differences, where `loss()` runs the forward pass on
 * the current values of `input` and returns L = Σ y·dy (so the backward pass was given dy).
 */
function checkFiniteDifferences(what: string, input: Float64Array, analytic: FloatArray, loss: () => number, h = 1e-6): void {
  assert.equal(analytic.length, input.length);
  let worst = 0;
  for (let k = 0; k < input.length; k++) {
    const saved = input[k];
    input[k] = saved + h;
    const up = loss();
    input[k] = saved - h;
    const down = loss();
    input[k] = saved;
    const numeric = (up - down) / (2 * h);
    const error = Math.abs(numeric - analytic[k]) / Math.max(1, Math.abs(numeric));
    worst = Math.max(worst, error);
    if (!(error <= 1e-6)) assert.fail(`${what}[${k}]: backward gives ${analytic[k]}, finite differences ${numeric}`);
  }
  assert.ok(worst <= 1e-6);
}

const dot = (a: FloatArray, b: FloatArray) => {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
};

describe('conv2d', () => {
  it('matches torch.nn.Conv2d: output, input, weight and bias gradients', () => {
    assert.ok(fixture.conv2d.some((c) => c.stride[0] !== c.stride[1]) && fixture.conv2d.some((c) => c.kernel[0] !== c.kernel[1]));
    assert.ok(fixture.conv2d.some((c) => c.padding[0] > 0) && fixture.conv2d.some((c) => c.bias === null));
    for (const c of fixture.conv2d) {
      const name = `conv ${c.channels}→${c.out_channels} on ${c.height}x${c.width}, kernel ${c.kernel.join('x')} stride ${c.stride.join('x')} pad ${c.padding.join('x')}`;
      const g = conv2dGeometry({ batch: c.batch, channels: c.channels, height: c.height, width: c.width, outChannels: c.out_channels },
        { kernel: c.kernel, stride: c.stride, padding: c.padding });
      assert.deepEqual([g.batch, g.outChannels, g.outHeight, g.outWidth], c.output_shape, `${name}: output shape`);
      const y = new Float32Array(c.y.length);
      conv2dForward(g, f32(c.x), f32(c.weight), c.bias ? f32(c.bias) : null, y);
      assertClose(y, c.y, `${name}: y`);
      const dx = new Float32Array(c.x.length).fill(NaN);
      conv2dInputGrad(g, f32(c.dy), f32(c.weight), dx);
      assertClose(dx, c.dx, `${name}: dx`);
      const dw = new Float32Array(c.weight.length).fill(NaN);
      const db = c.dbias ? new Float32Array(c.out_channels).fill(NaN) : null;
      conv2dWeightGrad(g, f32(c.x), f32(c.dy), dw, db);
      assertClose(dw, c.dweight, `${name}: dweight`);
      if (c.dbias && db) assertClose(db, c.dbias, `${name}: dbias`);
    }
  });

  it('backward passes agree with finite differences (stride, padding, non-square kernels)', () => {
    const random = new Random(11);
    for (const [channels, height, width, out, kernel, stride, padding] of [
      [2, 6, 5, 3, [3, 2], [2, 1], [1, 2]], [1, 7, 7, 2, [3, 3], [2, 2], [0, 0]], [3, 4, 5, 2, [1, 3], [1, 3], [1, 0]],
    ] as [number, number, number, number, Pair, Pair, Pair][]) {
      const g = conv2dGeometry({ batch: 2, channels, height, width, outChannels: out }, { kernel, stride, padding });
      const x = randomArray(random, 2 * channels * height * width);
      const w = randomArray(random, out * channels * kernel[0] * kernel[1]);
      const b = randomArray(random, out);
      const y = new Float64Array(2 * out * g.outHeight * g.outWidth);
      const dy = randomArray(random, y.length);
      const loss = () => {
        conv2dForward(g, x, w, b, y);
        return dot(y, dy);
      };
      const dx = new Float64Array(x.length);
      const dw = new Float64Array(w.length);
      const db = new Float64Array(out);
      conv2dInputGrad(g, dy, w, dx);
      conv2dWeightGrad(g, x, dy, dw, db);
      const what = `conv ${kernel.join('x')} stride ${stride.join('x')} pad ${padding.join('x')}`;
      checkFiniteDifferences(`${what} dx`, x, dx, loss);
      checkFiniteDifferences(`${what} dw`, w, dw, loss);
      checkFiniteDifferences(`${what} db`, b, db, loss);
    }
  });

  it('refuses geometries that cannot work and arrays that are too short', () => {
    const input = { batch: 1, channels: 1, height: 4, width: 4, outChannels: 2 };
    assert.throws(() => conv2dGeometry(input, { kernel: [5, 5] }), /conv2d: the 5x5 kernel does not fit the 4x4 input padded by 0x0/);
    conv2dGeometry(input, { kernel: [5, 5], padding: [1, 1] });
    assert.throws(() => conv2dGeometry(input, { kernel: [3, 3], stride: [0, 1] }), /the vertical stride must be an integer ≥ 1, got 0/);
    assert.throws(() => conv2dGeometry({ ...input, outChannels: 0 }, { kernel: [3, 3] }), /the output channel count must be an integer ≥ 1/);
    assert.throws(() => conv2dGeometry(input, { kernel: [3, 3], padding: [-1, 0] }), /the vertical padding must be an integer ≥ 0/);
    const g = conv2dGeometry(input, { kernel: [3, 3] });
    assert.throws(() => conv2dForward(g, new Float32Array(16), new Float32Array(17), null, new Float32Array(8)),
      /conv2dForward: w has 17 values, the shape needs 18/);
    assert.throws(() => conv2dForward(g, new Float32Array(15), new Float32Array(18), null, new Float32Array(8)),
      /conv2dForward: x has 15 values, the shape needs 16/);
    assert.throws(() => conv2dWeightGrad(g, new Float32Array(16), new Float32Array(8), new Float32Array(18), new Float32Array(1)),
      /conv2dWeightGrad: db has 1 values, the shape needs 2/);
  });
});

describe('pooling', () => {
  it('matches torch\'s max_pool2d (values and indices) and avg_pool2d, forward and backward', () => {
    for (const c of fixture.pool2d) {
      const name = `pool ${c.kernel.join('x')} stride ${c.stride.join('x')} on ${c.height}x${c.width}`;
      const g = pool2dGeometry('maxpool2d', c, { kernel: c.kernel, stride: c.stride });
      assert.deepEqual([g.batch, g.channels, g.outHeight, g.outWidth], c.output_shape, `${name}: output shape`);
      const y = new Float32Array(c.max.y.length);
      const indices = new Int32Array(y.length);
      maxpool2dForward(g, f32(c.x), y, indices);
      assertClose(y, c.max.y, `${name}: max y`, 0);
      assert.deepEqual([...indices], c.max.indices, `${name}: max indices`);
      const dx = new Float32Array(c.x.length).fill(NaN);
      maxpool2dBackward(g, f32(c.max.dy), indices, dx);
      assertClose(dx, c.max.dx, `${name}: max dx`);
      const avg = new Float32Array(c.avg.y.length);
      avgpool2dForward(g, f32(c.x), avg);
      assertClose(avg, c.avg.y, `${name}: avg y`);
      dx.fill(NaN);
      avgpool2dBackward(g, f32(c.avg.dy), dx);
      assertClose(dx, c.avg.dx, `${name}: avg dx`);
    }
  });

  it('backward passes agree with finite differences, overlapping windows and uncovered edges included', () => {
    const random = new Random(12);
    for (const [height, width, kernel, stride] of [
      [7, 6, [3, 3], [2, 2]], [5, 7, [2, 3], [1, 2]], [6, 6, [2, 2], [3, 3]],
    ] as [number, number, Pair, Pair][]) {
      const g = pool2dGeometry('avgpool2d', { batch: 2, channels: 2, height, width }, { kernel, stride });
      const x = randomArray(random, 4 * height * width);
      const y = new Float64Array(4 * g.outHeight * g.outWidth);
      const dy = randomArray(random, y.length);
      const indices = new Int32Array(y.length);
      const what = `pool ${kernel.join('x')} stride ${stride.join('x')} on ${height}x${width}`;
      const dx = new Float64Array(x.length);
      maxpool2dForward(g, x, y, indices);
      maxpool2dBackward(g, dy, indices, dx);
      // random values are far enough apart that h = 1e-6 never changes which one is the maximum
      checkFiniteDifferences(`${what} max dx`, x, dx, () => {
        maxpool2dForward(g, x, y, new Int32Array(y.length));
        return dot(y, dy);
      });
      avgpool2dBackward(g, dy, dx);
      checkFiniteDifferences(`${what} avg dx`, x, dx, () => {
        avgpool2dForward(g, x, y);
        return dot(y, dy);
      });
    }
  });

  it('max pooling: the first of equal maxima wins, NaN wins over numbers, -∞ windows give -∞', () => {
    const g = pool2dGeometry('maxpool2d', { batch: 1, channels: 1, height: 2, width: 4 }, { kernel: [2, 2] });
    const y = new Float32Array(2);
    const indices = new Int32Array(2);
    maxpool2dForward(g, Float32Array.from([1, 3, NaN, 2, 3, 0, 5, NaN]), y, indices);
    assert.deepEqual([...indices], [1, 7]);
    assert.ok(Number.isNaN(y[1]));
    maxpool2dForward(g, Float32Array.from([-Infinity, -Infinity, 0, 0, -Infinity, -Infinity, 0, 0]), y, indices);
    assert.deepEqual([...y], [-Infinity, 0]);
    assert.deepEqual([...indices], [0, 2]);
    assert.throws(() => pool2dGeometry('avgpool2d', { batch: 1, channels: 1, height: 2, width: 4 }, { kernel: [3, 1] }),
      /avgpool2d: the 3x1 kernel does not fit the 2x4 input/);
  });
});

describe('batch normalization', () => {
  it('matches torch.nn.BatchNorm1d/2d in training mode: output, running statistics, gradients', () => {
    for (const c of fixture.batchnorm) {
      const t = c.training;
      const name = `batchnorm [${c.shape.join(', ')}] eps ${c.eps} momentum ${c.momentum} (training)`;
      const g = batchnormGeometry(c.shape);
      const y = new Float32Array(t.x.length);
      const runningMean = f32(t.running_mean);
      const runningVar = f32(t.running_var);
      const mean = new Float32Array(g.channels);
      const invStd = new Float32Array(g.channels);
      batchnormForwardTraining(g, f32(t.x), f32(t.weight), f32(t.bias), c.eps, c.momentum, runningMean, runningVar, y, mean, invStd);
      assertClose(y, t.y, `${name}: y`);
      assertClose(runningMean, t.running_mean_after, `${name}: running_mean`);
      assertClose(runningVar, t.running_var_after, `${name}: running_var`);
      assert.equal(t.num_batches_tracked_after, 1);
      const dx = new Float32Array(t.x.length);
      const dgamma = new Float32Array(g.channels);
      const dbeta = new Float32Array(g.channels);
      batchnormBackwardTraining(g, f32(t.x), f32(t.dy), f32(t.weight), mean, invStd, dx, dgamma, dbeta);
      assertClose(dx, t.dx, `${name}: dx`);
      assertClose(dgamma, t.dweight, `${name}: dweight`);
      assertClose(dbeta, t.dbias, `${name}: dbias`);
    }
  });

  it('matches torch in evaluation mode (running statistics, left unchanged)', () => {
    for (const c of fixture.batchnorm) {
      const e = c.eval;
      const name = `batchnorm [${c.shape.join(', ')}] (eval)`;
      const g = batchnormGeometry(c.shape);
      assert.deepEqual(e.running_mean_after, e.running_mean);
      assert.equal(e.num_batches_tracked_after, 0);
      const y = new Float32Array(e.x.length);
      batchnormForwardEval(g, f32(e.x), f32(e.weight), f32(e.bias), c.eps, f32(e.running_mean), f32(e.running_var), y);
      assertClose(y, e.y, `${name}: y`);
      const dx = new Float32Array(e.x.length);
      const dgamma = new Float32Array(g.channels);
      const dbeta = new Float32Array(g.channels);
      batchnormBackwardEval(g, f32(e.x), f32(e.dy), f32(e.weight), c.eps, f32(e.running_mean), f32(e.running_var), dx, dgamma, dbeta);
      assertClose(dx, e.dx, `${name}: dx`);
      assertClose(dgamma, e.dweight, `${name}: dweight`);
      assertClose(dbeta, e.dbias, `${name}: dbias`);
    }
  });

  it('backward passes agree with finite differences, [N, F] and [N, C, H, W]', () => {
    const random = new Random(13);
    for (const shape of [[6, 3], [3, 2, 3, 2], [2, 3, 1, 1]]) {
      const g = batchnormGeometry(shape);
      const size = shape.reduce((a, b) => a * b, 1);
      const x = randomArray(random, size, -2, 2);
      const gamma = randomArray(random, g.channels, 0.5, 1.5);
      const beta = randomArray(random, g.channels);
      const runningMean = randomArray(random, g.channels);
      const runningVar = randomArray(random, g.channels, 0.5, 1.5);
      const dy = randomArray(random, size);
      const y = new Float64Array(size);
      const mean = new Float64Array(g.channels);
      const invStd = new Float64Array(g.channels);
      const scratch = new Float64Array(g.channels);
      const training = () => {
        // the running statistics are not what is differentiated: update copies
        batchnormForwardTraining(g, x, gamma, beta, 1e-5, 0.1, scratch.slice(), scratch.slice(), y, mean, invStd);
        return dot(y, dy);
      };
      const dx = new Float64Array(size);
      const dgamma = new Float64Array(g.channels);
      const dbeta = new Float64Array(g.channels);
      training();
      batchnormBackwardTraining(g, x, dy, gamma, mean, invStd, dx, dgamma, dbeta);
      const what = `batchnorm [${shape.join(', ')}]`;
      checkFiniteDifferences(`${what} training dx`, x, dx, training);
      checkFiniteDifferences(`${what} training dgamma`, gamma, dgamma, training);
      checkFiniteDifferences(`${what} training dbeta`, beta, dbeta, training);
      const evaluation = () => {
        batchnormForwardEval(g, x, gamma, beta, 1e-5, runningMean, runningVar, y);
        return dot(y, dy);
      };
      batchnormBackwardEval(g, x, dy, gamma, 1e-5, runningMean, runningVar, dx, dgamma, dbeta);
      checkFiniteDifferences(`${what} eval dx`, x, dx, evaluation);
      checkFiniteDifferences(`${what} eval dgamma`, gamma, dgamma, evaluation);
      checkFiniteDifferences(`${what} eval dbeta`, beta, dbeta, evaluation);
    }
  });

  it('needs two values per channel to train, and a shape of rank 2 or 4', () => {
    const g = batchnormGeometry([1, 3]);
    const a = () => new Float32Array(3);
    assert.throws(() => batchnormForwardTraining(g, a(), a(), a(), 1e-5, 0.1, a(), a(), a(), a(), a()),
      /each channel needs more than one value to normalize, got 1; use a batch of 2 or more/);
    assert.deepEqual(batchnormGeometry([1, 3, 2, 1]), { batch: 1, channels: 3, spatial: 2 });
    assert.throws(() => batchnormGeometry([2, 3, 4]), /the shape must be \[N, F\] or \[N, C, H, W\]/);
  });
});

describe('dropout', () => {
  it('with torch\'s mask, gives torch\'s output and gradient (scale 1 / (1 − p) in float32)', () => {
    for (const c of fixture.dropout) {
      const keep = Uint8Array.from(c.keep);
      const y = new Float32Array(c.x.length);
      dropoutForward(f32(c.x), keep, c.p, y, y.length);
      assertClose(y, c.y, `dropout ${c.p}: y`, 1e-7);
      const dx = new Float32Array(c.x.length);
      dropoutBackward(f32(c.dy), keep, c.p, dx, dx.length);
      assertClose(dx, c.dx, `dropout ${c.p}: dx`, 1e-7);
    }
  });

  it('backward agrees with finite differences', () => {
    const random = new Random(14);
    const x = randomArray(random, 50);
    const dy = randomArray(random, 50);
    const keep = new Uint8Array(50);
    dropoutMask(random, 0.4, keep, 50);
    const y = new Float64Array(50);
    const dx = new Float64Array(50);
    dropoutBackward(dy, keep, 0.4, dx, 50);
    checkFiniteDifferences('dropout dx', x, dx, () => {
      dropoutForward(x, keep, 0.4, y, 50);
      return dot(y, dy);
    });
  });

  it('draws masks from the given generator: reproducible, and dropping about p of the values', () => {
    const draw = (seed: number, p: number, count = 20000) => {
      const keep = new Uint8Array(count);
      dropoutMask(new Random(seed), p, keep, count);
      return keep;
    };
    assert.deepEqual(draw(5, 0.3), draw(5, 0.3));
    assert.notDeepEqual(draw(5, 0.3), draw(6, 0.3));
    for (const p of [0.1, 0.5, 0.8]) {
      const kept = draw(9, p).reduce((a, b) => a + b, 0) / 20000;
      // 20000 draws: the standard deviation of the kept fraction is at most 0.0036
      assert.ok(Math.abs(kept - (1 - p)) < 0.015, `p ${p}: kept ${kept}`);
    }
    assert.ok(draw(1, 0).every((k) => k === 1), 'p = 0 keeps everything');
    // the generator moves on: the next mask from the same generator differs
    const random = new Random(3);
    const first = new Uint8Array(100);
    const second = new Uint8Array(100);
    dropoutMask(random, 0.5, first, 100);
    dropoutMask(random, 0.5, second, 100);
    assert.notDeepEqual(first, second);
    assert.throws(() => dropoutMask(random, 1, first, 100), /the drop probability must be in \[0, 1\), got 1/);
    assert.throws(() => dropoutForward(new Float32Array(4), new Uint8Array(3), 0.5, new Float32Array(4), 4), /keep has 3 values, the shape needs 4/);
  });
});
