// The WebAssembly spatial kernels (convolution, pooling, batch normalization, dropout, activation)
// against the TypeScript reference on random shapes (strides, padding, odd sizes, one and many
// channels, batches that do not divide the thread count), on one thread and on two: forward and input
// gradient bit for bit the same on both, the weight gradient the same on every run.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  createReferenceKernels, createWasmKernels, relaxedSimdSupported, KernelArgumentError, Random,
  type Activation, type Kernels, type WasmKernels,
} from '../../src/core/index.js';
import { conv2dGeometry, pool2dGeometry, type Conv2dGeometry, type Geometry2d } from '../../src/core/geometry2d.js';
import { batchnormGeometry, type BatchnormGeometry } from '../../src/core/reference-batchnorm.js';
import { dropoutScale } from '../../src/core/reference-dropout.js';

const reference = createReferenceKernels();
const single: WasmKernels[] = [];
const pooled: WasmKernels[] = [];

before(async () => {
  const relaxedModes = (await relaxedSimdSupported()) ? [false, true] : [false];
  for (const relaxed of relaxedModes) {
    single.push(await createWasmKernels({ relaxed }));
    pooled.push(await createWasmKernels({ relaxed, threads: 2 }));
  }
});

after(async () => {
  for (const kernels of [...single, ...pooled]) await kernels.close();
});

const random = new Random(31337);
const activations: Activation[] = ['identity', 'relu', 'sigmoid', 'tanh'];
/** Error bound of one float32 rounding, with a little room. */
const ROUNDING = 1.2e-7;

function randomValues(length: number, low = -1, high = 1): Float32Array {
  return Float32Array.from({ length }, () => random.uniform(low, high));
}

function copyInto(kernels: Kernels, source: Float32Array): Float32Array {
  const array = kernels.allocF32(source.length);
  array.set(source);
  return array;
}

const abs = (values: Float32Array) => values.map(Math.abs);

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: (i: number) => number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i] - expected[i]);
    if (!(error <= tolerance(i)) && !(Number.isNaN(actual[i]) && Number.isNaN(expected[i]))) {
      assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (error ${error}, tolerance ${tolerance(i)})`);
    }
  }
}

function assertIdentical(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} exactly`);
  }
}

type ConvShape = [batch: number, channels: number, height: number, width: number, outChannels: number,
  kernelH: number, kernelW: number, strideH: number, strideW: number, padH: number, padW: number];

const convShapes: ConvShape[] = [
  [1, 1, 7, 9, 2, 3, 2, 1, 1, 0, 0],
  [3, 2, 7, 9, 3, 3, 2, 2, 2, 1, 2],
  [2, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2], // LeNet-5's first convolution
  [3, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0], // and its second (720k multiply-adds: split on two threads)
  [7, 3, 20, 20, 8, 3, 3, 1, 1, 1, 1], // a batch of 7 on two threads
  [5, 4, 24, 23, 12, 3, 3, 2, 2, 1, 1],
  [3, 4, 11, 13, 5, 3, 3, 2, 1, 1, 0],
  [3, 2, 9, 8, 3, 2, 3, 1, 2, 0, 1],
  [2, 3, 5, 5, 4, 1, 1, 1, 1, 0, 0],
  [2, 2, 1, 12, 3, 1, 3, 1, 1, 0, 1],
  [1, 1, 3, 3, 1, 3, 3, 1, 1, 2, 2],
  [2, 5, 6, 4, 9, 5, 3, 3, 3, 2, 1],
  [2, 10, 9, 9, 5, 3, 5, 1, 1, 1, 2], // 12 lanes of channels (a block of 8 and one of 4), 5 taps a row
  [2, 24, 12, 12, 8, 3, 3, 1, 1, 0, 0], // the cnn preset's second convolution, narrower
];
for (let i = 0; i < 16; i++) {
  const [padH, padW] = [random.int(3), random.int(3)];
  const [height, width] = [1 + random.int(12), 1 + random.int(12)];
  const kernelH = 1 + random.int(Math.min(5, height + 2 * padH));
  const kernelW = 1 + random.int(Math.min(5, width + 2 * padW));
  convShapes.push([1 + random.int(5), 1 + random.int(5), height, width, 1 + random.int(9), kernelH, kernelW,
    1 + random.int(3), 1 + random.int(3), padH, padW]);
}

function convGeometry(shape: ConvShape): Conv2dGeometry {
  const [batch, channels, height, width, outChannels, kernelH, kernelW, strideH, strideW, padH, padW] = shape;
  return conv2dGeometry({ batch, channels, height, width, outChannels },
    { kernel: [kernelH, kernelW], stride: [strideH, strideW], padding: [padH, padW] });
}

function describeConv(g: Conv2dGeometry): string {
  return `N=${g.batch} C=${g.channels} ${g.height}x${g.width} → O=${g.outChannels} k=${g.kernelH}x${g.kernelW} ` +
    `s=${g.strideH},${g.strideW} p=${g.padH},${g.padW}`;
}

