// The nonzero index, the sparse-input products and the thread pool's split products against the reference, on random
// shapes (odd sizes included), and the split results against the single-thread ones bit for bit.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  createReferenceKernels, createWasmKernels, relaxedSimdSupported, KernelArgumentError, Random,
  type Kernels, type WasmKernels,
} from '../../src/core/index.js';
import { PANEL, panelIndex } from '../../src/core/panels.js';
import { ARGUMENTS, CONTROL_INTS, Operation, Slot, type PoolWorkerData } from '../../src/core/pool-protocol.js';
import { Worker } from 'node:worker_threads';

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

const random = new Random(77);

/** Random values in [−1, 1], each zero with probability `zeros`, and whole 4-blocks zero with `zeroBlocks`. */
function sparseValues(length: number, zeros: number, zeroBlocks = 0): Float32Array {
  const values = new Float32Array(length);
  for (let i = 0; i < length; i++) values[i] = random.uniform(0, 1) < zeros ? 0 : random.uniform(-1, 1);
  for (let b = 0; b + 4 <= length; b += 4) if (random.uniform(0, 1) < zeroBlocks) values.fill(0, b, b + 4);
  return values;
}

function copyInto(kernels: Kernels, source: Float32Array): Float32Array {
  const array = kernels.allocF32(source.length);
  array.set(source);
  return array;
}

function assertNear(actual: ArrayLike<number>, expected: ArrayLike<number>, magnitude: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const tolerance = 2e-6 * magnitude[i] + 1e-6;
    if (!(Math.abs(actual[i] - expected[i]) <= tolerance)) {
      assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (tolerance ${tolerance})`);
    }
  }
}

function assertIdentical(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} exactly`);
  }
}

describe('nonzero index', () => {
  it('lists the nonzero values by row and by column, as the reference does', () => {
    for (let trial = 0; trial < 30; trial++) {
      // the last trials are large enough to be listed on two threads and moved together
      const large = trial >= 27;
      const rows = large ? 50 + random.int(50) : 1 + random.int(40);
      const cols = large ? 1400 + random.int(300) : 1 + random.int(120);
      const x = sparseValues(rows * cols, random.uniform(0.3, 1), random.uniform(0, 0.8));
      if (trial === 0) x[5] = NaN;
      if (trial === 1) x.fill(-0);
      const expected = reference.allocNonzeroIndex(rows, cols);
      const count = reference.indexNonzeros(x, rows, cols, expected);
      reference.indexColumns(expected, rows);
      for (const kernels of [...single, ...pooled]) {
        const index = kernels.allocNonzeroIndex(rows + random.int(3), cols);
        assert.equal(kernels.indexNonzeros(copyInto(kernels, x), rows, cols, index), count, `${kernels.name}: count`);
        kernels.indexColumns(index, rows);
        assert.deepEqual(Array.from(index.rowStart.subarray(0, rows + 1)), Array.from(expected.rowStart.subarray(0, rows + 1)));
        assert.deepEqual(Array.from(index.rowCols.subarray(0, count)), Array.from(expected.rowCols.subarray(0, count)));
        assertIdentical(index.rowValues.subarray(0, count), expected.rowValues.subarray(0, count), 'rowValues');
        assert.deepEqual(Array.from(index.colStart), Array.from(expected.colStart));
        assert.deepEqual(Array.from(index.colRows.subarray(0, count)), Array.from(expected.colRows.subarray(0, count)));
        assertIdentical(index.colValues.subarray(0, count), expected.colValues.subarray(0, count), 'colValues');
      }
    }
  });

  it('lists pixel bytes times a scale exactly as indexNonzeros lists the scaled floats', () => {
    for (let trial = 0; trial < 30; trial++) {
      const rows = 1 + random.int(20);
      const cols = 1 + random.int(100);
      const scale = [1 / 255, 1 / 256, 1 / 3, 0.5, 7][trial % 5];
      const zeros = random.uniform(0.2, 1);
      const pixels = new Uint8Array(rows * cols).map(() => (random.uniform(0, 1) < zeros ? 0 : 1 + random.int(255)));
      const floats = Float32Array.from(pixels, (p) => p * scale);
      const expected = reference.allocNonzeroIndex(rows, cols);
      const count = reference.indexNonzeros(floats, rows, cols, expected);
      for (const kernels of [reference, ...single]) {
        const bytes = kernels.allocU8(pixels.length);
        bytes.set(pixels);
        const index = kernels.allocNonzeroIndex(rows, cols);
        assert.equal(kernels.indexPixels(bytes, rows, cols, scale, index), count, `${kernels.name}: count`);
        assert.deepEqual(Array.from(index.rowStart.subarray(0, rows + 1)), Array.from(expected.rowStart.subarray(0, rows + 1)));
        assert.deepEqual(Array.from(index.rowCols.subarray(0, count)), Array.from(expected.rowCols.subarray(0, count)));
        assertIdentical(index.rowValues.subarray(0, count), expected.rowValues.subarray(0, count), `${kernels.name} rowValues`);
        const scaled = kernels.allocF32(pixels.length).fill(NaN);
        kernels.scalePixels(bytes, pixels.length, scale, scaled);
        assertIdentical(scaled, floats, `${kernels.name} scalePixels`);
      }
    }
  });

  it('refuses pixels from elsewhere, too few pixels and a scale that is not positive', () => {
    for (const kernels of [reference, single[0]]) {
      const index = kernels.allocNonzeroIndex(4, 8);
      const pixels = kernels.allocU8(32);
      for (const scale of [0, -1, NaN, Infinity]) {
        assert.throws(() => kernels.indexPixels(pixels, 4, 8, scale, index), /scale must be a positive finite number/);
        assert.throws(() => kernels.scalePixels(pixels, 32, scale, kernels.allocF32(32)), /scale must be a positive finite number/);
      }
    }
    const kernels = single[0];
    const index = kernels.allocNonzeroIndex(4, 8);
    assert.throws(() => kernels.indexPixels(new Uint8Array(32), 4, 8, 1, index), /not in this kernel memory/);
    assert.throws(() => kernels.indexPixels(kernels.allocU8(31), 4, 8, 1, index), /pixels has 31 elements, the call needs 32/);
  });

  it('refuses an index of the wrong width or too few rows', () => {
    const kernels = single[0];
    const index = kernels.allocNonzeroIndex(4, 8);
    const x = kernels.allocF32(64);
    assert.throws(() => kernels.indexNonzeros(x, 4, 12, index), KernelArgumentError);
    assert.throws(() => kernels.indexNonzeros(x, 5, 8, index), KernelArgumentError);
    assert.throws(() => kernels.indexColumns(index, 5), KernelArgumentError);
    assert.throws(() => kernels.allocNonzeroIndex(4, 2.5), KernelArgumentError);
  });
});

