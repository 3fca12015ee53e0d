import { readFileSync } from 'node:fs';
import { UsageError } from './output.js';
import { Command, Option } from 'commander';
import { createKernels } from '../core/index.js';
import { decodeGrayscale, DEFAULT_MAX_PIXELS, preprocessDigit } from '../data/images.js';
import { loadData } from '../data/source.js';
import { Classifier } from '../nn/classifier.js';
import { evaluateDetailed } from '../train/evaluate.js';
import { createOutput, parseNumber } from './output.js';
import { printConfusion } from './report.js';

export function evalCommand(): Command {
  return new Command('eval')
    .description("evaluate a trained model on a dataset's test split")
    .requiredOption('--model <dir>', 'model folder (written by digitlab train --out)')
    .option('--data <source>', 'dataset: mnist (bundled), idx:DIR, pkl:FILE', 'mnist')
    .option('--validation <n>', 'training images held out for validation (idx and mnist)', parseNumber('--validation', 'int'))
    .addOption(new Option('--split <name>', 'which split').choices(['train', 'validation', 'test']).default('test'))
    .option('--json', 'print one JSON result on stdout')
    .action(async (opts) => {
      const out = createOutput(Boolean(opts.json));
      const kernels = await createKernels();
      const classifier = await Classifier.load(kernels, opts.model);
      const data = loadData(opts.data, { validation: opts.validation })[opts.split as 'test'];
      const [h, w] = classifier.config.inputShape;
      if (data.height !== h || data.width !== w || data.classes > classifier.config.classes) {
        throw new Error(
          `the model reads ${h}×${w} images into ${classifier.config.classes} classes, the data has ${data.height}×${data.width} images in ${data.classes} classes`,
        );
      }
      const result = evaluateDetailed(classifier.model, data);
      out.print(`${opts.split} split of ${opts.data}: ${result.count} images`);
      out.print(`accuracy ${(result.accuracy * 100).toFixed(2)}%, loss ${result.loss.toFixed(4)}`);
      out.print('confusion matrix (rows: true digit, columns: predicted):');
      for (const line of printConfusion(result.confusion)) out.print(line);
      out.result({ model: opts.model, data: opts.data, split: opts.split, count: result.count, accuracy: result.accuracy, loss: result.loss, confusion: result.confusion });
    });
}

/** --max-pixels, shared by the commands that decode pictures (predict, read, serve). */
export function maxPixelsOption(): Option {
  return new Option('--max-pixels <n>', 'refuse pictures whose header declares more pixels than this, before decoding them')
    .argParser(parseNumber('--max-pixels', 'positive-int'))
    .default(DEFAULT_MAX_PIXELS, `${DEFAULT_MAX_PIXELS / 1e6} megapixels`);
}

export function predictCommand(): Command {
  return new Command('predict')
    .description('read the digit in each image (PNG or JPEG, any size, dark-on-light or light-on-dark)')
    .requiredOption('--model <dir>', 'model folder (written by digitlab train --out)')
    .argument('<images...>', 'image files')
    .addOption(maxPixelsOption())
    .option('--json', 'print one JSON result on stdout')
    .action(async (images: string[], opts) => {
      const out = createOutput(Boolean(opts.json));
      const kernels = await createKernels();
      const classifier = await Classifier.load(kernels, opts.model);
      const [h, w] = classifier.config.inputShape;
      if (h !== 28 || w !== 28) throw new Error(`predict reads digit pictures into 28×28 inputs; this model reads ${h}×${w} images`);
      const results = [];
      for (const file of images) {
        const image = decodeGrayscale(readFile(file), file, { maxPixels: opts.maxPixels });
        const pixels = preprocessDigit(image.data, image.width, image.height);
        const started = performance.now();
        const prediction = classifier.predict(pixels);
        const ms = performance.now() - started;
        const probabilities = prediction.probabilities.map((p) => Number(p.toFixed(6)));
        results.push({ file, digit: classifier.label(prediction.digit), confidence: prediction.probabilities[prediction.digit], probabilities, ms });
        out.print(`${file}: ${classifier.label(prediction.digit)} (${(prediction.probabilities[prediction.digit] * 100).toFixed(1)}%)`);
        out.print('  ' + prediction.probabilities.map((p, c) => `${classifier.label(c)}:${(p * 100).toFixed(1)}%`).join(' '));
      }
      out.result(images.length === 1 ? results[0] : results);
    });
}

function readFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
}