describe('conv2d kernels', () => {
  it('forward matches the reference on every shape and activation, the same bits on one thread and two', () => {
    for (const shape of convShapes) {
      const g = convGeometry(shape);
      const x = randomValues(g.batch * g.channels * g.height * g.width);
      const w = randomValues(g.outChannels * g.channels * g.kernelH * g.kernelW);
      const b = randomValues(g.outChannels);
      const outputs = g.batch * g.outChannels * g.outHeight * g.outWidth;
      // the float32 error bound of a sum of K + 1 products: ~(K + 2)·2⁻²⁴·Σ|w||x|
      const magnitude = new Float32Array(outputs);
      reference.conv2dForward(g, abs(x), abs(w), abs(b), magnitude, 'identity');
      const terms = g.channels * g.kernelH * g.kernelW + 2;
      for (const activation of activations) {
        const expected = new Float32Array(outputs);
        reference.conv2dForward(g, x, w, b, expected, activation);
        for (let k = 0; k < single.length; k++) {
          const results = [single[k], pooled[k]].map((kernels) => {
            const y = kernels.allocF32(outputs).fill(NaN);
            kernels.conv2dForward(g, copyInto(kernels, x), copyInto(kernels, w), copyInto(kernels, b), y, activation);
            return y;
          });
          const what = `${single[k].name} conv2dForward ${activation} ${describeConv(g)}`;
          assertClose(results[0], expected, (i) => terms * ROUNDING * magnitude[i] + 2e-6 * Math.abs(expected[i]) + 1e-7, what);
          assertIdentical(results[1], results[0], `${what}, 2 threads`);
        }
      }
    }
  });

  it('input gradient matches the reference, the same bits on one thread and two', () => {
    for (const shape of convShapes) {
      const g = convGeometry(shape);
      const dy = randomValues(g.batch * g.outChannels * g.outHeight * g.outWidth);
      const w = randomValues(g.outChannels * g.channels * g.kernelH * g.kernelW);
      const inputs = g.batch * g.channels * g.height * g.width;
      const expected = new Float32Array(inputs);
      reference.conv2dInputGrad(g, dy, w, expected);
      const magnitude = new Float32Array(inputs);
      reference.conv2dInputGrad(g, abs(dy), abs(w), magnitude);
      const terms = g.outChannels * g.kernelH * g.kernelW + 2;
      for (let k = 0; k < single.length; k++) {
        const results = [single[k], pooled[k]].map((kernels) => {
          const dx = kernels.allocF32(inputs).fill(NaN);
          kernels.conv2dInputGrad(g, copyInto(kernels, dy), copyInto(kernels, w), dx);
          return dx;
        });
        const what = `${single[k].name} conv2dInputGrad ${describeConv(g)}`;
        assertClose(results[0], expected, (i) => terms * ROUNDING * magnitude[i] + 1e-7, what);
        assertIdentical(results[1], results[0], `${what}, 2 threads`);
      }
    }
  });

  it('weight gradient matches the reference on one thread and two, the same bits on every run', () => {
    for (const shape of convShapes) {
      const g = convGeometry(shape);
      const x = randomValues(g.batch * g.channels * g.height * g.width);
      const dy = randomValues(g.batch * g.outChannels * g.outHeight * g.outWidth);
      const weights = g.outChannels * g.channels * g.kernelH * g.kernelW;
      const expectedDw = new Float32Array(weights);
      const expectedDb = new Float32Array(g.outChannels);
      reference.conv2dWeightGrad(g, x, dy, expectedDw, expectedDb);
      const magnitudeDw = new Float32Array(weights);
      const magnitudeDb = new Float32Array(g.outChannels);
      reference.conv2dWeightGrad(g, abs(x), abs(dy), magnitudeDw, magnitudeDb);
      const terms = g.batch * g.outHeight * g.outWidth + 2;
      for (const kernels of [...single, ...pooled]) {
        const what = `${kernels.name} (${kernels.threads} threads) conv2dWeightGrad ${describeConv(g)}`;
        const [xk, dyk] = [copyInto(kernels, x), copyInto(kernels, dy)];
        const runs = [0, 1].map(() => {
          const dw = kernels.allocF32(weights).fill(NaN);
          const db = kernels.allocF32(g.outChannels).fill(NaN);
          kernels.conv2dWeightGrad(g, xk, dyk, dw, db);
          return { dw, db };
        });
        assertClose(runs[0].dw, expectedDw, (i) => terms * ROUNDING * magnitudeDw[i] + 1e-7, `${what}: dw`);
        assertClose(runs[0].db, expectedDb, (i) => terms * ROUNDING * magnitudeDb[i] + 1e-7, `${what}: db`);
        assertIdentical(runs[1].dw, runs[0].dw, `${what}: dw, second run`);
        assertIdentical(runs[1].db, runs[0].db, `${what}: db, second run`);
      }
    }
  });

  /** Values in [−1, 1) of which about `density` are nonzero (some zeros are −0, which lists as zero). */
  function sparseValues(length: number, density: number): Float32Array {
    return Float32Array.from({ length }, () => {
      if (random.uniform(0, 1) < density) return random.uniform(-1, 1);
      return random.int(4) === 0 ? -0 : 0;
    });
  }

  it('sparse inputs: forward and weight gradient from the nonzeros of x match the reference and the dense paths', () => {
    for (const shape of convShapes) {
      const g = convGeometry(shape);
      const inputs = g.channels * g.height * g.width;
      const outputs = g.batch * g.outChannels * g.outHeight * g.outWidth;
      const weights = g.outChannels * g.channels * g.kernelH * g.kernelW;
      const x = sparseValues(g.batch * inputs, 0.2 + 0.1 * random.int(3));
      const [w, b, dy] = [randomValues(weights), randomValues(g.outChannels), randomValues(outputs)];
      const magnitude = new Float32Array(outputs);
      reference.conv2dForward(g, abs(x), abs(w), abs(b), magnitude, 'identity');
      const magnitudeDw = new Float32Array(weights);
      const magnitudeDb = new Float32Array(g.outChannels);
      reference.conv2dWeightGrad(g, abs(x), abs(dy), magnitudeDw, magnitudeDb);
      const expectedDw = new Float32Array(weights);
      const expectedDb = new Float32Array(g.outChannels);
      reference.conv2dWeightGrad(g, x, dy, expectedDw, expectedDb);
      const terms = g.channels * g.kernelH * g.kernelW + 2;
      const sums = g.batch * g.outHeight * g.outWidth + 2;
      for (const activation of ['identity', 'relu'] as Activation[]) {
        const expected = new Float32Array(outputs);
        reference.conv2dForward(g, x, w, b, expected, activation);
        for (let k = 0; k < single.length; k++) {
          const results = [single[k], pooled[k]].map((kernels) => {
            const index = kernels.allocNonzeroIndex(g.batch, inputs);
            kernels.indexNonzeros(copyInto(kernels, x), g.batch, inputs, index);
            const [wk, bk] = [copyInto(kernels, w), copyInto(kernels, b)];
            const y = kernels.allocF32(outputs).fill(NaN);
            kernels.conv2dForwardSparse(g, index, wk, bk, y, activation);
            const dense = kernels.allocF32(outputs).fill(NaN);
            kernels.conv2dForward(g, copyInto(kernels, x), wk, bk, dense, activation);
            const dw = kernels.allocF32(weights).fill(NaN);
            const db = kernels.allocF32(g.outChannels).fill(NaN);
            kernels.conv2dWeightGradSparse(g, index, copyInto(kernels, dy), dw, db);
            return { y, dense, dw, db };
          });
          const what = `${single[k].name} sparse-input conv2d ${activation} ${describeConv(g)}`;
          const tolerance = (i: number) => terms * ROUNDING * magnitude[i] + 2e-6 * Math.abs(expected[i]) + 1e-7;
          assertClose(results[0].y, expected, tolerance, `${what}: y`);
          assertClose(results[0].y, results[0].dense, (i) => 2 * tolerance(i), `${what}: y against the dense path`);
          assertIdentical(results[1].y, results[0].y, `${what}: y, 2 threads`);
          for (const [r, threads] of [[results[0], 1], [results[1], 2]] as const) {
            assertClose(r.dw, expectedDw, (i) => sums * ROUNDING * magnitudeDw[i] + 1e-7, `${what}: dw, ${threads} thread(s)`);
            assertClose(r.db, expectedDb, (i) => sums * ROUNDING * magnitudeDb[i] + 1e-7, `${what}: db, ${threads} thread(s)`);
          }
        }
      }
    }
  });

  it('sparse output gradients: input and weight gradients from the nonzeros of dy match the reference and the dense paths', () => {
    for (const shape of convShapes) {
      const g = convGeometry(shape);
      const inputs = g.batch * g.channels * g.height * g.width;
      const perSample = g.outChannels * g.outHeight * g.outWidth;
      const weights = g.outChannels * g.channels * g.kernelH * g.kernelW;
      const dy = sparseValues(g.batch * perSample, 0.1 + 0.1 * random.int(3));
      const [x, w] = [randomValues(inputs), randomValues(weights)];
      const expectedDx = new Float32Array(inputs);
      reference.conv2dInputGrad(g, dy, w, expectedDx);
      const magnitudeDx = new Float32Array(inputs);
      reference.conv2dInputGrad(g, abs(dy), abs(w), magnitudeDx);
      const expectedDw = new Float32Array(weights);
      const expectedDb = new Float32Array(g.outChannels);
      reference.conv2dWeightGrad(g, x, dy, expectedDw, expectedDb);
      const magnitudeDw = new Float32Array(weights);
      const magnitudeDb = new Float32Array(g.outChannels);
      reference.conv2dWeightGrad(g, abs(x), abs(dy), magnitudeDw, magnitudeDb);
      const terms = g.outChannels * g.kernelH * g.kernelW + 2;
      const sums = g.batch * g.outHeight * g.outWidth + 2;
      for (let k = 0; k < single.length; k++) {
        const results = [single[k], pooled[k]].map((kernels) => {
          const dyk = copyInto(kernels, dy);
          const index = kernels.allocNonzeroIndex(g.batch, perSample);
          kernels.indexNonzeros(dyk, g.batch, perSample, index);
          const wk = copyInto(kernels, w);
          const dx = kernels.allocF32(inputs).fill(NaN);
          kernels.conv2dInputGradSparse(g, index, wk, dx);
          const dense = kernels.allocF32(inputs).fill(NaN);
          kernels.conv2dInputGrad(g, dyk, wk, dense);
          const dw = kernels.allocF32(weights).fill(NaN);
          const db = kernels.allocF32(g.outChannels).fill(NaN);
          kernels.conv2dWeightGradSparseDy(g, copyInto(kernels, x), index, dyk, dw, db);
          return { dx, dense, dw, db };
        });
        const what = `${single[k].name} sparse-gradient conv2d ${describeConv(g)}`;
        const tolerance = (i: number) => terms * ROUNDING * magnitudeDx[i] + 1e-7;
        assertClose(results[0].dx, expectedDx, tolerance, `${what}: dx`);
        assertClose(results[0].dx, results[0].dense, (i) => 2 * tolerance(i), `${what}: dx against the dense path`);
        assertIdentical(results[1].dx, results[0].dx, `${what}: dx, 2 threads`);
        for (const [r, threads] of [[results[0], 1], [results[1], 2]] as const) {
          assertClose(r.dw, expectedDw, (i) => sums * ROUNDING * magnitudeDw[i] + 1e-7, `${what}: dw, ${threads} thread(s)`);
          assertClose(r.db, expectedDb, (i) => sums * ROUNDING * magnitudeDb[i] + 1e-7, `${what}: db, ${threads} thread(s)`);
        }
      }
    }
  });

  it('the sparse kernels refuse an index of the wrong size, and the reference kernels never choose them', () => {
    const g = convGeometry(convShapes[2]);
    const kernels = single[0];
    const wrong = kernels.allocNonzeroIndex(g.batch, 100);
    const w = kernels.allocF32(g.outChannels * g.channels * g.kernelH * g.kernelW);
    assert.throws(() => kernels.conv2dForwardSparse(g, wrong, w, kernels.allocF32(g.outChannels),
      kernels.allocF32(g.batch * g.outChannels * g.outHeight * g.outWidth), 'relu'), KernelArgumentError);
    assert.throws(() => kernels.conv2dInputGradSparse(g, wrong, w, kernels.allocF32(g.batch * g.height * g.width)), KernelArgumentError);
    assert.equal(reference.sparseConvDensityLimit, 0);
    assert.equal(reference.sparseGradDensityLimit, 0);
    assert.ok(kernels.sparseConvDensityLimit > 0 && kernels.sparseGradDensityLimit > 0);
  });

  it('reuses its scratch when a smaller geometry follows a larger one, and grows it for a larger one', () => {
    const kernels = single[0];
    for (const shape of [convShapes[3], convShapes[0], convShapes[4], convShapes[2]]) {
      const g = convGeometry(shape);
      const x = randomValues(g.batch * g.channels * g.height * g.width);
      const w = randomValues(g.outChannels * g.channels * g.kernelH * g.kernelW);
      const b = randomValues(g.outChannels);
      const expected = new Float32Array(g.batch * g.outChannels * g.outHeight * g.outWidth);
      reference.conv2dForward(g, x, w, b, expected, 'relu');
      const y = kernels.allocF32(expected.length);
      kernels.conv2dForward(g, copyInto(kernels, x), copyInto(kernels, w), copyInto(kernels, b), y, 'relu');
      assertClose(y, expected, (i) => 1e-5 * (1 + Math.abs(expected[i])), `conv2dForward ${describeConv(g)}`);
    }
  });
});

