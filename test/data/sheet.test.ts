// Finding the sheet in a photo: a sheet on a table (with a hand over one edge) is found and cropped
// to; paper that fills the picture, even under a shadow or light falling off, is left whole.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RgbaImage } from '../../src/data/preprocess.js';
import { cropImage, findSheet } from '../../src/data/sheet.js';

/** A w×h picture coloured by `color(x, y)`. */
function picture(w: number, h: number, color: (x: number, y: number) => [number, number, number]): RgbaImage {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([...color(x, y), 255], (y * w + x) * 4);
  return { width: w, height: h, data };
}

const white: [number, number, number] = [242, 240, 236];
const table: [number, number, number] = [112, 80, 52];
const ink: [number, number, number] = [30, 30, 35];
const ring = (x: number, y: number, cx: number, cy: number, r: number) => Math.abs(Math.hypot(x - cx, y - cy) - r) < r / 6;

describe('findSheet', () => {
  it('finds a sheet on a table, with a hand over one edge, and crops inside its edge', () => {
    const [w, h] = [400, 300];
    const sheet = { x0: 90, y0: 40, x1: 330, y1: 270 };
    const image = picture(w, h, (x, y) => {
      if (((x - 0) / 70) ** 2 + ((y - 150) / 40) ** 2 < 1) return [224, 172, 140];
      const on = x >= sheet.x0 && x < sheet.x1 && y >= sheet.y0 && y < sheet.y1;
      if (!on) return [table[0] + 10 * Math.sin(y / 5), table[1], table[2]] as [number, number, number];
      return ring(x, y, 210, 155, 50) ? ink : white;
    });
    const found = findSheet(image);
    assert.ok(found, 'the sheet is found');
    assert.ok(found.x >= sheet.x0 && found.y >= sheet.y0 && found.x + found.width <= sheet.x1 && found.y + found.height <= sheet.y1, `inside the sheet: ${JSON.stringify(found)}`);
    assert.ok(found.width > 0.9 * (sheet.x1 - sheet.x0) && found.height > 0.9 * (sheet.y1 - sheet.y0), `most of the sheet: ${JSON.stringify(found)}`);
    const crop = cropImage(image, found);
    assert.deepEqual([crop.width, crop.height], [found.width, found.height]);
    assert.deepEqual(Array.from(crop.data.subarray(0, 4)), Array.from(image.data.subarray((found.y * w + found.x) * 4, (found.y * w + found.x) * 4 + 4)));
  });

  it('leaves paper that fills the picture whole, in even light, under a shadow or a fall-off of the light', () => {
    const [w, h] = [300, 360];
    const looks: Array<[string, (x: number, y: number) => number]> = [
      ['even light', () => 1],
      ['a shadow over the lower third', (_x, y) => (y > 240 ? 0.5 : 1)],
      ['light falling to 45% across the sheet', (x) => 1 - 0.55 * (x / w)],
    ];
    for (const [name, light] of looks) {
      const image = picture(w, h, (x, y) => (ring(x, y, 150, 180, 60) ? ink : white).map((v) => Math.round(v * light(x, y))) as [number, number, number]);
      assert.equal(findSheet(image), null, name);
    }
  });
});
