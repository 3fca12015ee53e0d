import { test } from 'node:test';
import assert from 'node:assert/strict';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import {
  decodeGrayscale,
  decodeImage,
  DEFAULT_MAX_PIXELS,
  encodeGrayscalePng,
  imageSize,
  inkContrast,
  preprocessDigit,
  renderGrid,
  terminalPreview,
  toGrayscale,
  type RgbaImage,
} from '../../src/data/images.js';
import { ImageDecodeError, ImageTooLargeError } from '../../src/data/errors.js';
import { jpegOrientation, orientImage, type Orientation } from '../../src/data/orientation.js';
import { blankPng } from '../fixtures/blank-png.js';
import { MNIST_STROKE_RANGE, morphDisc, strokeWidth } from '../../src/data/preprocess.js';

/** A w x h gray image with a filled disc of `ink` on `paper`. */
function disc(w: number, h: number, cx: number, cy: number, r: number, ink: number, paper: number): Uint8Array {
  const gray = new Uint8Array(w * h).fill(paper);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) gray[y * w + x] = ink;
  return gray;
}

function centerOfMass(image: Float32Array): [number, number] {
  let mass = 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < 784; i++) {
    mass += image[i];
    sx += image[i] * (i % 28);
    sy += image[i] * Math.floor(i / 28);
  }
  return [sx / mass, sy / mass];
}

test('grayscale PNG round trip', () => {
  const gray = Uint8Array.from({ length: 7 * 5 }, (_, i) => (i * 13) % 256);
  const png = encodeGrayscalePng(gray, 7, 5);
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  const back = decodeGrayscale(png, 'x.png');
  assert.equal(back.width, 7);
  assert.equal(back.height, 5);
  assert.deepEqual([...back.data], [...gray]);
});

test('JPEG decodes to the right size and approximate gray levels', () => {
  const w = 16;
  const h = 8;
  const rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    const v = i % w < 8 ? 30 : 220;
    rgba.set([v, v, v, 255], i * 4);
  }
  const encoded = jpeg.encode({ width: w, height: h, data: Buffer.from(rgba) }, 95);
  const gray = decodeGrayscale(encoded.data, 'x.jpg');
  assert.equal(gray.width, w);
  assert.equal(gray.height, h);
  assert.ok(Math.abs(gray.data[2 * w + 2] - 30) < 12);
  assert.ok(Math.abs(gray.data[2 * w + 13] - 220) < 12);
});

test('transparent pixels are composited on white', () => {
  const png = new PNG({ width: 2, height: 1 });
  png.data = Buffer.from([0, 0, 0, 0, 0, 0, 0, 255]); // transparent black, opaque black
  const gray = toGrayscale(decodeImage(PNG.sync.write(png)));
  assert.deepEqual([...gray.data], [255, 0]);
});

test('a buffer that is not an image is refused, naming the file', () => {
  assert.throws(
    () => decodeImage(Buffer.from('hello world'), 'notes.txt'),
    (e: Error) => e instanceof ImageDecodeError && e.message.startsWith('notes.txt') && /not a PNG or JPEG/.test(e.message),
  );
  const truncated = encodeGrayscalePng(new Uint8Array(100), 10, 10).subarray(0, 30);
  assert.throws(() => decodeImage(truncated, 'cut.png'), (e: Error) => e instanceof ImageDecodeError && /could not be decoded/.test(e.message));
});

test('dark ink on light paper and light ink on dark give the same input', () => {
  const darkOnLight = preprocessDigit(disc(60, 40, 20, 15, 8, 10, 240), 60, 40);
  const lightOnDark = preprocessDigit(disc(60, 40, 20, 15, 8, 240, 10), 60, 40);
  assert.deepEqual([...darkOnLight], [...lightOnDark]);
  // ink is bright, background is zero
  assert.equal(darkOnLight[0], 0);
  assert.ok(Math.max(...darkOnLight) > 0.99);
});