type PoolShape = [batch: number, channels: number, height: number, width: number, kernelH: number, kernelW: number,
  strideH: number, strideW: number];

const poolShapes: PoolShape[] = [
  [2, 3, 28, 28, 2, 2, 2, 2],
  [3, 2, 7, 9, 3, 2, 2, 1],
  [1, 1, 5, 5, 3, 3, 1, 1],
  [3, 4, 9, 11, 3, 3, 2, 2],
  [11, 8, 28, 28, 2, 2, 2, 2], // 69k inputs: split on two threads
  [5, 7, 24, 24, 3, 3, 2, 2],
  [2, 1, 1, 6, 1, 2, 1, 2],
  // the 2×2 stride-2 paths: whole rows of four outputs, leftovers, odd heights and widths
  [3, 5, 24, 24, 2, 2, 2, 2],
  [2, 3, 10, 10, 2, 2, 2, 2],
  [3, 2, 11, 13, 2, 2, 2, 2],
  [2, 2, 17, 8, 2, 2, 2, 2],
  [1, 1, 2, 2, 2, 2, 2, 2],
  [5, 3, 3, 19, 2, 2, 2, 2],
];
for (let i = 0; i < 12; i++) {
  const [height, width] = [1 + random.int(13), 1 + random.int(13)];
  poolShapes.push([1 + random.int(5), 1 + random.int(4), height, width, 1 + random.int(Math.min(4, height)),
    1 + random.int(Math.min(4, width)), 1 + random.int(3), 1 + random.int(3)]);
}

