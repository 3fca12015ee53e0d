import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { createKernels } from '../core/index.js';
import { decodeInk } from '../data/images.js';
import { Classifier } from '../nn/classifier.js';
import { readDigits } from '../read/read.js';
import { chooseModel } from './models.js';
import { createOutput, parseNumber, UsageError } from './output.js';
import { maxPixelsOption } from './use.js';

export function readCommand(): Command {
  return new Command('read')
    .description('read a row of handwritten digits (a zip code, a number) in each image: segment it, then read every digit')
    .argument('<images...>', 'PNG or JPEG files, one row of digits each')
    .option('--model <dir>', 'model folder (default: the digit model under runs/ with the highest recorded test accuracy)')
    .option('--digits <n>', 'how many digits each row holds, when known (splits or joins segments to match)', parseNumber('--digits', 'positive-int'))
    .addOption(maxPixelsOption())
    .option('--json', 'print one JSON result on stdout')
    .action(async (images: string[], opts) => {
      const out = createOutput(Boolean(opts.json));
      const modelDir = await chooseModel(opts.model, out, 'most-accurate');
      const classifier = await Classifier.load(await createKernels(), modelDir);
      const results = [];
      for (const file of images) {
        let bytes: Buffer;
        try {
          bytes = readFileSync(file);
        } catch (error) {
          throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
        }
        const image = decodeInk(bytes, file, { maxPixels: opts.maxPixels });
        const result = readDigits(classifier, image.data, image.width, image.height, { digits: opts.digits });
        const digits = result.digits.map((d) => ({ label: d.label, confidence: Number(d.confidence.toFixed(6)), box: d.box, split: d.split, components: d.components }));
        results.push({ file, text: result.text, digits });
        out.print(`${file}: ${result.text === '' ? '(no digits found)' : result.text}`);
        if (digits.length > 0) out.print('  ' + digits.map((d) => `${d.label} ${(d.confidence * 100).toFixed(1)}%`).join(', '));
      }
      out.result(images.length === 1 ? { model: modelDir, ...results[0] } : { model: modelDir, results });
    });
}