test('an off-center blob lands with its center of mass within 0.5 px of (14, 14), inside a 20 px box', () => {
  for (const [cx, cy, r] of [[10, 50, 6], [70, 8, 5], [40, 30, 12]]) {
    const input = preprocessDigit(disc(80, 60, cx, cy, r, 0, 255), 80, 60);
    const [x, y] = centerOfMass(input);
    assert.ok(Math.abs(x - 14) <= 0.5 && Math.abs(y - 14) <= 0.5, `center of mass (${x}, ${y}) for blob at ${cx},${cy}`);
    let minX = 28;
    let maxX = -1;
    for (let i = 0; i < 784; i++) if (input[i] > 0.05) [minX, maxX] = [Math.min(minX, i % 28), Math.max(maxX, i % 28)];
    assert.ok(maxX - minX + 1 <= 20 && maxX - minX + 1 >= 18, `width ${maxX - minX + 1}`);
    for (const v of input) assert.ok(v >= 0 && v <= 1);
  }
});

test('a tall thin stroke keeps its aspect ratio', () => {
  const w = 50;
  const h = 100;
  const gray = new Uint8Array(w * h).fill(255);
  for (let y = 10; y < 90; y++) for (let x = 20; x < 28; x++) gray[y * w + x] = 0;
  const input = preprocessDigit(gray, w, h);
  let rows = 0;
  let cols = 0;
  for (let y = 0; y < 28; y++) if (input.subarray(y * 28, y * 28 + 28).some((v) => v > 0.5)) rows++;
  for (let x = 0; x < 28; x++) if ([...Array(28).keys()].some((y) => input[y * 28 + x] > 0.5)) cols++;
  assert.equal(rows, 20);
  assert.equal(cols, 2);
});

test('a blank picture gives an all-zero input', () => {
  assert.ok(preprocessDigit(new Uint8Array(100).fill(200), 10, 10).every((v) => v === 0));
});

test('renderGrid draws digits and labels into a PNG', () => {
  const images = [0, 1, 2].map((k) => Uint8Array.from({ length: 784 }, (_, i) => (i % 28 === 10 + k ? 255 : 0)));
  const png = PNG.sync.read(renderGrid(images, [3, 7, '1/2'], 2, 2, 2));
  assert.equal(png.width, 2 * (56 + 2) + 2);
  // the vertical stroke of the first image at column 10, scaled 2x, offset by the 2 px gap
  assert.equal(png.data[((2 + 5) * png.width + 2 + 20) * 4], 255);
  // label pixels are drawn in the label strip below the first cell
  let labelPixels = 0;
  for (let y = 2 + 56; y < 2 + 56 + 14; y++) for (let x = 2; x < 2 + 56; x++) if (png.data[(y * png.width + x) * 4 + 2] === 80) labelPixels++;
  assert.ok(labelPixels > 0);
});

test('renderGrid writes class names: letters have their own glyphs, and a long name fits under its image', () => {
  const blank = [new Uint8Array(784), new Uint8Array(784)];
  /** The label pixels (yellow: blue channel 80) of cell `cell` in a 2×1 grid at scale 2, as a string of 0/1. */
  const labelStrip = (labels: string[], cell: number) => {
    const png = PNG.sync.read(renderGrid(blank, labels, 2, 1, 2));
    let bits = '';
    for (let y = 2 + 56; y < 2 + 56 + 14; y++) {
      for (let x = 2 + cell * 58; x < 2 + cell * 58 + 58; x++) bits += png.data[(y * png.width + x) * 4 + 2] === 80 ? '1' : '0';
    }
    return bits;
  };
  const letters = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'].map((letter) => labelStrip([letter, ''], 0));
  assert.equal(new Set(letters).size, 26, 'every capital looks different');
  assert.ok(!letters.includes(labelStrip(['?', ''], 0)), 'no capital is drawn as the unknown-character glyph');
  assert.ok(!letters.includes(labelStrip(['0', ''], 0)), 'O is not drawn as 0');
  assert.equal(labelStrip(['Ankle boot', ''], 0), labelStrip(['ANKLE BOOT', ''], 0), 'small letters are drawn as capitals');
  // 'T-shirt/top' (11 characters) at the scale's font is wider than the 56-pixel image: drawn smaller,
  // it stays in its own cell and leaves the next one's label strip empty
  const long = labelStrip(['T-shirt/top', ''], 0);
  assert.ok(long.includes('1'));
  assert.ok(!labelStrip(['T-shirt/top', ''], 1).includes('1'));
  const gap = long.match(/.{58}/g)!.map((row) => row.slice(56)).join('');
  assert.equal(gap, '0'.repeat(2 * 14), 'nothing drawn past the image');
});