function poolGeometry(kind: 'maxpool2d' | 'avgpool2d', shape: PoolShape): Geometry2d {
  const [batch, channels, height, width, kernelH, kernelW, strideH, strideW] = shape;
  return pool2dGeometry(kind, { batch, channels, height, width }, { kernel: [kernelH, kernelW], stride: [strideH, strideW] });
}

function describePool(g: Geometry2d): string {
  return `N=${g.batch} C=${g.channels} ${g.height}x${g.width} k=${g.kernelH}x${g.kernelW} s=${g.strideH},${g.strideW}`;
}

describe('pooling kernels', () => {
  it('max pooling matches the reference (values, indices, gradient), ties, NaN and -∞ included', () => {
    for (const shape of poolShapes) {
      const g = poolGeometry('maxpool2d', shape);
      const inputs = g.batch * g.channels * g.height * g.width;
      const outputs = g.batch * g.channels * g.outHeight * g.outWidth;
      // few distinct values, so that windows have ties
      const x = Float32Array.from({ length: inputs }, () => random.int(7) - 3);
      if (inputs > 20) {
        x[3] = NaN;
        x[11] = NaN;
        x[17] = -Infinity;
        // NaNs, infinities and −0 scattered through the planes, some windows with two NaNs
        for (let i = 0; i < inputs; i++) {
          const draw = random.int(60);
          if (draw === 0) x[i] = NaN;
          else if (draw === 1) x[i] = -Infinity;
          else if (draw === 2) x[i] = Infinity;
          else if (draw === 3) x[i] = -0;
        }
      }
      const dy = randomValues(outputs);
      const expectedY = new Float32Array(outputs);
      const expectedIndices = new Int32Array(outputs);
      reference.maxpool2dForward(g, x, expectedY, expectedIndices);
      const expectedDx = new Float32Array(inputs);
      reference.maxpool2dBackward(g, dy, expectedIndices, expectedDx);
      for (let k = 0; k < single.length; k++) {
        const results = [single[k], pooled[k]].map((kernels) => {
          const y = kernels.allocF32(outputs).fill(12345);
          const indices = kernels.allocI32(outputs).fill(-1);
          kernels.maxpool2dForward(g, copyInto(kernels, x), y, indices);
          const dx = kernels.allocF32(inputs).fill(NaN);
          kernels.maxpool2dBackward(g, copyInto(kernels, dy), indices, dx);
          return { y, indices, dx };
        });
        const what = `${single[k].name} maxpool2d ${describePool(g)}`;
        assertIdentical(results[0].y, expectedY, `${what}: y`);
        assert.deepEqual(Array.from(results[0].indices), Array.from(expectedIndices), `${what}: indices`);
        assertClose(results[0].dx, expectedDx, (i) => 4 * ROUNDING * Math.abs(expectedDx[i]) + 1e-7, `${what}: dx`);
        assertIdentical(results[1].y, results[0].y, `${what}: y, 2 threads`);
        assertIdentical(results[1].dx, results[0].dx, `${what}: dx, 2 threads`);
      }
    }
  });

  it('max pooling backward skips an index outside its window, as the reference does', () => {
    const g = poolGeometry('maxpool2d', [1, 1, 4, 4, 2, 2, 2, 2]);
    const indices = Int32Array.from([0, 7, 2, 15]); // 2 lies in the first window, not the third
    const dy = Float32Array.from([1, 2, 3, 4]);
    const expected = new Float32Array(16);
    reference.maxpool2dBackward(g, dy, indices, expected);
    const kernels = single[0];
    const dx = kernels.allocF32(16);
    const indicesK = kernels.allocI32(4);
    indicesK.set(indices);
    kernels.maxpool2dBackward(g, copyInto(kernels, dy), indicesK, dx);
    assertIdentical(dx, expected, 'maxpool2dBackward with a stray index');
  });

  it('max pooling backward of four outputs at a time skips stray indices and writes +0 for −0', () => {
    // 2 rows of 8 outputs: the vector path; indices in their window, beside it, in another window, far off
    const g = poolGeometry('maxpool2d', [1, 2, 4, 17, 2, 2, 2, 2]);
    const outputs = 2 * 2 * 8;
    const indices = Int32Array.from({ length: outputs }, (_, k) => {
      const [i, j] = [Math.floor(k / 8) % 2, k % 8];
      const start = 2 * i * 17 + 2 * j;
      return [start, start + 1, start + 17, start + 18, start + 2, start - 1, start + 34, 1 << 30][k % 8];
    });
    const dy = Float32Array.from({ length: outputs }, (_, k) => (k % 5 === 0 ? -0 : k + 1));
    const expected = new Float32Array(2 * 4 * 17);
    reference.maxpool2dBackward(g, dy, indices, expected);
    for (const kernels of [single[0], pooled[0]]) {
      const dx = kernels.allocF32(expected.length).fill(NaN);
      const indicesK = kernels.allocI32(outputs);
      indicesK.set(indices);
      kernels.maxpool2dBackward(g, copyInto(kernels, dy), indicesK, dx);
      assertIdentical(dx, expected, `maxpool2dBackward with stray indices, ${kernels.threads} thread(s)`);
    }
  });

  it('average pooling matches the reference forward and backward, the same bits on one thread and two', () => {
    for (const shape of poolShapes) {
      const g = poolGeometry('avgpool2d', shape);
      const inputs = g.batch * g.channels * g.height * g.width;
      const outputs = g.batch * g.channels * g.outHeight * g.outWidth;
      const x = randomValues(inputs);
      const dy = randomValues(outputs);
      const expectedY = new Float32Array(outputs);
      reference.avgpool2dForward(g, x, expectedY);
      const expectedDx = new Float32Array(inputs);
      reference.avgpool2dBackward(g, dy, expectedDx);
      const magnitudeY = new Float32Array(outputs);
      reference.avgpool2dForward(g, abs(x), magnitudeY);
      const magnitudeDx = new Float32Array(inputs);
      reference.avgpool2dBackward(g, abs(dy), magnitudeDx);
      const terms = g.kernelH * g.kernelW + 2;
      for (let k = 0; k < single.length; k++) {
        const results = [single[k], pooled[k]].map((kernels) => {
          const y = kernels.allocF32(outputs).fill(NaN);
          kernels.avgpool2dForward(g, copyInto(kernels, x), y);
          const dx = kernels.allocF32(inputs).fill(NaN);
          kernels.avgpool2dBackward(g, copyInto(kernels, dy), dx);
          return { y, dx };
        });
        const what = `${single[k].name} avgpool2d ${describePool(g)}`;
        assertClose(results[0].y, expectedY, (i) => terms * ROUNDING * magnitudeY[i] + 1e-7, `${what}: y`);
        assertClose(results[0].dx, expectedDx, (i) => terms * ROUNDING * magnitudeDx[i] + 1e-7, `${what}: dx`);
        assertIdentical(results[1].y, results[0].y, `${what}: y, 2 threads`);
        assertIdentical(results[1].dx, results[0].dx, `${what}: dx, 2 threads`);
      }
    }
  });
});

