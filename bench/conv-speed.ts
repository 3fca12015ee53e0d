// Milliseconds per call of the convolution kernels on the shapes of LeNet-5 and of the `cnn` preset at
// batch 128: the TypeScript reference, and WebAssembly on 1 and 2 threads; the same for the 2×2 max
// pools that follow those convolutions. Then the convolutions of one
// LeNet-5 training step (both forwards and weight gradients, the second layer's input gradient; the
// first layer's input gradient is never needed), against the 128 / 15000 s ≈ 8.5 ms of PyTorch with
// oneDNN at ~15k samples/s.
//
//   npx tsx bench/conv-speed.ts [--batch N] [--seconds S] [--no-reference]
import { cpus, loadavg } from 'node:os';
import { createReferenceKernels, createWasmKernels, type Kernels } from '../src/core/index.js';
import { conv2dGeometry, pool2dGeometry, type Conv2dGeometry, type Geometry2d } from '../src/core/geometry2d.js';
import { loadData } from '../src/data/source.js';
import { gemmGflops } from './gemm-speed.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const batch = option('--batch', 128);
const seconds = option('--seconds', 0.5);
const withReference = !args.includes('--no-reference');

interface Layer {
  name: string;
  geometry: Conv2dGeometry;
}

const layer = (name: string, channels: number, size: number, outChannels: number, kernel: number, padding: number): Layer => ({
  name,
  geometry: conv2dGeometry({ batch, channels, height: size, width: size, outChannels },
    { kernel: [kernel, kernel], padding: [padding, padding] }),
});

const layers = [
  layer('LeNet-5 conv1 1→6 5x5 pad 2, 28x28', 1, 28, 6, 5, 2),
  layer('LeNet-5 conv2 6→16 5x5, 14x14', 6, 14, 16, 5, 0),
  layer('cnn conv1 1→24 5x5, 28x28', 1, 28, 24, 5, 0),
  layer('cnn conv2 24→32 3x3, 12x12', 24, 12, 32, 3, 0),
];

type Pass = 'forward' | 'inputGrad' | 'weightGrad';
const passes: Pass[] = ['forward', 'inputGrad', 'weightGrad'];

/** The arrays of one layer in `kernels`' memory, filled with values in [−1, 1). */
function arrays(kernels: Kernels, g: Conv2dGeometry) {
  const filled = (length: number) => {
    const array = kernels.allocF32(length);
    for (let i = 0; i < length; i++) array[i] = Math.random() * 2 - 1;
    return array;
  };
  return {
    x: filled(g.batch * g.channels * g.height * g.width),
    w: filled(g.outChannels * g.channels * g.kernelH * g.kernelW),
    b: filled(g.outChannels),
    y: filled(g.batch * g.outChannels * g.outHeight * g.outWidth),
    dx: kernels.allocF32(g.batch * g.channels * g.height * g.width),
    dw: kernels.allocF32(g.outChannels * g.channels * g.kernelH * g.kernelW),
    db: kernels.allocF32(g.outChannels),
  };
}

/** Best-of milliseconds of one pass, timed for about `budget` seconds after a warm-up call. */
function time(kernels: Kernels, g: Conv2dGeometry, pass: Pass, budget: number): number {
  const a = arrays(kernels, g);
  const run = () => {
    if (pass === 'forward') kernels.conv2dForward(g, a.x, a.w, a.b, a.y, 'relu');
    else if (pass === 'inputGrad') kernels.conv2dInputGrad(g, a.y, a.w, a.dx);
    else kernels.conv2dWeightGrad(g, a.x, a.y, a.dw, a.db);
  };
  run();
  let best = Infinity;
  const deadline = performance.now() + budget * 1000;
  do {
    const start = performance.now();
    run();
    best = Math.min(best, performance.now() - start);
  } while (performance.now() < deadline);
  return best;
}

const macs = (g: Conv2dGeometry) => g.batch * g.outChannels * g.outHeight * g.outWidth * g.channels * g.kernelH * g.kernelW;

const backends: { label: string; kernels: Kernels }[] = [];
if (withReference) backends.push({ label: 'reference', kernels: createReferenceKernels() });
for (const threads of [1, 2]) {
  const kernels = await createWasmKernels({ threads });
  backends.push({ label: `${kernels.name} ×${threads}`, kernels });
}