test('terminalPreview shades pixels, two characters per pixel', () => {
  const image = new Float32Array(784);
  image[0] = 1;
  image[1] = 0.5;
  const lines = terminalPreview(image).split('\n');
  assert.equal(lines.length, 28);
  assert.equal(lines[0], '██▒▒');
  assert.equal(lines[1], '');
});

test('an MNIST digit printed dark on light comes back as the same MNIST input', async () => {
  const { loadBundledMnist } = await import('../../src/data/mnist.js');
  const { test: testSet } = loadBundledMnist();
  for (let k = 0; k < 5; k++) {
    const original = testSet.images.subarray(k * 784, (k + 1) * 784);
    const printed = Uint8Array.from(original, (v) => 255 - v);
    const input = preprocessDigit(printed, 28, 28);
    let difference = 0;
    for (let i = 0; i < 784; i++) difference += Math.abs(input[i] - original[i] / 255);
    assert.ok(difference / 784 < 0.02, `image ${k}: mean difference ${difference / 784}`);
  }
});

/** Bounding box (pixels above `level`) and center of mass of an input of width w. */
function inkGeometry(input: Float32Array, w: number, level = 0.05): { width: number; height: number; x: number; y: number } {
  let [left, right, top, bottom, mass, sx, sy] = [w, -1, Infinity, -1, 0, 0, 0];
  for (let i = 0; i < input.length; i++) {
    const [x, y] = [i % w, Math.floor(i / w)];
    mass += input[i];
    sx += input[i] * x;
    sy += input[i] * y;
    if (input[i] > level) [left, right, top, bottom] = [Math.min(left, x), Math.max(right, x), Math.min(top, y), Math.max(bottom, y)];
  }
  return { width: right - left + 1, height: bottom - top + 1, x: sx / mass, y: sy / mass };
}

test('preprocessDigit makes inputs of any height x width: the ink fits 20/28 of each side, its mass at the center', () => {
  // a wide bar and a tall bar into a 16-row, 20-column field: the inner box is 11 x 14
  const wide = new Uint8Array(60 * 40).fill(250);
  for (let y = 15; y < 25; y++) for (let x = 5; x < 55; x++) wide[y * 60 + x] = 5;
  const tall = new Uint8Array(60 * 40).fill(250);
  for (let y = 2; y < 38; y++) for (let x = 30; x < 40; x++) tall[y * 60 + x] = 5;
  const wideInput = preprocessDigit(wide, 60, 40, { height: 16, width: 20 });
  const tallInput = preprocessDigit(tall, 60, 40, { height: 16, width: 20 });
  assert.equal(wideInput.length, 320);
  const a = inkGeometry(wideInput, 20, 0.5);
  assert.deepEqual([a.width, a.height], [14, 3], 'a 50 x 10 bar fills the 14 columns, keeping its aspect');
  const b = inkGeometry(tallInput, 20, 0.5);
  assert.deepEqual([b.width, b.height], [3, 11], 'a 10 x 36 bar fills the 11 rows');
  for (const g of [inkGeometry(wideInput, 20), inkGeometry(tallInput, 20)]) {
    assert.ok(Math.abs(g.x - 10) <= 0.5 && Math.abs(g.y - 8) <= 0.5, `center of mass (${g.x}, ${g.y})`);
  }
  // the default is MNIST's field, the same as asking for 28 x 28
  const blob = disc(80, 60, 30, 20, 9, 0, 255);
  assert.deepEqual([...preprocessDigit(blob, 80, 60, { height: 28, width: 28 })], [...preprocessDigit(blob, 80, 60)]);
  assert.throws(() => preprocessDigit(blob, 80, 60, { height: 0, width: 28 }), /positive integer size/);
});

