/** `digitlab export` (a model folder as ONNX) and `digitlab import` (a PyTorch state dict as a model folder). */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { writeFileAtomic } from '../io/atomic.js';
import { parseLayers, presetLayers, UnknownPresetError } from '../io/layer-text.js';
import { loadModel, saveModel } from '../io/model-files.js';
import { LayerSpecError, summarizeModel } from '../io/model-spec.js';
import { exportOnnx, ONNX_OPSET, OnnxExportError } from '../io/onnx.js';
import { SafetensorsFormatError } from '../io/safetensors.js';
import { importStateDict, StateDictMismatchError } from '../io/torch-import.js';
import { chooseModel } from './models.js';
import { createOutput, formatBytes, parseNumber, UsageError } from './output.js';

export function exportCommand(): Command {
  return new Command('export')
    .description('write a model folder as an ONNX model, for ONNX Runtime and other runtimes')
    .option('--model <dir>', 'model folder (default: the newest under runs/)')
    .addOption(new Option('--format <name>', 'the format to write').choices(['onnx']).default('onnx'))
    .option('--out <file>', 'the file to write (default: model.onnx in the model folder)')
    .option('--json', 'print one JSON result on stdout')
    .action(async (opts) => {
      const out = createOutput(Boolean(opts.json));
      const dir = await chooseModel(opts.model, out, 'newest');
      const { config, tensors } = await loadModel(dir);
      let bytes: Uint8Array;
      try {
        bytes = exportOnnx(config, tensors, { source: basename(resolve(dir)) });
      } catch (error) {
        if (error instanceof OnnxExportError) throw new UsageError(`${dir}: ${error.message}`);
        throw error;
      }
      const file: string = opts.out ?? join(dir, 'model.onnx');
      await writeFileAtomic(file, bytes);
      const [c, h, w] = config.model.input;
      out.print(`wrote ${file} (${formatBytes(bytes.length)}, ONNX opset ${ONNX_OPSET})`);
      out.print(`input pixels [N, ${c}, ${h}, ${w}] float32 = pixel / ${config.normalization.pixelMax}; outputs logits and probabilities [N, ${config.classes}]`);
      out.result({ file, bytes: bytes.length, format: 'onnx', opset: ONNX_OPSET });
    });
}

export function importCommand(): Command {
  return new Command('import')
    .description("make a model folder of a PyTorch nn.Sequential's state dict saved with safetensors")
    .requiredOption('--weights <file>', 'the state dict, a .safetensors file (names 0.weight, … or layers.0.weight, …)')
    .option('--layers <list>', 'the Sequential as a layer list before its output layer, as `digitlab train --layers` takes it')
    .option('--preset <name>', 'the Sequential as a preset (`digitlab presets`)')
    .option('--input <CxHxW>', 'the image shape the network reads', '1x28x28')
    .option('--classes <n>', "the output layer's size (default: the last weight's rows)", parseNumber('--classes', 'positive-int'))
    .option('--pixel-max <n>', 'the network reads pixel / N', parseNumber('--pixel-max', 'positive'), 255)
    .requiredOption('--out <dir>', 'the model folder to write')
    .option('--json', 'print one JSON result on stdout')
    .action(async (opts) => {
      const out = createOutput(Boolean(opts.json));
      if ((opts.layers === undefined) === (opts.preset === undefined)) throw new UsageError('give the network as --layers LIST or --preset NAME (one of them)');
      const input = /^(\d+)x(\d+)x(\d+)$/.exec(opts.input);
      if (!input || input.slice(1).some((d) => Number(d) < 1)) throw new UsageError(`--input must be CxHxW with positive sizes, such as 1x28x28, got '${opts.input}'`);
      if (!existsSync(opts.weights)) throw new UsageError(`--weights: ${opts.weights} does not exist`);
      const flag = opts.preset !== undefined ? '--preset' : '--layers';
      let imported;
      try {
        const layers = opts.preset !== undefined ? presetLayers(opts.preset) : parseLayers(opts.layers);
        imported = await importStateDict(opts.weights, {
          layers, input: input.slice(1).map(Number) as [number, number, number], classes: opts.classes, pixelMax: opts.pixelMax,
        });
      } catch (error) {
        if (error instanceof LayerSpecError || error instanceof UnknownPresetError) throw new UsageError(`${flag}: ${error.message}`);
        if (error instanceof StateDictMismatchError || error instanceof SafetensorsFormatError) throw new UsageError(error.message);
        throw error;
      }
      const { config, tensors } = imported;
      await saveModel(opts.out, config, tensors);
      const summary = summarizeModel(config.model);
      out.print(`model: ${opts.out} (${summary.params.toLocaleString('en-US')} parameters, ${tensors.length} tensors from ${opts.weights})`);
      out.print(`check it with: digitlab eval --model ${opts.out} --data SOURCE`);
      out.result({ model: opts.out, params: summary.params, tensors: tensors.length, classes: config.classes });
    });
}
