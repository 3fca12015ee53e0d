/**
 * Images in and out: decoding PNG/JPEG (photos or drawings of digits), turning them into MNIST-like
 * 28x28 inputs, and drawing digits for people (a PNG grid with labels, a terminal preview).
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { ImageDecodeError } from './errors.js';

/** A decoded image: RGBA bytes, row-major. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** A grayscale image: one byte per pixel, 0 black .. 255 white. */
export interface GrayImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function detectImageType(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  if (PNG_MAGIC.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/** Decodes a PNG or JPEG (detected by its magic bytes) to RGBA. `path` names the source in errors. */
export function decodeImage(bytes: Uint8Array, path = '<buffer>'): RgbaImage {
  const type = detectImageType(bytes);
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    if (type === 'png') {
      const png = PNG.sync.read(buffer);
      return { width: png.width, height: png.height, data: png.data };
    }
    if (type === 'jpeg') {
      // bounded so a hostile file cannot make the decoder allocate gigabytes
      const image = jpeg.decode(buffer, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: 100, maxMemoryUsageInMB: 512 });
      return { width: image.width, height: image.height, data: image.data };
    }
  } catch (error) {
    throw new ImageDecodeError(path, `the ${type?.toUpperCase()} data could not be decoded (${(error as Error).message}); is the file complete?`);
  }
  const start = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new ImageDecodeError(path, `not a PNG or JPEG image (starts with ${start || 'nothing'}); save the digit as .png or .jpg`);
}

/**
 * RGBA to grayscale by ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B), with transparency composited
 * on white: a digit drawn in black on a transparent canvas reads as ink on paper.
 */
export function toGrayscale(image: RgbaImage): GrayImage {
  const { width, height, data } = image;
  const gray = new Uint8Array(width * height);
  for (let i = 0, j = 0; i < gray.length; i++, j += 4) {
    const luma = 0.299 * data[j] + 0.587 * data[j + 1] + 0.114 * data[j + 2];
    const alpha = data[j + 3] / 255;
    gray[i] = Math.round(luma * alpha + 255 * (1 - alpha));
  }
  return { width, height, data: gray };
}

/** Decodes a PNG or JPEG straight to grayscale. */
export function decodeGrayscale(bytes: Uint8Array, path?: string): GrayImage {
  return toGrayscale(decodeImage(bytes, path));
}

/** Encodes grayscale bytes as an 8-bit grayscale PNG. */
export function encodeGrayscalePng(gray: Uint8Array, width: number, height: number): Buffer {
  if (gray.length !== width * height) throw new RangeError(`encodeGrayscalePng: ${gray.length} bytes for ${width}x${height}`);
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  png.data = Buffer.from(gray.buffer, gray.byteOffset, gray.byteLength);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
}

export interface PreprocessOptions {
  /** Fraction of the ink range above which a pixel counts for the bounding box (default 0.2). */
  readonly threshold?: number;
  /** 'auto' (default) decides from the border; 'dark-on-light' always inverts; 'light-on-dark' never. */
  readonly polarity?: 'auto' | 'dark-on-light' | 'light-on-dark';
}

/** The digit box inside the 28x28 field, and where its center of mass goes (MNIST: 20 px box, mass at 14, 14). */
const SIDE = 28;
const BOX = 20;
const CENTER = 14;