console.log(`${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, Node ${process.version}`);
console.log(`batch ${batch}; ms per call (best of ${seconds} s; the reference once or twice); GFLOPS in brackets\n`);
const header = ['layer', 'pass', ...backends.map((b) => b.label)];
const rows: string[][] = [];
const results = new Map<string, number>();
for (const { name, geometry } of layers) {
  for (const pass of passes) {
    const row = [name, pass];
    for (const { label, kernels } of backends) {
      const ms = time(kernels, geometry, pass, label === 'reference' ? 0 : seconds);
      results.set(`${name}|${pass}|${label}`, ms);
      row.push(`${ms.toFixed(ms < 10 ? 3 : 1)} (${((2 * macs(geometry)) / (ms * 1e6)).toFixed(1)})`);
    }
    rows.push(row);
  }
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
console.log(line(header));
for (const row of rows) console.log(line(row));

// the max pools after those convolutions (2×2, stride 2), on the ReLU outputs' kind of values
const pools = [
  { name: 'LeNet-5 pool1 6x28x28', channels: 6, size: 28 },
  { name: 'LeNet-5 pool2 16x10x10', channels: 16, size: 10 },
  { name: 'cnn pool1 24x24x24', channels: 24, size: 24 },
  { name: 'cnn pool2 32x10x10', channels: 32, size: 10 },
];
/** Best-of milliseconds of a max pool's forward or backward. */
function timePool(kernels: Kernels, g: Geometry2d, backward: boolean, budget: number): number {
  const inputs = g.batch * g.channels * g.height * g.width;
  const outputs = g.batch * g.channels * g.outHeight * g.outWidth;
  const x = kernels.allocF32(inputs);
  for (let i = 0; i < inputs; i++) x[i] = Math.max(0, Math.random() * 2 - 1);
  const y = kernels.allocF32(outputs);
  const indices = kernels.allocI32(outputs);
  const dx = kernels.allocF32(inputs);
  kernels.maxpool2dForward(g, x, y, indices);
  const run = () => (backward ? kernels.maxpool2dBackward(g, y, indices, dx) : kernels.maxpool2dForward(g, x, y, indices));
  run();
  let best = Infinity;
  const deadline = performance.now() + budget * 1000;
  do {
    const start = performance.now();
    run();
    best = Math.min(best, performance.now() - start);
  } while (performance.now() < deadline);
  return best;
}
console.log('\nmax pooling 2x2 stride 2, ms per call');
const poolRows = pools.flatMap(({ name, channels, size }) => {
  const g = pool2dGeometry('maxpool2d', { batch, channels, height: size, width: size }, { kernel: [2, 2], stride: [2, 2] });
  return [false, true].map((backward) => [name, backward ? 'backward' : 'forward',
    ...backends.map(({ label, kernels }) => timePool(kernels, g, backward, label === 'reference' ? 0 : seconds).toFixed(3))]);
});
for (const row of poolRows) console.log(line(row));

// the forward and weight gradient reading only the nonzero inputs, against the dense ones: the first
// layers on a batch of MNIST digits (~19% nonzero), then on random inputs of set densities (where the
// two meet sets DEFAULT_SPARSE_CONV_DENSITY_LIMIT), and LeNet-5's second layer
const digits = loadData('mnist').train;
/** Best-of milliseconds of `run`. */
function best(run: () => void, budget: number): number {
  run();
  let fastest = Infinity;
  const deadline = performance.now() + budget * 1000;
  do {
    const start = performance.now();
    run();
    fastest = Math.min(fastest, performance.now() - start);
  } while (performance.now() < deadline);
  return fastest;
}
function sparseRows(name: string, g: Conv2dGeometry, density: number | 'mnist'): string[][] {
  return backends.filter((b) => b.label !== 'reference').map(({ label, kernels }) => {
    const a = arrays(kernels, g);
    const inputs = g.channels * g.height * g.width;
    if (density === 'mnist') for (let i = 0; i < g.batch * inputs; i++) a.x[i] = digits.images[i] / digits.pixelMax;
    else for (let i = 0; i < a.x.length; i++) a.x[i] = Math.random() < density ? Math.random() : 0;
    const index = kernels.allocNonzeroIndex(g.batch, inputs);
    const listing = () => kernels.indexNonzeros(a.x, g.batch, inputs, index);
    const share = listing() / (g.batch * inputs);
    const times = [
      best(() => kernels.conv2dForward(g, a.x, a.w, a.b, a.y, 'relu'), seconds),
      best(() => { listing(); kernels.conv2dForwardSparse(g, index, a.w, a.b, a.y, 'relu'); }, seconds),
      best(() => kernels.conv2dWeightGrad(g, a.x, a.y, a.dw, a.db), seconds),
      best(() => kernels.conv2dWeightGradSparse(g, index, a.y, a.dw, a.db), seconds),
    ];
    return [name, `${(100 * share).toFixed(0)}%`, label, ...times.map((ms) => ms.toFixed(3))];
  });
}
console.log('\nsparse inputs: ms per call (the sparse forward includes listing the nonzeros)');
const sparseTable = [['layer', 'nonzero', 'kernels', 'forward', 'sparse', 'weightGrad', 'sparse']];
sparseTable.push(...sparseRows(layers[0].name, layers[0].geometry, 'mnist'), ...sparseRows(layers[2].name, layers[2].geometry, 'mnist'));
for (const density of [0.3, 0.5, 0.7]) sparseTable.push(...sparseRows(layers[2].name, layers[2].geometry, density));
for (const density of [0.3, 0.5]) sparseTable.push(...sparseRows(layers[1].name, layers[1].geometry, density));
const sparseWidths = sparseTable[0].map((_, i) => Math.max(...sparseTable.map((r) => r[i].length)));
for (const row of sparseTable) console.log(row.map((c, i) => c.padEnd(sparseWidths[i])).join('  '));

// the input and weight gradients from the nonzeros of dy (a 2×2 max pool's gradient passes one value
// in four, a ReLU then about half of those), against the dense ones
function sparseGradRows(name: string, g: Conv2dGeometry, density: number): string[][] {
  return backends.filter((b) => b.label !== 'reference').map(({ label, kernels }) => {
    const a = arrays(kernels, g);
    const outputs = g.outChannels * g.outHeight * g.outWidth;
    for (let i = 0; i < a.y.length; i++) a.y[i] = Math.random() < density ? Math.random() - 0.5 : 0;
    const index = kernels.allocNonzeroIndex(g.batch, outputs);
    const listing = () => kernels.indexNonzeros(a.y, g.batch, outputs, index);
    const share = listing() / (g.batch * outputs);
    const times = [
      best(() => kernels.conv2dInputGrad(g, a.y, a.w, a.dx), seconds),
      best(() => { listing(); kernels.conv2dInputGradSparse(g, index, a.w, a.dx); }, seconds),
      best(() => kernels.conv2dWeightGrad(g, a.x, a.y, a.dw, a.db), seconds),
      best(() => kernels.conv2dWeightGradSparseDy(g, a.x, index, a.y, a.dw, a.db), seconds),
    ];
    return [name, `${(100 * share).toFixed(0)}%`, label, ...times.map((ms) => ms.toFixed(3))];
  });
}
console.log('\nsparse output gradients: ms per call (the sparse input gradient includes listing the nonzeros)');
const gradTable = [['layer', 'nonzero', 'kernels', 'inputGrad', 'sparse', 'weightGrad', 'sparse']];
for (const density of [0.12, 0.25, 0.5]) gradTable.push(...sparseGradRows(layers[1].name, layers[1].geometry, density));
for (const density of [0.12, 0.25, 0.5]) gradTable.push(...sparseGradRows(layers[3].name, layers[3].geometry, density));
for (const density of [0.12, 0.25]) gradTable.push(...sparseGradRows(layers[2].name, layers[2].geometry, density));
const gradWidths = gradTable[0].map((_, i) => Math.max(...gradTable.map((r) => r[i].length)));
for (const row of gradTable) console.log(row.map((c, i) => c.padEnd(gradWidths[i])).join('  '));

// a LeNet-5 training step's convolutions
const step: [string, Pass][] = [[layers[0].name, 'forward'], [layers[0].name, 'weightGrad'],
  [layers[1].name, 'forward'], [layers[1].name, 'inputGrad'], [layers[1].name, 'weightGrad']];
console.log('\nLeNet-5 training step, convolutions only (conv1 forward + weight grad, conv2 forward + input grad + weight grad):');
for (const { label } of backends) {
  const ms = step.reduce((sum, [name, pass]) => sum + (results.get(`${name}|${pass}|${label}`) ?? NaN), 0);
  console.log(`  ${label.padEnd(widths[2])}  ${ms.toFixed(2)} ms  (${Math.round((batch * 1000) / ms)} samples/s; PyTorch+oneDNN whole step ≈ ${(batch / 15).toFixed(1)} ms)`);
}
// The machines are shared: a GEMM measured in the same run tells how much of a core this run had
// (bench/results/latest.md has 47 GFLOPS for it on an idle machine, relaxed SIMD, 1 thread).
const single = backends.find((b) => b.kernels.name !== 'reference' && b.kernels.threads === 1);
if (single) console.log(`\nfor scale: GEMM 128×784×800 NN on ${single.label} ${gemmGflops(single.kernels, false, false, 128, 784, 800, seconds).toFixed(1)} GFLOPS in this run`);
for (const { kernels } of backends) await kernels.close();
