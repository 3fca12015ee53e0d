/**
 * Accuracy of reading synthetic zip codes made from MNIST test digits (test/fixtures/make_zipcodes.ts)
 * with a trained model: per digit, per whole code, and split by whether the code has touching digits,
 * for each seed. Each picture goes through PNG and back, as `digitlab read` gets it from a file.
 *
 *   node --import tsx bench/zipcodes.ts --model runs/m800 [--count 1000] [--seeds 2026,2027,2028]
 *     [--no-count] [--misread N] [--photos clean,lighting,…|every]
 *
 * --photos: instead, the same rows as photo-like pictures (test/fixtures/make_photos.ts, one effect at
 * a time), decoded as `digitlab read` decodes a file (EXIF orientation, the sheet, the ink's contrast).
 *
 * A code is right only when every one of its digits is, in place. Tune on seeds other than the ones
 * reported (the README's figures are seeds 2026–2028).
 */
import { parseArgs } from 'node:util';
import { createKernels } from '../src/core/index.js';
import { decodeInk, encodeGrayscalePng } from '../src/data/images.js';
import { loadData } from '../src/data/source.js';
import { Classifier } from '../src/nn/classifier.js';
import { readDigits } from '../src/read/read.js';
import { makePhotoZipCodes, PHOTO_EFFECTS, type PhotoEffect } from '../test/fixtures/make_photos.js';
import { makeZipCodes } from '../test/fixtures/make_zipcodes.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'runs/m800' },
    count: { type: 'string', default: '1000' },
    seeds: { type: 'string', default: '2026,2027,2028' },
    'no-count': { type: 'boolean', default: false },
    misread: { type: 'string', default: '0' },
    photos: { type: 'string' },
  },
});
const count = Number(values.count);
const seeds = values.seeds.split(',').map(Number);
const classifier = await Classifier.load(await createKernels(), values.model);
const testAccuracy = Number(classifier.config.metrics?.test_accuracy);
const percent = (part: number, whole: number) => `${((100 * part) / whole).toFixed(2)}%`;
if (values.photos !== undefined) {
  const effects = (values.photos === 'every' ? [...PHOTO_EFFECTS] : values.photos.split(',')) as PhotoEffect[];
  for (const effect of effects) if (!PHOTO_EFFECTS.includes(effect)) throw new Error(`--photos: ${effect} is not one of ${PHOTO_EFFECTS.join(', ')} (or every)`);
  console.log(`model ${values.model} (test accuracy ${Number.isNaN(testAccuracy) ? 'unknown' : percent(testAccuracy, 1)}), ${count} photo-like codes per seed and effect, ${values['no-count'] ? 'no digit count given' : '--digits 5'}`);
  console.log('effect     seed  per digit  whole codes  no touching  touching  ms/code');
  const pooled = new Map<PhotoEffect, { codes: number; right: number }>();
  for (const effect of effects) {
    for (const seed of seeds) {
      let digits = 0, rightDigits = 0, ms = 0, misreadShown = 0;
      const right = { plain: 0, plainAll: 0, touching: 0, touchingAll: 0 };
      makePhotoZipCodes({ count, seed, effect }).forEach((code, i) => {
        const start = performance.now();
        const image = decodeInk(code.bytes);
        const { text } = readDigits(classifier, image.data, image.width, image.height, values['no-count'] ? {} : { digits: code.text.length });
        ms += performance.now() - start;
        for (let k = 0; k < code.text.length; k++) if (text[k] === code.text[k]) rightDigits++;
        digits += code.text.length;
        const ok = text === code.text;
        if (code.touching) { right.touchingAll++; if (ok) right.touching++; } else { right.plainAll++; if (ok) right.plain++; }
        if (!ok && misreadShown < Number(values.misread)) {
          misreadShown++;
          console.log(`  ${effect} code ${i}${code.touching ? ' (touching)' : ''}: ${code.text} read ${text}`);
        }
      });
      const rightCodes = right.plain + right.touching;
      const sum = pooled.get(effect) ?? { codes: 0, right: 0 };
      pooled.set(effect, { codes: sum.codes + count, right: sum.right + rightCodes });
      console.log([effect.padEnd(9), String(seed).padEnd(4), percent(rightDigits, digits).padStart(9), percent(rightCodes, count).padStart(11),
        percent(right.plain, right.plainAll).padStart(11), percent(right.touching, right.touchingAll).padStart(9), (ms / count).toFixed(0).padStart(7)].join('  '));
    }
  }
  const alone = [...pooled].filter(([effect]) => effect !== 'all');
  const codes = alone.reduce((a, [, v]) => a + v.codes, 0), right = alone.reduce((a, [, v]) => a + v.right, 0);
  if (alone.length > 0) console.log(`each effect alone, pooled: whole codes ${percent(right, codes)} (${right}/${codes})`);
  process.exit(0);
}
// What a perfect segmenter would get: the model on the test images themselves, as MNIST prepared them.
const test = loadData('mnist').test;
const direct = classifier.predictBatch(Float32Array.from(test.images, (v) => v / test.pixelMax), test.count).map((p) => p.digit);
console.log(`model ${values.model} (test accuracy ${Number.isNaN(testAccuracy) ? 'unknown' : percent(testAccuracy, 1)}), ${count} codes per seed, ${values['no-count'] ? 'no digit count given' : '--digits 5'}`);
console.log('seed  per digit  whole codes  no touching  touching  ms/code  (model on the test images: per digit, whole codes)');
const totals = { digits: 0, rightDigits: 0, codes: 0, rightCodes: 0 };
for (const seed of seeds) {
  const codes = makeZipCodes({ count, seed });
  let rightDigits = 0;
  let digits = 0;
  const right = { plain: 0, plainAll: 0, touching: 0, touchingAll: 0 };
  let misreadShown = 0;
  let ms = 0;
  let directDigits = 0;
  let directCodes = 0;
  codes.forEach((code, i) => {
    const image = decodeInk(encodeGrayscalePng(code.gray, code.width, code.height));
    const start = performance.now();
    const { text } = readDigits(classifier, image.data, image.width, image.height, values['no-count'] ? {} : { digits: code.text.length });
    ms += performance.now() - start;
    for (let k = 0; k < code.text.length; k++) if (text[k] === code.text[k]) rightDigits++;
    digits += code.text.length;
    const ok = text === code.text;
    const directRight = code.indices.filter((index) => direct[index] === test.labels[index]).length;
    directDigits += directRight;
    if (directRight === code.indices.length) directCodes++;
    if (code.touching) {
      right.touchingAll++;
      if (ok) right.touching++;
    } else {
      right.plainAll++;
      if (ok) right.plain++;
    }
    if (!ok && misreadShown < Number(values.misread)) {
      misreadShown++;
      console.log(`  code ${i}${code.touching ? ' (touching)' : ''}: ${code.text} read ${text}`);
    }
  });
  const rightCodes = right.plain + right.touching;
  totals.digits += digits;
  totals.rightDigits += rightDigits;
  totals.codes += codes.length;
  totals.rightCodes += rightCodes;
  console.log(
    [String(seed).padEnd(4), percent(rightDigits, digits).padStart(9), percent(rightCodes, codes.length).padStart(11),
      percent(right.plain, right.plainAll).padStart(11), percent(right.touching, right.touchingAll).padStart(9),
      (ms / codes.length).toFixed(2).padStart(7), `  (${percent(directDigits, digits)}, ${percent(directCodes, codes.length)})`].join('  '),
  );
}
console.log(`all   ${percent(totals.rightDigits, totals.digits).padStart(9)}  ${percent(totals.rightCodes, totals.codes).padStart(11)}`);
