/** `digitlab export`: a model folder in another format (ONNX). */
import { basename, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModel } from '../io/model-files.js';
import { exportOnnx, ONNX_OPSET, OnnxExportError } from '../io/onnx.js';
import { chooseModel } from './models.js';
import { createOutput, formatBytes, UsageError } from './output.js';

export function exportCommand(): Command {
  return new Command('export')
    .description('write a model folder as an ONNX model, for ONNX Runtime and other runtimes')
    .option('--model <dir>', 'model folder (default: the newest under runs/)')
    .addOption(new Option('--format <name>', 'the format to write').choices(['onnx']).default('onnx'))
    .option('--out <file>', 'the file to write (default: model.onnx in the model folder)')
    .option('--json', 'print one JSON result on stdout')
    .action(async (opts) => {
      const out = createOutput(Boolean(opts.json));
      const dir = await chooseModel(opts.model, out);
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
