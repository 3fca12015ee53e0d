// ONNX export checked by a real runtime: ONNX Runtime (onnxruntime-web's WebAssembly build, in Node)
// runs the exported MLP and CNN on MNIST test images and must give digitlab's logits and probabilities
// within 1e-5.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-web';
import onnxProto from 'onnx-proto';
import { createKernels } from '../../src/core/index.js';
import { Random } from '../../src/core/random.js';
import { loadData } from '../../src/data/source.js';
import { parseLayers } from '../../src/io/layer-text.js';
import type { ModelConfig } from '../../src/io/model-config.js';
import { buildModelSpec } from '../../src/io/model-spec.js';
import { exportOnnx, ONNX_OPSET, OnnxExportError } from '../../src/io/onnx.js';
import { Sequential } from '../../src/nn/sequential.js';
import { VERSION } from '../../src/core/version.js';

ort.env.wasm.numThreads = 1;

const test = loadData('mnist').test;
const ROWS = 16;

const NETWORKS = {
  mlp: 'linear 32, relu, linear 16, tanh',
  // every module the exporter writes: padded and strided convolutions, both pools, batch norm on maps
  // and on features, the three activations, dropout (left out) and flatten
  cnn: 'conv 6 5x5 pad 2, batchnorm, relu, maxpool 2, conv 8 3x3 stride 2, tanh, avgpool 2, dropout 0.3, flatten, linear 20, batchnorm, sigmoid',
};

function configOf(layers: string): ModelConfig {
  return {
    format: 'digitlab', version: 2, model: buildModelSpec([1, 28, 28], parseLayers(layers), 10),
    inputShape: [28, 28], classes: 10, normalization: { pixelMax: 255 }, training: { data: 'mnist' },
  };
}

describe('ONNX export', () => {
  for (const [kind, layers] of Object.entries(NETWORKS)) {
    it(`runs the exported ${kind} in ONNX Runtime with digitlab's outputs (within 1e-5)`, async () => {
      const kernels = await createKernels({ backend: 'wasm', threads: 1 });
      try {
        const config = configOf(layers);
        const model = Sequential.create(kernels, config.model, 4);
        // running statistics that are not PyTorch's initial ones, so that eval-mode batch norm shows
        const random = new Random(9);
        for (const buffer of model.buffers()) {
          if (buffer.name.endsWith('running_mean')) buffer.value.forEach((_, i, a) => (a[i] = random.uniform(-0.5, 0.5)));
          if (buffer.name.endsWith('running_var')) buffer.value.forEach((_, i, a) => (a[i] = random.uniform(0.5, 2)));
        }
        const input = model.allocInput(ROWS);
        for (let i = 0; i < ROWS * 784; i++) input[i] = test.images[i] / 255;
        const logits = Float32Array.from(model.forward(input, ROWS));

        const bytes = exportOnnx(config, model.toTensors(), { source: kind });
        const session = await ort.InferenceSession.create(bytes);
        assert.deepEqual([...session.inputNames], ['pixels']);
        assert.deepEqual([...session.outputNames], ['logits', 'probabilities']);
        const pixels = new ort.Tensor('float32', Float32Array.from(input.subarray(0, ROWS * 784)), [ROWS, 1, 28, 28]);
        const out = await session.run({ pixels });
        assert.deepEqual(out.logits.dims, [ROWS, 10]);
        const onnxLogits = out.logits.data as Float32Array;
        const onnxProbabilities = out.probabilities.data as Float32Array;
        for (let r = 0; r < ROWS; r++) {
          const row = logits.subarray(r * 10, r * 10 + 10);
          const max = Math.max(...row);
          const exp = Array.from(row, (v) => Math.exp(v - max));
          const sum = exp.reduce((a, b) => a + b, 0);
          for (let c = 0; c < 10; c++) {
            const at = r * 10 + c;
            assert.ok(Math.abs(onnxLogits[at] - row[c]) <= 1e-5 * Math.max(1, Math.abs(row[c])), `${kind} row ${r} logit ${c}: ${onnxLogits[at]} vs ${row[c]}`);
            assert.ok(Math.abs(onnxProbabilities[at] - exp[c] / sum) <= 1e-5, `${kind} row ${r} probability ${c}: ${onnxProbabilities[at]} vs ${exp[c] / sum}`);
          }
        }
        await session.release();

        // what the file says of itself
        const decoded = onnxProto.onnx.ModelProto.decode(bytes);
        assert.equal(Number(decoded.opsetImport[0].version), ONNX_OPSET);
        const meta = Object.fromEntries(decoded.metadataProps.map((p) => [p.key, p.value]));
        assert.equal(meta.digitlab_version, VERSION);
        assert.equal(meta.training_data, 'mnist');
        assert.deepEqual(JSON.parse(meta.labels as string), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
        assert.match(decoded.graph?.docString ?? '', /pixel \/ 255/);
        assert.ok(!(decoded.graph?.node ?? []).some((n) => n.opType === 'Dropout'), 'dropout is left out');
      } finally {
        await kernels.close();
      }
    });
  }

  it('writes the package\'s version', () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    assert.equal(VERSION, pkg.version);
  });

  it('names a tensor that is missing or of the wrong shape', async () => {
    const config = configOf(NETWORKS.mlp);
    const kernels = await createKernels({ backend: 'reference' });
    const tensors = Sequential.create(kernels, config.model, 1).toTensors();
    const options = {};
    assert.throws(() => exportOnnx(config, tensors.filter((t) => t.name !== 'layers.2.bias'), options),
      (e: Error) => e instanceof OnnxExportError && /layers\.2\.bias is missing/.test(e.message));
    const wrong = tensors.map((t) => (t.name === 'layers.0.weight' ? { ...t, shape: [784, 32] } : t));
    assert.throws(() => exportOnnx(config, wrong, options),
      (e: Error) => e instanceof OnnxExportError && /layers\.0\.weight has shape \[784, 32\], the model's layer needs \[32, 784\]/.test(e.message));
  });
});