function median(values: number[]): number {
  values.sort((a, b) => a - b);
  const mid = values.length >> 1;
  return values.length % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

/**
 * Turns a grayscale picture of one digit into a 28x28 MNIST-like input in [0, 1], the way MNIST was
 * made (LeCun et al.): ink made bright on a dark background, cropped to its bounding box, scaled with
 * antialiasing to fit a 20x20 box keeping the aspect ratio, then placed in the 28x28 field so that its
 * center of mass is at (14, 14).
 */
export function preprocessDigit(gray: Uint8Array, width: number, height: number, options: PreprocessOptions = {}): Float32Array {
  if (gray.length !== width * height || width === 0 || height === 0) {
    throw new RangeError(`preprocessDigit: ${gray.length} pixels for a ${width}x${height} image`);
  }
  // 1. Polarity. The border of a digit picture is background; if it is lighter than mid-gray the ink is
  //    dark and we invert. A tiny image has no meaningful border; the overall median stands in.
  const border: number[] = [];
  for (let x = 0; x < width; x++) border.push(gray[x], gray[(height - 1) * width + x]);
  for (let y = 1; y < height - 1; y++) border.push(gray[y * width], gray[y * width + width - 1]);
  const backgroundRaw = width > 2 && height > 2 ? median(border) : median(Array.from(gray));
  const invert = options.polarity === 'dark-on-light' || (options.polarity !== 'light-on-dark' && backgroundRaw > 127);
  const ink = new Float32Array(gray.length);
  for (let i = 0; i < gray.length; i++) ink[i] = invert ? 255 - gray[i] : gray[i];
  const background = invert ? 255 - backgroundRaw : backgroundRaw;

  // 2. Remove the background level (gray paper, photo lighting) and stretch the ink to [0, 1].
  let max = 0;
  for (const v of ink) if (v > max) max = v;
  const range = max - background;
  const result = new Float32Array(SIDE * SIDE);
  if (range <= 8) return result; // nothing stands out from the background: a blank input
  for (let i = 0; i < ink.length; i++) ink[i] = Math.min(1, Math.max(0, (ink[i] - background) / range));

  // 3. Bounding box of the pixels above the threshold.
  const threshold = options.threshold ?? 0.2;
  let left = width;
  let right = -1;
  let top = height;
  let bottom = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] > threshold) {
        if (x < left) left = x;
        if (x > right) right = x;
        if (y < top) top = y;
        if (y > bottom) bottom = y;
      }
    }
  }
  if (right < 0) return result;
  const boxWidth = right - left + 1;
  const boxHeight = bottom - top + 1;

  // 4. Scale the box to fit 20x20 keeping the aspect ratio, by area averaging (each target pixel is the
  //    mean of the source area it covers), which antialiases like MNIST's normalization did.
  const scale = BOX / Math.max(boxWidth, boxHeight);
  const targetWidth = Math.max(1, Math.round(boxWidth * scale));
  const targetHeight = Math.max(1, Math.round(boxHeight * scale));
  const patch = resampleArea(ink, width, left, top, boxWidth, boxHeight, targetWidth, targetHeight);

  // 5. Place by center of mass. An integer shift keeps strokes sharp and lands the mass within half a
  //    pixel of (14, 14); the shift is clamped so no ink falls outside the field.
  let mass = 0;
  let sumX = 0;
  let sumY = 0;
  for (let y = 0; y < targetHeight; y++) {
    for (let x = 0; x < targetWidth; x++) {
      const v = patch[y * targetWidth + x];
      mass += v;
      sumX += v * x;
      sumY += v * y;
    }
  }
  const offsetX = Math.min(SIDE - targetWidth, Math.max(0, Math.round(CENTER - sumX / mass)));
  const offsetY = Math.min(SIDE - targetHeight, Math.max(0, Math.round(CENTER - sumY / mass)));
  for (let y = 0; y < targetHeight; y++) {
    for (let x = 0; x < targetWidth; x++) result[(y + offsetY) * SIDE + x + offsetX] = patch[y * targetWidth + x];
  }
  return result;
}

/** Area-average resampling of the region (left, top, w, h) of `source` (row stride `stride`) to tw x th. */
function resampleArea(source: Float32Array, stride: number, left: number, top: number, w: number, h: number, tw: number, th: number): Float32Array {
  const out = new Float32Array(tw * th);
  const sx = w / tw;
  const sy = h / th;
  for (let ty = 0; ty < th; ty++) {
    const y0 = ty * sy;
    const y1 = y0 + sy;
    for (let tx = 0; tx < tw; tx++) {
      const x0 = tx * sx;
      const x1 = x0 + sx;
      let sum = 0;
      for (let y = Math.floor(y0); y < Math.min(h, Math.ceil(y1)); y++) {
        const coverY = Math.min(y + 1, y1) - Math.max(y, y0);
        for (let x = Math.floor(x0); x < Math.min(w, Math.ceil(x1)); x++) {
          const coverX = Math.min(x + 1, x1) - Math.max(x, x0);
          sum += coverX * coverY * source[(top + y) * stride + left + x];
        }
      }
      out[ty * tw + tx] = sum / (sx * sy);
    }
  }
  return out;
}

/** A 3x5 bitmap font for labels: each glyph is 5 rows of 3 bits (most significant bit on the left). */
const FONT: Record<string, readonly number[]> = {
  '0': [7, 5, 5, 5, 7],
  '1': [2, 6, 2, 2, 7],
  '2': [7, 1, 7, 4, 7],
  '3': [7, 1, 7, 1, 7],
  '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7],
  '6': [7, 4, 7, 5, 7],
  '7': [7, 1, 1, 2, 2],
  '8': [7, 5, 7, 5, 7],
  '9': [7, 5, 7, 1, 7],
  '/': [1, 1, 2, 4, 4],
  '-': [0, 0, 7, 0, 0],
  '?': [7, 1, 3, 0, 2],
  ' ': [0, 0, 0, 0, 0],
};