test('renderGrid and terminalPreview draw images that are not square', () => {
  // 3 rows x 5 columns: a bright pixel in the last column of the first row
  const image = new Float32Array(15);
  image[4] = 1;
  const png = PNG.sync.read(renderGrid([image, image], [1, 2], 2, 1, 2, { height: 3, width: 5 }));
  assert.deepEqual([png.width, png.height], [2 * (10 + 2) + 2, 6 + 14 + 2 + 2]);
  assert.equal(png.data[(2 * png.width + 2 + 8) * 4], 255, 'column 4 of the first cell, scaled 2x');
  assert.throws(() => renderGrid([new Float32Array(16)], [0], 1, 1, 1, { height: 3, width: 5 }), /image 0 has 16 pixels, expected 3x5 = 15/);
  const lines = terminalPreview(image, { height: 3, width: 5 }).split('\n');
  assert.deepEqual(lines, ['        ██', '', '']);
});

/** A JPEG of w x h mid-gray pixels, with an APP15 segment after SOI whose payload looks like a frame header. */
function jpegWithDecoy(w: number, h: number): Buffer {
  const encoded = jpeg.encode({ width: w, height: h, data: Buffer.alloc(w * h * 4, 128) }, 90).data;
  // FF C0, length, precision, then a height and width of 9999 that must not be taken for the picture's
  const decoy = Buffer.from([0xff, 0xef, 0x00, 0x0b, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x27, 0x0f, 0x27, 0x0f]);
  return Buffer.concat([encoded.subarray(0, 2), decoy, Buffer.from([0xff, 0xff]), encoded.subarray(2)]);
}

test('imageSize reads the declared width and height from the PNG or JPEG header alone', () => {
  assert.deepEqual(imageSize(encodeGrayscalePng(new Uint8Array(7 * 5), 7, 5)), { type: 'png', width: 7, height: 5 });
  assert.deepEqual(imageSize(blankPng(16000, 16000).subarray(0, 33)), { type: 'png', width: 16000, height: 16000 });
  const picture = jpegWithDecoy(40, 24);
  assert.deepEqual(imageSize(picture), { type: 'jpeg', width: 40, height: 24 });
  assert.equal(decodeImage(picture).width, 40); // the decoy segment is a valid (ignored) application segment
  // a progressive frame header (SOF2) carries the size the same way
  const progressive = Buffer.from([0xff, 0xd8, 0xff, 0xc2, 0x00, 0x11, 0x08, 0x3e, 0x80, 0x3e, 0x80, 0x03]);
  assert.deepEqual(imageSize(progressive), { type: 'jpeg', width: 16000, height: 16000 });
  assert.equal(imageSize(Buffer.from('hello world')), undefined);
  assert.equal(imageSize(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02])), undefined); // scan data before any frame header
});

test('a picture that declares more pixels than the limit is refused from its header, before decoding', () => {
  const limit = `${DEFAULT_MAX_PIXELS / 1e6} megapixels`;
  const tooLarge = (file: string, size: RegExp) => (e: Error) =>
    e instanceof ImageTooLargeError && e instanceof ImageDecodeError && e.message.startsWith(file) && size.test(e.message) && e.message.includes(limit) && /scale it down/.test(e.message);
  // 16,000 × 16,000 zeros in 250 KB: decoded, it would take about a gigabyte of RGBA
  const bomb = blankPng(16000, 16000);
  assert.ok(bomb.length < 300_000);
  assert.throws(() => decodeImage(bomb, 'bomb.png'), tooLarge('bomb.png', /16000 × 16000 pixels \(256 megapixels\)/));
  // the header alone decides: with no pixel data at all the answer is the same, not a decode error
  assert.throws(() => decodeImage(bomb.subarray(0, 33), 'header.png'), tooLarge('header.png', /16000 × 16000/));
  const progressive = Buffer.from([0xff, 0xd8, 0xff, 0xc2, 0x00, 0x11, 0x08, 0x9c, 0x40, 0x9c, 0x40, 0x03]);
  assert.throws(() => decodeGrayscale(progressive, 'photo.jpg'), tooLarge('photo.jpg', /40000 × 40000 pixels \(1600 megapixels\)/));
  // the limit is an option, and one at exactly the limit decodes
  const small = encodeGrayscalePng(new Uint8Array(100 * 50), 100, 50);
  assert.throws(() => decodeImage(small, 's.png', { maxPixels: 4999 }), (e: Error) => e instanceof ImageTooLargeError && e.width === 100 && e.height === 50 && e.maxPixels === 4999 && /4,999 pixels/.test(e.message));
  assert.equal(decodeImage(small, 's.png', { maxPixels: 5000 }).height, 50);
});