describe('sparse products', () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1], [3, 8, 8], [5, 17, 13], [2, 33, 7], [4, 66, 9], [128, 800, 784], [64, 128, 784], [1000, 10, 16], [7, 100, 30],
    // every column block of the kernels (28, 16, 8, 4, then one by one), alone and together
    [3, 28, 9], [3, 44, 9], [3, 52, 9], [3, 56, 9], [6, 63, 21], [6, 59, 21], [200, 300, 400],
  ];
  for (let i = 0; i < 25; i++) shapes.push([1 + random.int(70), 1 + random.int(140), 1 + random.int(160)]);

  it('X·W and Xᵀ·dZ match the reference and the dense product on random shapes and densities, 1 or 2 threads alike', () => {
    for (const [rows, n, k] of shapes) {
      const x = sparseValues(rows * k, random.uniform(0.2, 0.95), 0.3);
      const w = sparseValues(k * n, 0);
      const dz = sparseValues(rows * n, 0.5);
      const forward = new Float32Array(rows * n);
      reference.gemm(false, false, rows, n, k, 1, x, w, 0, forward);
      const forwardMagnitude = new Float32Array(rows * n);
      reference.gemm(false, false, rows, n, k, 1, x.map(Math.abs), w.map(Math.abs), 0, forwardMagnitude);
      const gradient = new Float32Array(k * n);
      reference.gemm(true, false, k, n, rows, 1, x, dz, 0, gradient);
      const gradientMagnitude = new Float32Array(k * n);
      reference.gemm(true, false, k, n, rows, 1, x.map(Math.abs), dz.map(Math.abs), 0, gradientMagnitude);
      // the reference's sparse products agree with its dense ones
      const index = reference.allocNonzeroIndex(rows, k);
      reference.indexNonzeros(x, rows, k, index);
      reference.indexColumns(index, rows);
      // W and dW are in column panels: build W's from the row-major one, read dW's back row-major
      const wPanels = new Float32Array(k * n);
      reference.toPanels(w, k, n, wPanels);
      const c = new Float32Array(rows * n).fill(NaN);
      reference.sparseGemmNN(rows, n, k, index, wPanels, c);
      const dwPanels = new Float32Array(k * n).fill(NaN);
      reference.sparseGemmTN(k, n, rows, index, dz, dwPanels);
      const dw = new Float32Array(k * n);
      reference.fromPanels(dwPanels, k, n, dw);
      const what = `reference rows=${rows} n=${n} k=${k}`;
      assertNear(c, forward, forwardMagnitude, `${what} sparseGemmNN`);
      assertNear(dw, gradient, gradientMagnitude, `${what} sparseGemmTN`);
      for (let b = 0; b < single.length; b++) {
        const results = [single[b], pooled[b]].map((kernels) => {
          const index = kernels.allocNonzeroIndex(rows, k);
          kernels.indexNonzeros(copyInto(kernels, x), rows, k, index);
          kernels.indexColumns(index, rows);
          const wPanels = kernels.allocF32(k * n);
          kernels.toPanels(copyInto(kernels, w), k, n, wPanels);
          const c = kernels.allocF32(rows * n).fill(NaN);
          kernels.sparseGemmNN(rows, n, k, index, wPanels, c);
          const dwPanels = kernels.allocF32(k * n).fill(NaN);
          kernels.sparseGemmTN(k, n, rows, index, copyInto(kernels, dz), dwPanels);
          const dw = kernels.allocF32(k * n);
          kernels.fromPanels(dwPanels, k, n, dw);
          const what = `${kernels.name} ×${kernels.threads} rows=${rows} n=${n} k=${k}`;
          assertNear(c, forward, forwardMagnitude, `${what} sparseGemmNN`);
          assertNear(dw, gradient, gradientMagnitude, `${what} sparseGemmTN`);
          return { c, dw };
        });
        assertIdentical(results[1].c, results[0].c, `${single[b].name} sparseGemmNN, 2 threads vs 1`);
        assertIdentical(results[1].dw, results[0].dw, `${single[b].name} sparseGemmTN, 2 threads vs 1`);
      }
    }
  });
});