/** Draws `text` with the 3x5 font into an RGBA canvas at (x, y), each font pixel `size` pixels wide. */
function drawText(canvas: PNG, text: string, x: number, y: number, size: number, color: readonly [number, number, number]): void {
  for (const [index, char] of [...text].entries()) {
    const glyph = FONT[char] ?? FONT['?'];
    for (let row = 0; row < 5; row++) {
      for (let col = 0; col < 3; col++) {
        if (!((glyph[row] >> (2 - col)) & 1)) continue;
        for (let dy = 0; dy < size; dy++) {
          for (let dx = 0; dx < size; dx++) {
            const px = x + (index * 4 + col) * size + dx;
            const py = y + row * size + dy;
            if (px >= canvas.width || py >= canvas.height) continue;
            const at = (py * canvas.width + px) * 4;
            canvas.data[at] = color[0];
            canvas.data[at + 1] = color[1];
            canvas.data[at + 2] = color[2];
            canvas.data[at + 3] = 255;
          }
        }
      }
    }
  }
}

export interface GridOptions {
  /** Image side in pixels (default 28); images are side x side. */
  readonly side?: number;
  /** Value of a full-ink pixel (default: 255 for Uint8Array images, 1 otherwise). */
  readonly pixelMax?: number;
}

/**
 * A PNG of up to cols x rows digits (ink white on black, as the network sees them), each enlarged
 * `scale` times with its label written underneath. Labels may be numbers or short strings such as
 * '7/1' (digits, '/', '-', '?', space).
 */
export function renderGrid(
  images: readonly ArrayLike<number>[],
  labels: readonly (number | string)[] | ArrayLike<number>,
  cols: number,
  rows: number,
  scale = 2,
  options: GridOptions = {},
): Buffer {
  const side = options.side ?? SIDE;
  const cell = side * scale;
  const fontSize = Math.max(1, scale);
  const labelHeight = 5 * fontSize + 4;
  const gap = 2;
  const width = cols * (cell + gap) + gap;
  const height = rows * (cell + labelHeight + gap) + gap;
  const canvas = new PNG({ width, height });
  for (let i = 0; i < canvas.data.length; i += 4) {
    canvas.data[i] = canvas.data[i + 1] = canvas.data[i + 2] = 64;
    canvas.data[i + 3] = 255;
  }
  const count = Math.min(images.length, cols * rows);
  for (let n = 0; n < count; n++) {
    const image = images[n];
    if (image.length !== side * side) throw new RangeError(`renderGrid: image ${n} has ${image.length} pixels, expected ${side * side}`);
    const pixelMax = options.pixelMax ?? (image instanceof Uint8Array ? 255 : 1);
    const x0 = gap + (n % cols) * (cell + gap);
    const y0 = gap + Math.floor(n / cols) * (cell + labelHeight + gap);
    for (let y = 0; y < cell; y++) {
      for (let x = 0; x < cell; x++) {
        const v = image[Math.floor(y / scale) * side + Math.floor(x / scale)] / pixelMax;
        const level = Math.round(255 * Math.min(1, Math.max(0, v)));
        const at = ((y0 + y) * width + x0 + x) * 4;
        canvas.data[at] = canvas.data[at + 1] = canvas.data[at + 2] = level;
      }
    }
    const label = (labels as ArrayLike<number | string>)[n];
    if (label !== undefined) drawText(canvas, String(label), x0 + 1, y0 + cell + 2, fontSize, [255, 220, 80]);
  }
  return PNG.sync.write(canvas);
}

const SHADES = [' ', '░', '▒', '▓', '█'];

/**
 * A text picture of a square image for a terminal: one shade character per pixel, doubled horizontally
 * so the digit keeps its proportions in a character cell about twice as tall as wide.
 */
export function terminalPreview(image: ArrayLike<number>, options: { side?: number; pixelMax?: number } = {}): string {
  const side = options.side ?? SIDE;
  if (image.length !== side * side) throw new RangeError(`terminalPreview: ${image.length} pixels, expected ${side * side}`);
  const pixelMax = options.pixelMax ?? (image instanceof Uint8Array ? 255 : 1);
  const lines: string[] = [];
  for (let y = 0; y < side; y++) {
    let line = '';
    for (let x = 0; x < side; x++) {
      const v = Math.min(1, Math.max(0, image[y * side + x] / pixelMax));
      line += SHADES[Math.min(SHADES.length - 1, Math.round(v * (SHADES.length - 1)))].repeat(2);
    }
    lines.push(line.trimEnd());
  }
  return lines.join('\n');
}