describe('element-wise kernels', () => {
  it('activationForward matches the reference, in place and into another array', () => {
    for (const kernels of single) {
      for (const activation of activations) {
        for (const count of [1, 3, 4, 7, 37, 1001]) {
          const x = randomValues(count, -8, 8);
          const expected = new Float32Array(count);
          reference.activationForward(activation, x, expected, count);
          const what = `${kernels.name} activationForward ${activation} ${count}`;
          const y = kernels.allocF32(count + 1).fill(12345);
          kernels.activationForward(activation, copyInto(kernels, x), y, count);
          assertClose(y.subarray(0, count), expected, (i) => 2e-6 * Math.abs(expected[i]) + 1e-7, what);
          assert.equal(y[count], 12345, `${what}: wrote past count`);
          const inPlace = copyInto(kernels, x);
          kernels.activationForward(activation, inPlace, inPlace, count);
          assertIdentical(inPlace, y.subarray(0, count), `${what} in place`);
        }
      }
    }
  });

  it('dropout gives exactly the reference\'s values forward and backward (NaN and ∞ included)', () => {
    for (const kernels of single) {
      for (const p of [0, 0.1, 0.5, 0.9]) {
        for (const count of [1, 5, 8, 63, 1000]) {
          const x = randomValues(count, -3, 3);
          x[0] = count > 1 ? NaN : x[0];
          if (count > 4) x[4] = Infinity;
          const keep = Uint8Array.from({ length: count }, () => [0, 1, 1, 2, 255][random.int(5)]);
          const expected = new Float32Array(count);
          reference.dropoutForward(x, keep, p, expected, count);
          const keepK = kernels.allocU8(count);
          keepK.set(keep);
          const y = kernels.allocF32(count);
          kernels.dropoutForward(copyInto(kernels, x), keepK, p, y, count);
          assertIdentical(y, expected, `${kernels.name} dropoutForward p=${p} ${count}`);
          const expectedDx = new Float32Array(count);
          reference.dropoutBackward(x, keep, p, expectedDx, count);
          const dx = kernels.allocF32(count);
          kernels.dropoutBackward(copyInto(kernels, x), keepK, p, dx, count);
          assertIdentical(dx, expectedDx, `${kernels.name} dropoutBackward p=${p} ${count}`);
          assert.ok(dropoutScale(p) > 0);
        }
      }
    }
  });
});