describe('column panels', () => {
  it('place every element once, as panelIndex says, and convert back exactly', () => {
    for (const [rows, n] of [[1, 1], [3, 28], [5, 29], [4, 56], [7, 60], [2, 100], [784, 800]]) {
      const seen = new Uint8Array(rows * n);
      for (let i = 0; i < rows; i++) for (let o = 0; o < n; o++) seen[panelIndex(i, o, rows, n)]++;
      assert.ok(seen.every((count) => count === 1), `${rows}×${n}: panelIndex is not a permutation`);
      const x = sparseValues(rows * n, 0);
      const expected = new Float32Array(rows * n);
      for (let i = 0; i < rows; i++) for (let o = 0; o < n; o++) expected[panelIndex(i, o, rows, n)] = x[i * n + o];
      // within a panel, a row's elements are contiguous
      if (n >= PANEL) assert.equal(panelIndex(1, 0, rows, n) - panelIndex(0, 0, rows, n), PANEL);
      for (const kernels of [reference, ...single]) {
        const panels = kernels.allocF32(rows * n);
        kernels.toPanels(copyInto(kernels, x), rows, n, panels);
        assertIdentical(panels, expected, `${kernels.name} toPanels ${rows}×${n}`);
        const back = kernels.allocF32(rows * n).fill(NaN);
        kernels.fromPanels(panels, rows, n, back);
        assertIdentical(back, x, `${kernels.name} fromPanels ${rows}×${n}`);
      }
    }
  });

  it('refuse to convert in place or into an overlapping array', () => {
    for (const kernels of [reference, single[0]]) {
      const x = kernels.allocF32(3 * 40);
      assert.throws(() => kernels.toPanels(x, 3, 40, x), /toPanels: x and out overlap/);
      assert.throws(() => kernels.fromPanels(x.subarray(0, 60), 2, 30, x.subarray(50)), /fromPanels: x and out overlap/);
      kernels.toPanels(x.subarray(0, 60), 2, 30, x.subarray(60)); // side by side: fine
    }
  });
});