/** An APP1 segment with an EXIF IFD0 holding only the Orientation tag, in either TIFF byte order. */
function exifSegment(orientation: number, bigEndian = false): number[] {
  const u16 = (v: number) => (bigEndian ? [v >> 8, v & 0xff] : [v & 0xff, v >> 8]);
  const u32 = (v: number) => (bigEndian ? [0, 0, ...u16(v)] : [...u16(v), 0, 0]);
  const tiff = [...(bigEndian ? [0x4d, 0x4d] : [0x49, 0x49]), ...u16(42), ...u32(8), ...u16(1), ...u16(0x0112), ...u16(3), ...u32(1), ...u16(orientation), 0, 0, ...u32(0)];
  const body = [0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff];
  return [0xff, 0xe1, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body];
}

test('EXIF orientation: every one of the eight turns its stored picture upright', () => {
  // a 3×2 picture with a different value in every pixel
  const upright: RgbaImage = { width: 3, height: 2, data: Uint8Array.from({ length: 24 }, (_, i) => (i % 4 === 3 ? 255 : 10 * (i >> 2) + (i % 4))) };
  // 6 turns the stored picture a quarter clockwise, 8 counter-clockwise: each undoes the other; the rest undo themselves
  const inverse = (o: Orientation) => (o === 6 ? 8 : o === 8 ? 6 : o);
  for (const o of [1, 2, 3, 4, 5, 6, 7, 8] as const) {
    const stored = orientImage(upright, inverse(o));
    assert.deepEqual(orientImage(stored, o), upright, `orientation ${o}`);
    assert.equal(stored.width, o >= 5 ? 2 : 3);
  }
  // a quarter turn clockwise, pixel by pixel: the stored bottom-left pixel is upright's top-left
  const turned = orientImage(upright, 6);
  const pixel = (image: RgbaImage, x: number, y: number) => image.data[(y * image.width + x) * 4];
  assert.equal(pixel(turned, 0, 0), pixel(upright, 0, 1));
  assert.equal(pixel(turned, 1, 0), pixel(upright, 0, 0));
  assert.equal(pixel(turned, 0, 2), pixel(upright, 2, 1));
});

test('decodeImage turns a JPEG upright by its EXIF orientation, in either TIFF byte order', () => {
  // upright: 64 wide, 32 tall, dark left half, light right half
  const [w, h] = [64, 32];
  const upright = Buffer.alloc(w * h * 4, 255);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) upright.fill(x < w / 2 ? 20 : 230, (y * w + x) * 4, (y * w + x) * 4 + 3);
  for (const [o, bigEndian] of [[6, false], [8, true], [3, false], [1, false]] as const) {
    const stored = orientImage({ width: w, height: h, data: upright }, o === 6 ? 8 : o === 8 ? 6 : o);
    const encoded = new Uint8Array(jpeg.encode({ data: Buffer.from(stored.data), width: stored.width, height: stored.height }, 95).data);
    const withExif = Uint8Array.from([...encoded.subarray(0, 2), ...(o === 1 ? [] : exifSegment(o, bigEndian)), ...encoded.subarray(2)]);
    assert.equal(jpegOrientation(withExif), o);
    const decoded = decodeImage(withExif);
    assert.deepEqual([decoded.width, decoded.height], [w, h], `orientation ${o}: the size once upright`);
    assert.ok(decoded.data[(16 * w + 4) * 4] < 60 && decoded.data[(16 * w + 60) * 4] > 190, `orientation ${o}: dark on the left, light on the right`);
  }
  assert.equal(jpegOrientation(blankPng(2, 2)), 1, 'a PNG has no EXIF orientation');
  assert.equal(jpegOrientation(Uint8Array.from([0xff, 0xd8, 0xff, 0xe1, 0x00, 0x10, 0x45, 0x78])), 1, 'a cut EXIF block reads as upright');
});