const batchnormShapes: number[][] = [
  [2, 1], [5, 3], [128, 20], [3, 7, 1, 1], [2, 3, 4, 5], [7, 6, 10, 10], [4, 16, 3, 3], [1, 2, 5, 7], [3, 5, 1, 3],
];

/** Channel c's values of x [N, C, S]. */
function channelValues(g: BatchnormGeometry, x: Float32Array, c: number): number[] {
  const values: number[] = [];
  for (let n = 0; n < g.batch; n++) for (let s = 0; s < g.spatial; s++) values.push(x[(n * g.channels + c) * g.spatial + s]);
  return values;
}

function channelOf(g: BatchnormGeometry, i: number): number {
  return Math.floor(i / g.spatial) % g.channels;
}

describe('batch normalization kernels', () => {
  for (const offset of [0, 20]) {
    it(`training forward and backward match the reference${offset ? ' on data far from 0' : ''}`, () => {
      for (const shape of batchnormShapes) {
        const g = batchnormGeometry(shape);
        const size = g.batch * g.channels * g.spatial;
        const x = randomValues(size, offset - 2, offset + 2);
        const dy = randomValues(size);
        const gamma = randomValues(g.channels, 0.5, 2);
        const beta = randomValues(g.channels);
        const runningMean = randomValues(g.channels);
        const runningVar = randomValues(g.channels, 0.5, 2);
        const eps = 1e-5;
        const momentum = 0.1;
        const expected = {
          y: new Float32Array(size), mean: new Float32Array(g.channels), invStd: new Float32Array(g.channels),
          runningMean: runningMean.slice(), runningVar: runningVar.slice(),
          dx: new Float32Array(size), dgamma: new Float32Array(g.channels), dbeta: new Float32Array(g.channels),
        };
        reference.batchnormForwardTraining(g, x, gamma, beta, eps, momentum, expected.runningMean, expected.runningVar,
          expected.y, expected.mean, expected.invStd);
        reference.batchnormBackwardTraining(g, x, dy, gamma, expected.mean, expected.invStd, expected.dx, expected.dgamma, expected.dbeta);
        for (const kernels of single) {
          const what = `${kernels.name} batchnorm training [${shape.join(', ')}]`;
          const k = {
            x: copyInto(kernels, x), dy: copyInto(kernels, dy), gamma: copyInto(kernels, gamma), beta: copyInto(kernels, beta),
            runningMean: copyInto(kernels, runningMean), runningVar: copyInto(kernels, runningVar),
            y: kernels.allocF32(size), mean: kernels.allocF32(g.channels), invStd: kernels.allocF32(g.channels),
            dx: kernels.allocF32(size), dgamma: kernels.allocF32(g.channels), dbeta: kernels.allocF32(g.channels),
          };
          kernels.batchnormForwardTraining(g, k.x, k.gamma, k.beta, eps, momentum, k.runningMean, k.runningVar, k.y, k.mean, k.invStd);
          const relative = (expectedValues: Float32Array) => (i: number) => 2 * ROUNDING * Math.abs(expectedValues[i]) + 1e-30;
          assertClose(k.mean, expected.mean, (c) => ROUNDING * (Math.abs(expected.mean[c]) + 1e-6), `${what}: mean`);
          assertClose(k.invStd, expected.invStd, relative(expected.invStd), `${what}: invStd`);
          assertClose(k.runningMean, expected.runningMean, (c) => ROUNDING * (Math.abs(expected.runningMean[c]) + 1e-6), `${what}: runningMean`);
          assertClose(k.runningVar, expected.runningVar, relative(expected.runningVar), `${what}: runningVar`);
          // y = (x − μ)·(γ·invStd) + β in float32: an error of a few roundings of each term
          assertClose(k.y, expected.y, (i) => {
            const c = channelOf(g, i);
            return 4 * ROUNDING * (gamma[c] * expected.invStd[c] * (Math.abs(x[i]) + Math.abs(expected.mean[c])) + Math.abs(beta[c]));
          }, `${what}: y`);
          kernels.batchnormBackwardTraining(g, k.x, k.dy, k.gamma, k.mean, k.invStd, k.dx, k.dgamma, k.dbeta);
          const M = g.batch * g.spatial;
          assertClose(k.dbeta, expected.dbeta, (c) => {
            const terms = channelValues(g, dy, c).reduce((sum, v) => sum + Math.abs(v), 0);
            return ROUNDING * Math.abs(expected.dbeta[c]) + 1e-12 * terms;
          }, `${what}: dbeta`);
          assertClose(k.dgamma, expected.dgamma, (c) => {
            const terms = channelValues(g, dy, c).reduce((sum, v) => sum + Math.abs(v), 0) * (4 + offset) * expected.invStd[c];
            return ROUNDING * Math.abs(expected.dgamma[c]) + 1e-12 * terms;
          }, `${what}: dgamma`);
          // dx = a·dy − (b + (x − μ)·e): a few roundings of each term
          assertClose(k.dx, expected.dx, (i) => {
            const c = channelOf(g, i);
            const a = gamma[c] * expected.invStd[c];
            const b = (a * expected.dbeta[c]) / M;
            const e = (a * expected.invStd[c] * expected.dgamma[c]) / M;
            return 4 * ROUNDING * (Math.abs(a * dy[i]) + Math.abs(b) + Math.abs(e) * (Math.abs(x[i]) + Math.abs(expected.mean[c])));
          }, `${what}: dx`);
        }
      }
    });
  }

  it('evaluation forward and backward match the reference', () => {
    for (const shape of [...batchnormShapes, [1, 4], [1, 3, 2, 2]]) {
      const g = batchnormGeometry(shape);
      const size = g.batch * g.channels * g.spatial;
      const x = randomValues(size, -3, 3);
      const dy = randomValues(size);
      const gamma = randomValues(g.channels, -2, 2);
      const beta = randomValues(g.channels);
      const runningMean = randomValues(g.channels);
      const runningVar = randomValues(g.channels, 0.1, 3);
      const eps = 1e-3;
      const expectedY = new Float32Array(size);
      reference.batchnormForwardEval(g, x, gamma, beta, eps, runningMean, runningVar, expectedY);
      const expectedDx = new Float32Array(size);
      const expectedDgamma = new Float32Array(g.channels);
      const expectedDbeta = new Float32Array(g.channels);
      reference.batchnormBackwardEval(g, x, dy, gamma, eps, runningMean, runningVar, expectedDx, expectedDgamma, expectedDbeta);
      for (const kernels of single) {
        const what = `${kernels.name} batchnorm evaluation [${shape.join(', ')}]`;
        const [xk, dyk, gammaK, betaK] = [x, dy, gamma, beta].map((a) => copyInto(kernels, a));
        const [meanK, varK] = [runningMean, runningVar].map((a) => copyInto(kernels, a));
        const y = kernels.allocF32(size);
        kernels.batchnormForwardEval(g, xk, gammaK, betaK, eps, meanK, varK, y);
        const scale = (c: number) => Math.abs(gamma[c]) / Math.sqrt(runningVar[c] + eps);
        assertClose(y, expectedY, (i) => {
          const c = channelOf(g, i);
          return 4 * ROUNDING * (scale(c) * (Math.abs(x[i]) + Math.abs(runningMean[c])) + Math.abs(beta[c]));
        }, `${what}: y`);
        const dx = kernels.allocF32(size);
        const dgamma = kernels.allocF32(g.channels);
        const dbeta = kernels.allocF32(g.channels);
        kernels.batchnormBackwardEval(g, xk, dyk, gammaK, eps, meanK, varK, dx, dgamma, dbeta);
        assertClose(dx, expectedDx, (i) => 3 * ROUNDING * scale(channelOf(g, i)) * Math.abs(dy[i]), `${what}: dx`);
        assertClose(dgamma, expectedDgamma, (c) => ROUNDING * Math.abs(expectedDgamma[c]) + 1e-12 * size, `${what}: dgamma`);
        assertClose(dbeta, expectedDbeta, (c) => ROUNDING * Math.abs(expectedDbeta[c]) + 1e-12 * size, `${what}: dbeta`);
        // the running statistics are inputs here
        assertIdentical(meanK, runningMean, `${what}: runningMean unchanged`);
      }
    }
  });
});

