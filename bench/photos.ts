/**
 * How well `digitlab predict` reads photo-like pictures of MNIST test digits
 * (test/fixtures/make_photos.ts): accuracy per effect, each effect alone and all together, through the
 * same decoding and preprocessing as `predict` (the picture's encoded bytes in, a digit out).
 *
 *   node --import tsx bench/photos.ts --model DIR [--count 200] [--seed 2026] [--effects clean,lighting,…]
 *
 * Tune preprocessing on seeds other than the ones reported (the README's figures are seed 2026).
 */
import { parseArgs } from 'node:util';
import { createKernels } from '../src/core/index.js';
import { decodeInk, preprocessDigit } from '../src/data/images.js';
import { Classifier } from '../src/nn/classifier.js';
import { makePhotoDigits, PHOTO_EFFECTS, type PhotoEffect } from '../test/fixtures/make_photos.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'runs/m800' },
    count: { type: 'string', default: '200' },
    seed: { type: 'string', default: '2026' },
    effects: { type: 'string', default: PHOTO_EFFECTS.join(',') },
    json: { type: 'boolean', default: false },
  },
});
const effects = values.effects.split(',') as PhotoEffect[];
for (const effect of effects) if (!PHOTO_EFFECTS.includes(effect)) throw new Error(`--effects: ${effect} is not one of ${PHOTO_EFFECTS.join(', ')}`);
const count = Number(values.count);
const classifier = await Classifier.load(await createKernels(), values.model);
const [height, width] = classifier.inputShape;
const rows: Array<{ effect: PhotoEffect; right: number; count: number; accuracy: number; msPerPicture: number }> = [];
console.log(`model ${values.model}, ${count} pictures per effect, seed ${values.seed}`);
for (const effect of effects) {
  const photos = makePhotoDigits({ count, seed: Number(values.seed), effect });
  let right = 0;
  let ms = 0;
  for (const photo of photos) {
    const start = performance.now();
    const gray = decodeInk(photo.bytes);
    const digit = classifier.predict(preprocessDigit(gray.data, gray.width, gray.height, { height, width })).digit;
    ms += performance.now() - start;
    if (digit === photo.label) right++;
  }
  rows.push({ effect, right, count, accuracy: right / count, msPerPicture: ms / count });
  console.log(`${effect.padEnd(9)} ${((100 * right) / count).toFixed(1).padStart(5)}%  (${right}/${count}, ${(ms / count).toFixed(0)} ms a picture)`);
}
if (values.json) console.log(JSON.stringify(rows));
