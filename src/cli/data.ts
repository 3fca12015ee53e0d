import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Command, Option } from 'commander';
import { createKernels } from '../core/index.js';
import { Augmenter, formatAugmentSpec, type AugmentSpec } from '../data/augment.js';
import { className, type Dataset } from '../data/dataset.js';
import { DEFAULT_DATA_DIR, fetchDataset, PUBLISHED_MD5, TUTORIAL_MNIST_URL, type FetchDatasetResult } from '../data/fetch.js';
import { loadMnistPickle } from '../data/pickle.js';
import { encodeGrayscalePng, renderGrid, terminalPreview } from '../data/images.js';
import { dataWarnings } from '../data/checks.js';
import { describeData, loadData, type SplitDescription } from '../data/source.js';
import { addAugmentOptions, augmentFromOptions } from './augment-options.js';
import { loadDataChecked } from './load-data.js';
import { createOutput, formatCount, parseNumber, UsageError } from './output.js';

/** The data sources every --data option takes. */
export const DATA_SOURCES = 'mnist (bundled), fashion-mnist, idx:DIR or idx:DIR/SET (MNIST-style or EMNIST files), pkl:FILE';

/** The --validation option's help, the same wherever a command splits the training images. */
export const VALIDATION_HELP =
  "training images held out for validation, from the end of the training file (default: a sixth of the training images, 10,000 of MNIST's 60,000; a pkl: file keeps its own split)";

export function dataCommand(): Command {
  const data = new Command('data').description('get, inspect and look at datasets');

  data
    .command('fetch')
    .description("download a dataset once into a cache folder (default: the PyTorch tutorial's mnist.pkl.gz into data/mnist)")
    .option('--url <url>', 'where to download from (any mirror of the file)', TUTORIAL_MNIST_URL)
    .option('--dir <dir>', 'cache folder', DEFAULT_DATA_DIR)
    .option('--md5 <hex>', 'expected MD5 of the file (checked after download)')
    .option('--retries <n>', 'attempts after a network error, a cut connection or a server error', parseNumber('--retries', 'int'), 3)
    .option('--json', 'print one JSON result on stdout')
    .action(async (opts) => {
      const out = createOutput(Boolean(opts.json));
      let lastShown = 0;
      const isPickle = /\.pkl(\.gz)?$/.test(new URL(opts.url, 'file:///').pathname);
      let content = '';
      let result: FetchDatasetResult;
      try {
        result = await fetchDataset({
          url: opts.url,
          dir: opts.dir,
          md5: opts.md5,
          retries: opts.retries,
          // A pickle is only kept if it reads as the tutorial's three splits (safely: no code runs).
          verify: isPickle
            ? (temporary, target) => {
                const splits = loadMnistPickle(temporary, target);
                content = `train ${splits.train.count}, validation ${splits.validation.count}, test ${splits.test.count} images of ${splits.train.height}×${splits.train.width}`;
              }
            : undefined,
          onProgress: ({ bytes: received, total }) => {
            const now = performance.now();
            if (now - lastShown < 200 && received !== total) return;
            lastShown = now;
            const percent = total ? ` (${((received / total) * 100).toFixed(0)}%)` : '';
            process.stderr.write(`\rdownloading ${formatCount(received)}${total ? ` of ${formatCount(total)}` : ''} bytes${percent}   `);
          },
        });
      } finally {
        // the result, or the error, starts on a line of its own
        if (lastShown > 0) process.stderr.write('\n');
      }
      out.print(result.downloaded ? `downloaded ${result.path} (${formatCount(result.bytes)} bytes)` : `already there: ${result.path}`);
      if (content) out.print(`content checked: ${content}`);
      const published = PUBLISHED_MD5[basename(result.path)];
      if (opts.md5) out.print(`MD5 ${result.md5} matches --md5`);
      else if (published) {
        out.print(
          result.md5 === published
            ? `MD5 ${result.md5} matches the published digest of ${basename(result.path)}`
            : `MD5 ${result.md5} differs from the published digest of ${basename(result.path)} (${published}): another copy of the data`,
        );
      }
      out.result({ ...result, published_md5: published ?? null, content: content || null });
    });

  data
    .command('info')
    .description('print split sizes, image shape, pixel range, label range and class counts')
    .option('--data <source>', `dataset: ${DATA_SOURCES}`, 'mnist')
    .option('--validation <n>', VALIDATION_HELP, parseNumber('--validation', 'int'))
    .option('--json', 'print one JSON result on stdout')
    .action((opts) => {
      const out = createOutput(Boolean(opts.json));
      const splits = loadData(opts.data, { validation: opts.validation });
      const warnings = dataWarnings(splits).map((warning) => warning.message);
      for (const warning of warnings) out.info(`warning: ${warning}`);
      const description = describeData(splits);
      out.print(`data: ${description.source}`);
      for (const name of ['train', 'validation', 'test'] as const) {
        out.print(describeSplit(name, description[name]));
      }
      out.result({ ...description, warnings });
    });

  const show = data
    .command('show')
    .description('render digits as a PNG and preview one in the terminal')
    .option('--data <source>', `dataset: ${DATA_SOURCES}`, 'mnist')
    .addOption(new Option('--split <name>', 'which split').choices(['train', 'validation', 'test']).default('train'))
    .option('--validation <n>', VALIDATION_HELP, parseNumber('--validation', 'int'))
    .option('--index <n>', 'first image to show', parseNumber('--index', 'int'), 0)
    .option('--grid <CxR>', 'render COLUMNS x ROWS images from --index, with their labels (e.g. 10x10)')
    .option('--scale <n>', 'pixels per image pixel in the PNG', parseNumber('--scale', 'positive-int'), 4);
  addAugmentOptions(show, 'show')
    .option('--variants', 'with --augment: show each image\'s row as the image itself, then distortions of it (a new one per column)')
    .option('--seed <n>', 'with --augment: the seed of the distortions', parseNumber('--seed', 'int'), 0)
    .option('--out <file>', 'PNG file to write', 'digit.png')
    .option('--json', 'print one JSON result on stdout')
    .action(async (opts) => {
      const out = createOutput(Boolean(opts.json));
      const augment = augmentFromOptions(opts);
      if (opts.variants && !augment) throw new UsageError('--variants shows distortions: add --augment affine, elastic or affine,elastic');
      const splits = loadDataChecked(out, opts.data, { validation: opts.validation });
      const split: Dataset = splits[opts.split as 'train' | 'validation' | 'test'];
      let cols = 1;
      let rows = 1;
      if (opts.grid !== undefined) {
        const match = /^(\d+)x(\d+)$/.exec(opts.grid);
        if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) throw new UsageError(`--grid takes COLUMNSxROWS like 10x10, got '${opts.grid}'`);
        cols = Number(match[1]);
        rows = Number(match[2]);
      }
      const first = opts.index as number;
      if (first < 0 || first >= split.count) {
        throw new UsageError(`--index ${first} is outside the ${opts.split} split (0 to ${split.count - 1})`);
      }
      // which image each cell shows: consecutive images, or with --variants one image per row
      const cells = opts.variants
        ? Array.from({ length: Math.min(rows, split.count - first) * cols }, (_, i) => first + Math.floor(i / cols))
        : Array.from({ length: Math.min(cols * rows, split.count - first) }, (_, i) => first + i);
      const count = cells.length;
      let images = cells.map((i) => imageAt(split, i));
      if (augment) {
        const distorted = await distort(split, cells, augment, opts.seed);
        // with --variants, each row's first column stays the image itself
        images = images.map((image, i) => (opts.variants && i % cols === 0 ? image : distorted[i]));
      }
      const labels = cells.map((i) => className(split, split.labels[i]));
      const png =
        opts.grid === undefined
          ? scaleOne(images[0], split.width, split.height, opts.scale)
          : renderGrid(images, labels, cols, rows, opts.scale, { width: split.width, height: split.height });
      writeFileSync(opts.out, png);
      if (!out.json) {
        const label = split.labels[first];
        const named = split.classNames === undefined ? `${label}` : `${className(split, label)} (class ${label})`;
        out.print(`${opts.split}[${first}]: label ${named}, ${split.height}×${split.width}`);
        if (augment) out.print(`distorted by ${formatAugmentSpec(augment)} (seed ${opts.seed}), as a training run sees it`);
        out.print(terminalPreview(images[0], { width: split.width, height: split.height }));
        out.print(`wrote ${opts.out}${count > 1 ? ` (${count} images)` : ''}`);
      }
      const shown = cells.map((i) => split.labels[i]);
      out.result({ file: opts.out, split: opts.split, index: first, count, labels: shown, names: labels, augment: augment ?? null });
    });

  return data;
}