describe('spatial kernel arguments', () => {
  it('a too-short array is refused with the kernel\'s and the array\'s name', () => {
    const kernels = single[0];
    const g = convGeometry([2, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1]);
    const x = kernels.allocF32(2 * 3 * 64);
    const w = kernels.allocF32(4 * 3 * 9);
    const b = kernels.allocF32(4);
    const y = kernels.allocF32(2 * 4 * 64);
    const dx = kernels.allocF32(2 * 3 * 64);
    const dw = kernels.allocF32(4 * 3 * 9);
    const short = kernels.allocF32(10);
    const refused = (run: () => void, pattern: RegExp) => assert.throws(run, (error: Error) => {
      assert.ok(error instanceof KernelArgumentError, `${error.name}: ${error.message}`);
      assert.match(error.message, pattern);
      return true;
    });
    refused(() => kernels.conv2dForward(g, x, w, b, short, 'relu'), /^conv2dForward: y has 10 elements, the call needs 512/);
    refused(() => kernels.conv2dForward(g, x, short, b, y, 'relu'), /^conv2dForward: w has 10/);
    refused(() => kernels.conv2dInputGrad(g, y, w, short), /^conv2dInputGrad: dx has 10/);
    refused(() => kernels.conv2dWeightGrad(g, x, y, dw, kernels.allocF32(3)), /^conv2dWeightGrad: db has 3/);
    refused(() => kernels.conv2dWeightGrad(g, short, y, dw, b), /^conv2dWeightGrad: x has 10/);
    const pool = poolGeometry('maxpool2d', [2, 3, 8, 8, 2, 2, 2, 2]);
    refused(() => kernels.maxpool2dForward(pool, x, kernels.allocF32(96), kernels.allocI32(95)), /^maxpool2dForward: indices has 95/);
    refused(() => kernels.avgpool2dBackward(pool, kernels.allocF32(96), short), /^avgpool2dBackward: dx has 10/);
    const bn = batchnormGeometry([2, 3, 8, 8]);
    refused(() => kernels.batchnormForwardTraining(bn, x, b, b, 1e-5, 0.1, b, b, dx, b, kernels.allocF32(2)),
      /^batchnormForwardTraining: invStd has 2/);
    refused(() => kernels.dropoutForward(x, kernels.allocU8(5), 0.5, dx, 384), /^dropoutForward: keep has 5/);
    refused(() => kernels.dropoutForward(x, kernels.allocU8(384), 1, dx, 384), /^dropoutForward: the drop probability/);
    refused(() => kernels.activationForward('tanh', short, y, 11), /^activationForward: x has 10/);
    // arrays from elsewhere, and a geometry that does not add up
    refused(() => kernels.conv2dForward(g, new Float32Array(384), w, b, y, 'relu'), /^conv2dForward: x is not in this kernel memory/);
    refused(() => kernels.conv2dForward({ ...g, outHeight: 9 }, x, w, b, y, 'relu'), /^conv2dForward: the geometry's outHeight is 9/);
    refused(() => kernels.conv2dInputGrad({ ...g, kernelH: 0 }, y, w, dx), /^conv2dInputGrad: the kernel height must be/);
    refused(() => kernels.maxpool2dBackward({ ...pool, padH: 1 }, y, kernels.allocI32(96), dx), /^maxpool2dBackward: the geometry's padH is 1/);
  });
});
