// The WebAssembly kernels (plain SIMD, and relaxed SIMD where the runtime has it) against the plain
// TypeScript reference and against float64 computations written out here.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  createReferenceKernels, createWasmKernels, relaxedSimdSupported, KernelArgumentError, Random,
  type Activation, type Kernels, type WasmKernels,
} from '../../src/core/index.js';

const reference = createReferenceKernels();
const backends: WasmKernels[] = [];

before(async () => {
  backends.push(await createWasmKernels({ relaxed: false }));
  if (await relaxedSimdSupported()) backends.push(await createWasmKernels({ relaxed: true }));
});

const random = new Random(20240611);

function fill(array: Float32Array, low = -1, high = 1): Float32Array {
  for (let i = 0; i < array.length; i++) array[i] = random.uniform(low, high);
  return array;
}

function copyInto(kernels: Kernels, source: Float32Array): Float32Array {
  const array = kernels.allocF32(source.length);
  array.set(source);
  return array;
}

/** Asserts |actual − expected| ≤ tolerance(i) for every element, naming the first that is not. */
function assertClose(
  actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: (i: number) => number, what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i] - expected[i]);
    if (!(error <= tolerance(i))) {
      assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (error ${error}, tolerance ${tolerance(i)})`);
    }
  }
}

/** Float32 tolerance: 1e-5 relative plus a small absolute term. */
const near = (expected: ArrayLike<number>, absolute = 1e-6) => (i: number) => 1e-5 * Math.abs(expected[i]) + absolute;

describe('gemm', () => {
  const shapes: [number, number, number][] = [[1, 1, 1], [4, 8, 4], [3, 9, 5], [8, 16, 1], [5, 7, 0]];
  for (let i = 0; i < 40; i++) shapes.push([1 + random.int(37), 1 + random.int(37), 1 + random.int(37)]);
  // [m, n, k] of an MNIST network: forward 128×784 → 800, input and weight gradients, a narrow output
  shapes.push([128, 800, 784], [128, 784, 800], [800, 784, 128], [64, 10, 128], [128, 10, 800], [10, 800, 128],
    [1, 800, 784], [3, 20, 50], [64, 15, 33], [64, 16, 33], [2, 1, 1000]);
  const scalings: [number, number][] = [[1, 0], [0.5, 1], [-1.5, 0.25], [2, -1]];
  const forms: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];

  it('matches the reference on every form, shape and alpha/beta', () => {
    for (const [m, n, k] of shapes) {
      const large = m * n * k > 1e6;
      const aSource = fill(new Float32Array(m * k));
      const bSource = fill(new Float32Array(k * n));
      const cSource = fill(new Float32Array(m * n));
      const absA = aSource.map(Math.abs);
      const absB = bSource.map(Math.abs);
      const operands = backends.map((kernels) => {
        // guard elements on both sides of C catch stores outside [m, n]; the offset of 1 also makes C unaligned
        const guarded = kernels.allocF32(m * n + 10).fill(12345);
        return { kernels, a: copyInto(kernels, aSource), b: copyInto(kernels, bSource), guarded, c: guarded.subarray(1, 1 + m * n) };
      });
      for (const [transA, transB] of large ? forms.slice(0, 3) : forms) {
        // error bound of a float32 dot product: ~k·2⁻²⁴ · Σ|a||b| (scaled by alpha), plus the beta term
        const magnitude = new Float32Array(m * n);
        reference.gemm(transA, transB, m, n, k, 1, absA, absB, 0, magnitude);
        for (const [alpha, beta] of large ? scalings.slice(0, 2) : scalings) {
          const expected = cSource.slice();
          reference.gemm(transA, transB, m, n, k, alpha, aSource, bSource, beta, expected);
          for (const { kernels, a, b, guarded, c } of operands) {
            const what = `${kernels.name} gemm ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} m=${m} n=${n} k=${k} alpha=${alpha} beta=${beta}`;
            c.set(beta === 0 ? new Float32Array(m * n).fill(NaN) : cSource);
            kernels.gemm(transA, transB, m, n, k, alpha, a, b, beta, c);
            assertClose(c, expected,
              (i) => (k + 2) * 1.2e-7 * (Math.abs(alpha) * magnitude[i] + Math.abs(beta * cSource[i])) + 1e-7, what);
            assert.equal(guarded[0], 12345, `${what}: wrote before C`);
            for (let g = m * n + 1; g < guarded.length; g++) assert.equal(guarded[g], 12345, `${what}: wrote after C`);
          }
        }
      }
    }
  });

  it('gemmBlock multiplies blocks of larger matrices and writes nothing outside the block of C', () => {
    /** The [rows, cols] block at (row, col) of a matrix with `width` columns, as a dense copy. */
    const block = (matrix: Float32Array, width: number, row: number, col: number, rows: number, cols: number) => {
      const out = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++) out.set(matrix.subarray((row + r) * width + col, (row + r) * width + col + cols), r * cols);
      return out;
    };
    for (let trial = 0; trial < 30; trial++) {
      const [m, n, k] = [1 + random.int(37), 1 + random.int(37), 1 + random.int(37)];
      const [transA, transB] = [random.int(2) === 1, random.int(2) === 1];
      // each operand is stored inside a larger matrix, at a random offset
      const [aRows, aCols] = transA ? [k, m] : [m, k];
      const [bRows, bCols] = transB ? [n, k] : [k, n];
      const lda = aCols + random.int(5);
      const ldb = bCols + random.int(5);
      const ldc = n + random.int(5);
      const [aRow, aCol, bRow, bCol, cRow, cCol] = [random.int(3), lda - aCols, random.int(3), ldb - bCols, random.int(3), ldc - n];
      const aFull = fill(new Float32Array((aRows + aRow) * lda));
      const bFull = fill(new Float32Array((bRows + bRow) * ldb));
      const cFull = fill(new Float32Array((m + cRow + 1) * ldc));
      const expected = block(cFull, ldc, cRow, cCol, m, n);
      reference.gemm(transA, transB, m, n, k, 0.75, block(aFull, lda, aRow, aCol, aRows, aCols),
        block(bFull, ldb, bRow, bCol, bRows, bCols), 0.5, expected);
      for (const kernels of backends) {
        const what = `${kernels.name} gemmBlock ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} m=${m} n=${n} k=${k} ld=${lda},${ldb},${ldc}`;
        const a = copyInto(kernels, aFull);
        const b = copyInto(kernels, bFull);
        const c = copyInto(kernels, cFull);
        kernels.gemmBlock(transA, transB, m, n, k, 0.75, a.subarray(aRow * lda + aCol), lda,
          b.subarray(bRow * ldb + bCol), ldb, 0.5, c.subarray(cRow * ldc + cCol), ldc);
        assertClose(block(c, ldc, cRow, cCol, m, n), expected, (i) => 1e-5 * (k + Math.abs(expected[i])), what);
        // everything else in C is as it was
        const outside = (index: number) => {
          const [r, col] = [Math.floor(index / ldc) - cRow, (index % ldc) - cCol];
          return r < 0 || r >= m || col < 0 || col >= n;
        };
        for (let index = 0; index < c.length; index++) {
          if (outside(index)) assert.equal(c[index], cFull[index], `${what}: wrote outside the block at ${index}`);
        }
      }
    }
  });

  it('gemmBlock rejects a leading dimension narrower than the rows it strides over', () => {
    for (const kernels of backends) {
      const a = kernels.allocF32(64);
      assert.throws(() => kernels.gemmBlock(false, false, 2, 2, 4, 1, a, 3, a, 2, 0, a, 2), KernelArgumentError);
    }
  });

  it('ignores NaN in C when beta is 0, and computes beta·C when k is 0', () => {
    for (const kernels of backends) {
      const a = fill(kernels.allocF32(6 * 5));
      const b = fill(kernels.allocF32(5 * 9));
      const c = kernels.allocF32(6 * 9).fill(NaN);
      kernels.gemm(false, true, 6, 9, 5, 1, a, b, 0, c);
      assert.ok(c.every(Number.isFinite), `${kernels.name}: NaN leaked from C`);
      c.fill(3);
      kernels.gemm(false, false, 6, 9, 0, 1, a, b, 0.5, c);
      assert.ok(c.every((x) => x === 1.5), `${kernels.name}: k = 0 should give beta·C`);
    }
  });
});

function activate64(activation: Activation, x: number): number {
  switch (activation) {
    case 'relu': return Math.max(x, 0);
    case 'sigmoid': return 1 / (1 + Math.exp(-x));
    case 'tanh': return Math.tanh(x);
    case 'identity': return x;
  }
}

const activations: Activation[] = ['identity', 'relu', 'sigmoid', 'tanh'];

describe('activations', () => {
  it('biasActivation matches float64 on every activation, including extreme and tiny inputs', () => {
    for (const kernels of backends) {
      for (const activation of activations) {
        for (const [rows, cols] of [[1, 1], [3, 7], [5, 10], [16, 33], [128, 800]]) {
          const ySource = fill(new Float32Array(rows * cols), -8, 8);
          const special = [0, -0, 1e-3, -1e-3, 0.19, 0.21, -0.2, 30, -30, 100, -100, 1e-30, 88, -88, 200, -200];
          for (let i = 0; i < Math.min(special.length, ySource.length); i++) ySource[i] = special[i];
          const biasSource = fill(new Float32Array(cols), -0.5, 0.5);
          if (rows * cols >= special.length) biasSource.fill(0, 0, Math.min(cols, special.length));
          const expected = new Float64Array(rows * cols);
          for (let i = 0; i < expected.length; i++) {
            expected[i] = activate64(activation, Math.fround(ySource[i] + biasSource[i % cols]));
          }
          const y = copyInto(kernels, ySource);
          kernels.biasActivation(y, copyInto(kernels, biasSource), rows, cols, activation);
          assertClose(y, expected, (i) => 2e-6 * Math.abs(expected[i]) + 1e-7,
            `${kernels.name} biasActivation ${activation} ${rows}×${cols}`);
        }
      }
    }
  });

  it('activationBackward matches the reference', () => {
    for (const kernels of backends) {
      for (const activation of activations) {
        for (const length of [1, 3, 4, 7, 37, 1001]) {
          const xSource = fill(new Float32Array(length), -3, 3);
          const ySource = xSource.map((x) => activate64(activation, x));
          const dySource = fill(new Float32Array(length));
          const expected = dySource.slice();
          reference.activationBackward(activation, ySource, expected, length);
          const dy = copyInto(kernels, dySource);
          kernels.activationBackward(activation, copyInto(kernels, ySource), dy, length);
          assertClose(dy, expected, near(expected, 1e-7), `${kernels.name} activationBackward ${activation} ${length}`);
          if (activation === 'relu' && length > 30) assert.ok(expected.some((g, i) => g === 0 && dySource[i] !== 0), 'relu masks something');
        }
      }
    }
  });

  it('biasGradient sums the rows', () => {
    for (const kernels of backends) {
      for (const [rows, cols] of [[1, 1], [7, 3], [64, 10], [128, 37], [5, 800]]) {
        const dySource = fill(new Float32Array(rows * cols));
        const expected = new Float32Array(cols);
        reference.biasGradient(dySource, rows, cols, expected);
        const db = kernels.allocF32(cols).fill(NaN);
        kernels.biasGradient(copyInto(kernels, dySource), rows, cols, db);
        assertClose(db, expected, (i) => 1e-6 * rows + 1e-5 * Math.abs(expected[i]), `${kernels.name} biasGradient ${rows}×${cols}`);
      }
    }
  });
});

/** Mean softmax cross-entropy and its gradient, entirely in float64. */
function softmaxCrossEntropy64(
  logits: Float32Array, labels: Int32Array, rows: number, cols: number,
): { loss: number; grad: Float64Array } {
  const grad = new Float64Array(rows * cols);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const row = Array.from(logits.subarray(r * cols, (r + 1) * cols));
    const max = Math.max(...row);
    const sum = row.reduce((s, x) => s + Math.exp(x - max), 0);
    total += max + Math.log(sum) - row[labels[r]];
    for (let c = 0; c < cols; c++) grad[r * cols + c] = (Math.exp(row[c] - max) / sum - (c === labels[r] ? 1 : 0)) / rows;
  }
  return { loss: total / rows, grad };
}

describe('softmax and cross-entropy', () => {
  const cases: { rows: number; cols: number; scale: number }[] = [
    { rows: 1, cols: 1, scale: 1 }, { rows: 3, cols: 2, scale: 3 }, { rows: 7, cols: 10, scale: 5 },
    { rows: 128, cols: 10, scale: 10 }, { rows: 5, cols: 37, scale: 2 }, { rows: 6, cols: 10, scale: 1e4 },
  ];

  it('softmaxCrossEntropy matches float64, stays finite for logits of ±1e4, and may write over the logits', () => {
    for (const kernels of [reference, ...backends]) {
      for (const { rows, cols, scale } of cases) {
        const logitsSource = fill(new Float32Array(rows * cols), -scale, scale);
        const labelsSource = Int32Array.from({ length: rows }, () => random.int(cols));
        const { loss, grad: expected } = softmaxCrossEntropy64(logitsSource, labelsSource, rows, cols);
        const labels = kernels.allocI32(rows);
        labels.set(labelsSource);
        for (const aliased of [false, true]) {
          const logits = copyInto(kernels, logitsSource);
          const grad = aliased ? logits : kernels.allocF32(rows * cols);
          const what = `${kernels.name} softmaxCrossEntropy ${rows}×${cols} ±${scale}${aliased ? ' aliased' : ''}`;
          const actual = kernels.softmaxCrossEntropy(logits, labels, rows, cols, grad);
          assert.ok(Number.isFinite(actual), `${what}: loss ${actual}`);
          assert.ok(Math.abs(actual - loss) <= 1e-5 * Math.abs(loss) + 1e-6, `${what}: loss ${actual}, expected ${loss}`);
          assertClose(grad, expected, (i) => 1e-5 * Math.abs(expected[i]) + 1e-7 / rows, what);
        }
      }
    }
  });

  it('softmaxCrossEntropy gradient agrees with central finite differences of its loss', () => {
    for (const kernels of [reference, ...backends]) {
      const rows = 3;
      const cols = 5;
      const logits = fill(kernels.allocF32(rows * cols), -2, 2);
      const labels = kernels.allocI32(rows);
      labels.set([4, 0, 2]);
      const grad = kernels.allocF32(rows * cols);
      const scratch = kernels.allocF32(rows * cols);
      kernels.softmaxCrossEntropy(logits, labels, rows, cols, grad);
      const h = 1e-2;
      for (let i = 0; i < rows * cols; i++) {
        const saved = logits[i];
        logits[i] = saved + h;
        const up = kernels.softmaxCrossEntropy(logits, labels, rows, cols, scratch);
        logits[i] = saved - h;
        const down = kernels.softmaxCrossEntropy(logits, labels, rows, cols, scratch);
        logits[i] = saved;
        const numeric = (up - down) / (2 * h);
        assert.ok(Math.abs(numeric - grad[i]) < 2e-4, `${kernels.name} ∂L/∂x[${i}]: ${grad[i]} vs finite difference ${numeric}`);
      }
    }
  });

  it('rejects labels outside [0, cols)', () => {
    for (const kernels of [reference, ...backends]) {
      const labels = kernels.allocI32(2);
      labels.set([1, 3]);
      assert.throws(() => kernels.softmaxCrossEntropy(kernels.allocF32(6), labels, 2, 3, kernels.allocF32(6)), RangeError);
    }
  });

  it('softmax matches float64 and each row sums to 1', () => {
    for (const kernels of backends) {
      for (const { rows, cols, scale } of cases) {
        const logitsSource = fill(new Float32Array(rows * cols), -scale, scale);
        const expected = new Float64Array(rows * cols);
        for (let r = 0; r < rows; r++) {
          const row = Array.from(logitsSource.subarray(r * cols, (r + 1) * cols));
          const max = Math.max(...row);
          const sum = row.reduce((s, x) => s + Math.exp(x - max), 0);
          for (let c = 0; c < cols; c++) expected[r * cols + c] = Math.exp(row[c] - max) / sum;
        }
        const logits = copyInto(kernels, logitsSource);
        kernels.softmax(logits, rows, cols, logits);
        assertClose(logits, expected, (i) => 1e-5 * expected[i] + 1e-8, `${kernels.name} softmax ${rows}×${cols} ±${scale}`);
      }
    }
  });
});

describe('optimizer updates', () => {
  const lengths = [1, 3, 4, 5, 37, 1000];

  /** Runs `steps` updates on the reference and on each backend from the same state and compares all arrays. */
  function compare(
    what: string, stateCount: number, steps: number,
    update: (kernels: Kernels, arrays: Float32Array[], length: number, step: number) => void,
    absolute = 1e-6,
  ): void {
    for (const length of lengths) {
      const sources = [fill(new Float32Array(length)), fill(new Float32Array(length))];
      // state starts at zero (as in PyTorch), except momentum-like buffers that the first step overwrites
      for (let s = 0; s < stateCount; s++) sources.push(new Float32Array(length));
      const expected = sources.map((a) => a.slice());
      const gradients = Array.from({ length: steps }, () => fill(new Float32Array(length)));
      for (let step = 1; step <= steps; step++) {
        expected[1].set(gradients[step - 1]);
        update(reference, expected, length, step);
      }
      for (const kernels of backends) {
        const arrays = sources.map((a) => copyInto(kernels, a));
        for (let step = 1; step <= steps; step++) {
          arrays[1].set(gradients[step - 1]);
          update(kernels, arrays, length, step);
        }
        arrays.forEach((array, index) => {
          assertClose(array, expected[index], near(expected[index], absolute), `${kernels.name} ${what} length=${length} array ${index}`);
        });
      }
    }
  }

  it('sgdUpdate: every combination of momentum, dampening, Nesterov and weight decay', () => {
    for (const momentum of [0, 0.9]) {
      for (const dampening of [0, 0.3]) {
        for (const nesterov of [false, true]) {
          for (const weightDecay of [0, 0.01]) {
            compare(`sgd momentum=${momentum} dampening=${dampening} nesterov=${nesterov} wd=${weightDecay}`, 1, 3,
              (kernels, [param, grad, buffer], length, step) => kernels.sgdUpdate(
                param, grad, buffer, length, 0.1, momentum, dampening, weightDecay, nesterov, step === 1));
          }
        }
      }
    }
  });

  it('adamUpdate: Adam and AdamW, with and without amsgrad and weight decay', () => {
    const [lr, beta1, beta2, eps] = [1e-3, 0.9, 0.999, 1e-8];
    for (const decoupled of [false, true]) {
      for (const amsgrad of [false, true]) {
        for (const weightDecay of [0, 0.1]) {
          compare(`adam decoupled=${decoupled} amsgrad=${amsgrad} wd=${weightDecay}`, 3, 4,
            (kernels, [param, grad, m, v, vmax], length, t) => kernels.adamUpdate(
              param, grad, m, v, vmax, length, lr, beta1, beta2, eps, weightDecay, decoupled, amsgrad,
              lr / (1 - beta1 ** t), Math.sqrt(1 - beta2 ** t)));
        }
      }
    }
  });

  it('adagradUpdate: with and without weight decay and learning-rate decay', () => {
    for (const weightDecay of [0, 0.1]) {
      for (const lrDecay of [0, 0.01]) {
        compare(`adagrad wd=${weightDecay} lrDecay=${lrDecay}`, 1, 3,
          (kernels, [param, grad, sum], length, t) => kernels.adagradUpdate(
            param, grad, sum, length, 0.01 / (1 + (t - 1) * lrDecay), weightDecay, 1e-10));
      }
    }
  });

  it('rmspropUpdate: centered or not, with and without momentum and weight decay', () => {
    for (const centered of [false, true]) {
      for (const momentum of [0, 0.9]) {
        for (const weightDecay of [0, 0.1]) {
          compare(`rmsprop centered=${centered} momentum=${momentum} wd=${weightDecay}`, 3, 3,
            (kernels, [param, grad, square, gradAvg, buffer], length) => kernels.rmspropUpdate(
              param, grad, square, gradAvg, buffer, length, 0.01, 0.99, 1e-8, weightDecay, momentum, centered),
            // g/avg is about ±10 on the first steps (avg ≈ 0.1·|g|), so the buffer sums terms of that size
            3e-5);
        }
      }
    }
  });
});

describe('wasm memory', () => {
  it('keeps earlier arrays valid when the memory grows', () => {
    for (const kernels of backends) {
      const small = fill(kernels.allocF32(37));
      const before = small.slice();
      const big = kernels.allocF32(8 * 1024 * 1024); // 32 MiB forces growth
      big[big.length - 1] = 1;
      assert.deepEqual(small, before);
      const out = kernels.allocF32(1);
      kernels.gemm(false, true, 1, 1, 37, 1, small, small, 0, out);
      const dot = before.reduce((s, x) => s + x * x, 0);
      assert.ok(Math.abs(out[0] - dot) < 1e-5 * dot, `${kernels.name}: ${out[0]} vs ${dot}`);
    }
  });

  it('hands out 16-byte aligned, zero-filled arrays', () => {
    for (const kernels of backends) {
      for (const length of [1, 3, 5, 100]) {
        const array = kernels.allocF32(length);
        assert.equal(array.byteOffset % 16, 0);
        assert.ok(array.every((x) => x === 0));
      }
    }
  });

  it('rejects arrays from elsewhere and arrays too short for the call', () => {
    for (const kernels of backends) {
      const a = kernels.allocF32(12);
      assert.throws(() => kernels.gemm(false, false, 3, 4, 4, 1, new Float32Array(12), a, 0, a), KernelArgumentError);
      assert.throws(() => kernels.gemm(false, false, 3, 4, 5, 1, a, a, 0, a), KernelArgumentError);
      assert.throws(() => kernels.biasActivation(a, new Float32Array(4), 3, 4, 'relu'), KernelArgumentError);
    }
  });
});