function describeSplit(name: string, d: SplitDescription): string {
  const names = d.classNames;
  const counts = names ? d.classCounts.map((n, c) => `${names[c]} ${n}`).join(', ') : d.classCounts.map((n, c) => `${c}:${n}`).join(' ');
  return (
    `${name.padEnd(10)} x ${d.dtype} [${d.shape.join(', ')}] (${d.shape[1] * d.shape[2]} values a row), ` +
    `pixels ${d.pixelMin}..${d.pixelMax} (full ink = ${d.pixelScale}), labels ${d.labelMin}..${d.labelMax}\n` +
    `${' '.repeat(11)}class counts ${counts}`
  );
}

/** Image `i` of a dataset as floats in [0, 1]. */
/** The images `indices` of `data` (as imageAt gives them), each distorted by `augment`, drawn from `seed`. */
async function distort(data: Dataset, indices: number[], augment: AugmentSpec, seed: number): Promise<Float32Array[]> {
  const kernels = await createKernels({ threads: 1 });
  try {
    const size = data.height * data.width;
    const bytes = data.images instanceof Uint8Array;
    const src = bytes ? kernels.allocU8(indices.length * size) : kernels.allocF32(indices.length * size);
    const out = bytes ? kernels.allocU8(indices.length * size) : kernels.allocF32(indices.length * size);
    indices.forEach((index, r) => src.set(data.images.subarray(index * size, (index + 1) * size), r * size));
    new Augmenter(kernels, augment, seed, indices.length, data.height, data.width).apply(src, indices.length, out);
    return indices.map((_, r) => Float32Array.from(out.subarray(r * size, (r + 1) * size), (v) => v / data.pixelMax));
  } finally {
    await kernels.close();
  }
}

export function imageAt(data: Dataset, i: number): Float32Array {
  const size = data.height * data.width;
  const image = new Float32Array(size);
  for (let j = 0; j < size; j++) image[j] = data.images[i * size + j] / data.pixelMax;
  return image;
}

/** A single image as a grayscale PNG, each pixel repeated `scale` times. */
function scaleOne(image: Float32Array, width: number, height: number, scale: number): Buffer {
  const w = width * scale;
  const h = height * scale;
  const pixels = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) pixels[y * w + x] = Math.round(255 * image[Math.floor(y / scale) * width + Math.floor(x / scale)]);
  }
  return encodeGrayscalePng(pixels, w, h);
}