test('inkContrast: light falling off, a shadow and coloured paper and ink all become dark ink on white paper', () => {
  // a 200×160 sheet with a ring of ink, lit from 100% on the left down to 40% on the right, a soft
  // shadow (half the light) over the bottom, on yellow paper with blue ink
  const [w, h] = [200, 160];
  const data = new Uint8Array(w * h * 4);
  const paper = [250, 236, 120], ink = [28, 58, 168];
  const isInk = (x: number, y: number) => Math.abs(Math.hypot(x - 100, y - 80) - 40) < 5;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const light = (1 - 0.6 * (x / w)) * (1 - 0.5 / (1 + Math.exp(-(y - 110) / 8)));
      const color = isInk(x, y) ? ink : paper;
      for (let c = 0; c < 3; c++) data[(y * w + x) * 4 + c] = Math.round(color[c] * light);
      data[(y * w + x) * 4 + 3] = 255;
    }
  }
  const image = { width: w, height: h, data };
  const contrast = inkContrast(image);
  const luma = toGrayscale(image);
  const stats = (gray: Uint8Array, inside: boolean) => {
    const values: number[] = [];
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (isInk(x, y) === inside && Math.abs(Math.hypot(x - 100, y - 80) - 40) > (inside ? 0 : 8)) values.push(gray[y * w + x]);
    return { min: Math.min(...values), max: Math.max(...values) };
  };
  // luma: the darkest paper (right, in the shadow) is darker than the brightest ink
  assert.ok(stats(luma.data, false).min < stats(luma.data, true).max, 'the luma of this picture mixes paper and ink up');
  // contrast: every paper pixel (away from block edges of the shadow) is lighter than every ink pixel
  const paperStats = stats(contrast.data, false), inkStats = stats(contrast.data, true);
  assert.ok(inkStats.max < 60, `ink is dark: at most ${inkStats.max}`);
  assert.ok(paperStats.min > inkStats.max + 80, `paper ${paperStats.min} and up, ink ${inkStats.max} and down`);
  // light ink on a dark ground comes out dark on white too
  const inverted = { width: w, height: h, data: data.map((v, i) => (i % 4 === 3 ? v : 255 - v)) };
  const flipped = inkContrast(inverted);
  assert.ok(flipped.data[80 * w + 60] < 100 && flipped.data[10 * w + 10] > 200, 'a light ring on dark reads as a dark ring on white');
});

test("inkContrast: a marker's strokes, wider than the blocks the paper is estimated in, stay ink, and the paper around them paper", () => {
  // a ring 36 px wide on a 200×160 sheet (the blocks are 27 px), light falling off to the right, grain
  const [w, h] = [200, 160];
  const data = new Uint8Array(w * h * 4);
  const ring = (x: number, y: number) => Math.abs(Math.hypot(x - 100, y - 80) - 48) - 18;
  let seed = 7;
  const grain = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 12;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const light = 1 - 0.4 * (x / w);
      const v = (ring(x, y) < 0 ? 30 : 240) * light + grain();
      for (let c = 0; c < 3; c++) data[(y * w + x) * 4 + c] = Math.max(0, Math.min(255, Math.round(v)));
      data[(y * w + x) * 4 + 3] = 255;
    }
  }
  const contrast = inkContrast({ width: w, height: h, data });
  let worstInk = 0;
  let worstPaper = 255;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = contrast.data[y * w + x];
      if (ring(x, y) < -3) worstInk = Math.max(worstInk, v);
      else if (ring(x, y) > 3) worstPaper = Math.min(worstPaper, v);
    }
  }
  assert.ok(worstInk < 90, `every ink pixel is dark: the lightest is ${worstInk}`);
  assert.ok(worstPaper > 190, `every paper pixel is light: the darkest is ${worstPaper}`);
});