describe('thread pool', () => {
  it('reports its threads', () => {
    assert.equal(single[0].threads, 1);
    assert.equal(pooled[0].threads, 2);
  });

  it('a thread runs a request posted before it looked at its control slot', async () => {
    // The caller may post its first request as soon as a thread says it is ready, and the thread may
    // get to its control slot only after that. Here the request is in the slot before the thread
    // starts at all: a thread that took the slot's request counter for its starting point would never
    // run it (this hung a fresh pool now and then).
    const kernels = single[0];
    const param = kernels.allocF32(4).fill(3);
    const grad = kernels.allocF32(4).fill(1);
    const control = new SharedArrayBuffer(CONTROL_INTS * 4);
    const args = new SharedArrayBuffer(ARGUMENTS * 8);
    const state = new Int32Array(control);
    // sgdUpdate(param, grad, momentum buffer, length, lr, momentum, dampening, weight decay, nesterov, first step)
    new Float64Array(args).set([param.byteOffset, grad.byteOffset, 0, 4, 0.5, 0, 0, 0, 0, 1]);
    state[Slot.Operation] = Operation.sgdUpdate;
    state[Slot.Request] = 1;
    const workerData: PoolWorkerData = { module: kernels.module, memory: kernels.memory, control, args, slot: 0, spin: 1000 };
    const script = new URL('../../src/core/pool-worker.ts', import.meta.url).href;
    const source = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})` +
      `.then((tsx) => { tsx.register(); return import(${JSON.stringify(script)}); })`;
    const worker = new Worker(source, { eval: true, workerData });
    try {
      await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      const answered = Atomics.wait(state, Slot.Done, 0, 10_000) !== 'timed-out' || state[Slot.Done] === 1;
      assert.ok(answered, 'the thread did not run the request that was waiting for it');
      assert.deepEqual(Array.from(param), [2.5, 2.5, 2.5, 2.5]);
    } finally {
      await worker.terminate();
    }
  });

  it('split GEMMs match the reference and the single thread bit for bit, in every form', () => {
    // large enough to be split (≥ 2¹⁸ multiply-adds): by columns, by rows (narrow outputs), by column pairs (one row)
    const shapes: [number, number, number][] = [
      [128, 800, 784], [800, 784, 128], [128, 784, 800], [1000, 10, 800], [1, 800, 784], [2, 999, 300],
      [67, 33, 129], [13, 1001, 41], [1003, 15, 37], [9, 257, 513],
    ];
    for (let i = 0; i < 6; i++) shapes.push([4 + random.int(300), 16 + random.int(300), 64 + random.int(300)]);
    const forms: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];
    for (const [m, n, k] of shapes) {
      const a = sparseValues(m * k, 0);
      const bm = sparseValues(k * n, 0);
      const c0 = sparseValues(m * n, 0);
      for (const [transA, transB] of forms) {
        for (const [alpha, beta] of [[1, 0], [0.5, -1]]) {
          const expected = c0.slice();
          reference.gemm(transA, transB, m, n, k, alpha, a, bm, beta, expected);
          const magnitude = new Float32Array(m * n);
          reference.gemm(transA, transB, m, n, k, Math.abs(alpha), a.map(Math.abs), bm.map(Math.abs), 0, magnitude);
          for (let i = 0; i < magnitude.length; i++) magnitude[i] += Math.abs(beta * c0[i]);
          for (let b = 0; b < single.length; b++) {
            const results = [single[b], pooled[b]].map((kernels) => {
              const c = copyInto(kernels, c0);
              kernels.gemm(transA, transB, m, n, k, alpha, copyInto(kernels, a), copyInto(kernels, bm), beta, c);
              assertNear(c, expected, magnitude,
                `${kernels.name} ×${kernels.threads} ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} m=${m} n=${n} k=${k}`);
              return c;
            });
            assertIdentical(results[1], results[0], `${single[b].name} gemm m=${m} n=${n} k=${k}, 2 threads vs 1`);
          }
        }
      }
    }
  });

  it('split optimizer updates give the single thread\'s parameters bit for bit', () => {
    for (const length of [65536, 100003, 636010]) {
      const p = sparseValues(length, 0);
      const g = sparseValues(length, 0.1);
      for (let b = 0; b < single.length; b++) {
        const results = [single[b], pooled[b]].map((kernels) => {
          const param = copyInto(kernels, p);
          const grad = copyInto(kernels, g);
          const m = kernels.allocF32(length);
          const v = kernels.allocF32(length);
          const buffer = kernels.allocF32(length);
          for (let step = 1; step <= 3; step++) {
            kernels.adamUpdate(param, grad, m, v, new Float32Array(0), length, 1e-3, 0.9, 0.999, 1e-8, 0.01, step === 2, false,
              1e-3 / (1 - 0.9 ** step), Math.sqrt(1 - 0.999 ** step));
            kernels.sgdUpdate(param, grad, buffer, length, 0.01, 0.9, 0, 1e-4, true, step === 1);
          }
          return param;
        });
        assertIdentical(results[1], results[0], `${single[b].name} updates of ${length}, 2 threads vs 1`);
      }
    }
  });
});
