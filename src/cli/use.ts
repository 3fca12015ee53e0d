import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { createKernels } from '../core/index.js';
import { decodeInk, DEFAULT_MAX_PIXELS, preprocessDigit } from '../data/images.js';
import { DataSourceError } from '../data/errors.js';
import { Classifier } from '../nn/classifier.js';
import { evaluateDetailed } from '../train/evaluate.js';
import { modelData, type ModelData } from '../train/model-config.js';
import { DATA_SOURCES, VALIDATION_HELP } from './data.js';
import { chooseModel } from './models.js';
import { createOutput, parseNumber, UsageError, type Output } from './output.js';
import { loadDataChecked } from './load-data.js';
import { printConfusion, writeMostConfidentlyWrong } from './report.js';

const SPLITS = ['train', 'validation', 'test'] as const;
type SplitName = (typeof SPLITS)[number];

export function evalCommand(): Command {
  return new Command('eval')
    .description("evaluate a trained model on a dataset's test split (by default the data the model was trained on)")
    .option('--model <dir>', 'model folder (default: the newest under runs/)')
    .option('--data <source>', `dataset: ${DATA_SOURCES} (default: the data the model was trained on, as its config.json records it)`)
    .option('--validation <n>', `${VALIDATION_HELP}; with the model's recorded data, the split it was trained with`, parseNumber('--validation', 'int'))
    .addOption(new Option('--split <name>', 'which split').choices([...SPLITS]).default('test'))
    .option('--out <file>', 'PNG of the most confidently wrong digits (default: most-confidently-wrong-SPLIT.png in the model folder)')
    .option('--json', 'print one JSON result on stdout')
    .action(async (opts) => {
      const out = createOutput(Boolean(opts.json));
      const split = opts.split as SplitName;
      const modelDir = await chooseModel(opts.model, out, 'newest');
      const kernels = await createKernels();
      const classifier = await Classifier.load(kernels, modelDir);
      const choice = modelData(classifier.config, opts.data);
      const data = loadModelData(out, choice, opts.validation, modelDir)[split];
      const [h, w] = classifier.config.inputShape;
      if (data.height !== h || data.width !== w || data.classes > classifier.config.classes) {
        throw new Error(
          `the model reads ${h}×${w} images into ${classifier.config.classes} classes, the data has ${data.height}×${data.width} images in ${data.classes} classes`,
        );
      }
      const result = evaluateDetailed(classifier.model, data);
      const wrongPng: string = opts.out ?? join(modelDir, `most-confidently-wrong-${split}.png`);
      let wrong = 0;
      try {
        wrong = await writeMostConfidentlyWrong(wrongPng, result, data);
      } catch (error) {
        // The picture is a by-product: the evaluation stands even when the model folder is read-only.
        out.info(`could not write ${wrongPng} (${(error as Error).message}); --out FILE puts the picture of misread digits elsewhere`);
      }
      const why = {
        given: '',
        recorded: ' (the data the model was trained on; --data chooses other data)',
        default: ' (the model does not record its training data; --data chooses other data)',
      }[choice.origin];
      out.print(`${split} split of ${choice.spec}${why}: ${result.count} images`);
      out.print(`accuracy ${(result.accuracy * 100).toFixed(2)}%, loss ${result.loss.toFixed(4)}`);
      const names = classifier.config.labels;
      out.print(`confusion matrix (rows: true ${names ? 'class' : 'digit'}, columns: predicted):`);
      for (const line of printConfusion(result.confusion, names)) out.print(line);
      if (wrong > 0) out.print(`most confidently wrong ${split} digits (true/predicted): ${wrongPng}`);
      out.result({
        model: modelDir,
        data: choice.spec,
        data_origin: choice.origin,
        split,
        count: result.count,
        accuracy: result.accuracy,
        loss: result.loss,
        confusion: result.confusion,
        wrong_digits: wrong > 0 ? wrongPng : null,
      });
    });
}

/** Loads the data chosen for a model; data the model records but that is gone says how to choose other data. */
function loadModelData(out: Output, choice: ModelData, validation: number | undefined, modelDir: string) {
  try {
    return loadDataChecked(out, choice.spec, { validation: validation ?? choice.validation });
  } catch (error) {
    if (choice.origin !== 'recorded' || !(error instanceof DataSourceError)) throw error;
    throw new DataSourceError(`${modelDir} was trained on ${choice.spec}, which cannot be loaded: ${error.message}; pass --data SOURCE to evaluate it on other data`);
  }
}

/** --max-pixels, shared by the commands that decode pictures (predict, read, serve). */
export function maxPixelsOption(): Option {
  return new Option('--max-pixels <n>', 'refuse pictures whose header declares more pixels than this, before decoding them')
    .argParser(parseNumber('--max-pixels', 'positive-int'))
    .default(DEFAULT_MAX_PIXELS, `${DEFAULT_MAX_PIXELS / 1e6} megapixels`);
}

export function predictCommand(): Command {
  return new Command('predict')
    .description("read the digit in each image (PNG or JPEG, any size, dark-on-light or light-on-dark), fitted into the model's input the way MNIST was made")
    .option('--model <dir>', 'model folder (default: the digit model under runs/ with the highest recorded test accuracy)')
    .argument('<images...>', 'image files')
    .addOption(maxPixelsOption())
    .option('--json', 'print one JSON result on stdout')
    .action(async (images: string[], opts) => {
      const out = createOutput(Boolean(opts.json));
      const modelDir = await chooseModel(opts.model, out, 'most-accurate');
      const kernels = await createKernels();
      const classifier = await Classifier.load(kernels, modelDir);
      const [height, width] = classifier.inputShape;
      const results = [];
      for (const file of images) {
        const image = decodeInk(readFile(file), file, { maxPixels: opts.maxPixels });
        const pixels = preprocessDigit(image.data, image.width, image.height, { height, width });
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