test('strokeWidth measures a stroke\'s width, sharp or antialiased', () => {
  const [w, h] = [60, 60];
  for (const width of [3, 6]) {
    const bar = new Float32Array(w * h);
    for (let y = 10; y < 50; y++) for (let x = 20; x < 20 + width; x++) bar[y * w + x] = 1;
    const box = { left: 0, top: 0, width: w, height: h };
    // twice the area over the perimeter: a 40-pixel bar's ends add to its edges, w·40 / (40 + w)
    const sharp = strokeWidth(bar, w, box);
    const expected = (width * 40) / (40 + width);
    assert.ok(Math.abs(sharp - expected) / expected < 0.02, `a ${width}-pixel bar measures ${sharp}, not ${expected}`);
    const soft = new Float32Array(w * h);
    for (let i = w + 1; i < w * h - w - 1; i++) soft[i] = (4 * bar[i] + bar[i - 1] + bar[i + 1] + bar[i - w] + bar[i + w]) / 8;
    assert.ok(Math.abs(strokeWidth(soft, w, box) - sharp) / sharp < 0.08, `blurred: ${strokeWidth(soft, w, box)} against ${sharp}`);
  }
});

test('preprocessDigit brings strokes from a fine pen or a marker into MNIST\'s range of widths', () => {
  // a ring drawn 2 px wide (a fine pen: under 1 px once fitted) and 48 px wide (a marker: 5 px) in 200×200
  const field = { left: 0, top: 0, width: 28, height: 28 };
  for (const stroke of [2, 48]) {
    const gray = new Uint8Array(200 * 200).fill(250);
    for (let y = 0; y < 200; y++) for (let x = 0; x < 200; x++) if (Math.abs(Math.hypot(x - 100, y - 100) - 70) < stroke / 2) gray[y * 200 + x] = 20;
    const kept = strokeWidth(preprocessDigit(gray, 200, 200, { strokes: 'keep' }), 28, field);
    const made = strokeWidth(preprocessDigit(gray, 200, 200), 28, field);
    const [low, high] = MNIST_STROKE_RANGE;
    assert.ok(kept < low - 0.3 || kept > high + 0.3, `as drawn, ${stroke} px strokes measure ${kept} in the field`);
    assert.ok(made > low - 0.3 && made < high + 0.3, `${stroke} px strokes measure ${made} after preprocessing (MNIST: ${low}–${high})`);
  }
  // an MNIST-like stroke is left as it is
  const gray = new Uint8Array(200 * 200).fill(250);
  for (let y = 0; y < 200; y++) for (let x = 0; x < 200; x++) if (Math.abs(Math.hypot(x - 100, y - 100) - 70) < 12) gray[y * 200 + x] = 20;
  assert.deepEqual([...preprocessDigit(gray, 200, 200)], [...preprocessDigit(gray, 200, 200, { strokes: 'keep' })]);
});

test('preprocessDigit clears specks (grain, dust) that would widen the digit\'s box', () => {
  const clean = disc(120, 100, 60, 50, 18, 10, 240);
  const specked = clean.slice();
  let seed = 3;
  const next = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  for (let n = 0; n < 40; n++) {
    const [x, y] = [next(120), next(100)];
    if (Math.hypot(x - 60, y - 50) > 22) specked[y * 120 + x] = 10;
  }
  assert.deepEqual([...preprocessDigit(specked, 120, 100)], [...preprocessDigit(clean, 120, 100)]);
});

test('morphDisc: dilation and erosion by a disc equal the direct max and min over the disc', () => {
  const [w, h] = [23, 17];
  let seed = 11;
  const image = Float32Array.from({ length: w * h }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 2 ** 24);
  for (const radius of [1, 2, 3.4, 5]) {
    const r = Math.round(radius);
    for (const op of ['dilate', 'erode'] as const) {
      const got = morphDisc(image, w, h, radius, op);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          let want = op === 'dilate' ? 0 : 1;
          for (let dy = -r; dy <= r; dy++) {
            const span = Math.round(Math.sqrt(r * r - dy * dy));
            for (let dx = -span; dx <= span; dx++) {
              const [xx, yy] = [x + dx, y + dy];
              const v = xx >= 0 && yy >= 0 && xx < w && yy < h ? image[yy * w + xx] : 0;
              want = op === 'dilate' ? Math.max(want, v) : Math.min(want, v);
            }
          }
          assert.equal(got[y * w + x], want, `${op} radius ${radius} at (${x}, ${y})`);
        }
      }
    }
  }
});
