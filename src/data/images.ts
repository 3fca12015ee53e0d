/**
 * Images in and out: decoding PNG/JPEG (photos or drawings of digits), turning them into MNIST-like
 * inputs of a model's shape, and drawing digits of any h x w for people (a PNG grid with labels, a
 * terminal preview).
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { ImageDecodeError } from './errors.js';
import { toGrayscale, type GrayImage, type RgbaImage } from './preprocess.js';

export { preprocessDigit, toGrayscale, type GrayImage, type PreprocessOptions, type RgbaImage } from './preprocess.js';

/** MNIST's image side, the default for grids and previews. */
const SIDE = 28;

/** The shape of the images to draw: width and height, or `side` for a square; 28 x 28 by default. */
export interface ImageShapeOptions {
  /** Columns of each image. */
  readonly width?: number;
  /** Rows of each image. */
  readonly height?: number;
  /** Both, for square images (width and height win when given). */
  readonly side?: number;
}

function imageShape(options: ImageShapeOptions, what: string): { width: number; height: number } {
  const width = options.width ?? options.side ?? SIDE;
  const height = options.height ?? options.side ?? SIDE;
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
    throw new RangeError(`${what}: images must have a positive integer size, got ${width}x${height}`);
  }
  return { width, height };
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

/**
 * A 3x5 bitmap font for labels: each glyph is 5 rows of 3 bits (most significant bit on the left).
 * Capitals only: small letters are drawn as capitals (class names such as 'Ankle boot' stay readable).
 */
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
  A: [2, 5, 7, 5, 5],
  B: [6, 5, 6, 5, 6],
  C: [3, 4, 4, 4, 3],
  D: [6, 5, 5, 5, 6],
  E: [7, 4, 6, 4, 7],
  F: [7, 4, 6, 4, 4],
  G: [3, 4, 5, 5, 3],
  H: [5, 5, 7, 5, 5],
  I: [7, 2, 2, 2, 7],
  J: [1, 1, 1, 5, 2],
  K: [5, 5, 6, 5, 5],
  L: [4, 4, 4, 4, 7],
  M: [5, 7, 7, 5, 5],
  N: [5, 7, 7, 7, 5],
  O: [2, 5, 5, 5, 2],
  P: [6, 5, 6, 4, 4],
  Q: [2, 5, 5, 6, 3],
  R: [6, 5, 6, 5, 5],
  S: [3, 4, 2, 1, 6],
  T: [7, 2, 2, 2, 2],
  U: [5, 5, 5, 5, 7],
  V: [5, 5, 5, 5, 2],
  W: [5, 5, 7, 7, 5],
  X: [5, 5, 2, 5, 5],
  Y: [5, 5, 2, 2, 2],
  Z: [7, 1, 2, 4, 7],
  '/': [1, 1, 2, 4, 4],
  '-': [0, 0, 7, 0, 0],
  '?': [7, 1, 3, 0, 2],
  ' ': [0, 0, 0, 0, 0],
};

/**
 * Draws `text` with the 3x5 font into an RGBA canvas at (x, y), each font pixel `size` pixels wide,
 * cut at `maxWidth` pixels.
 */
function drawText(canvas: PNG, text: string, x: number, y: number, size: number, color: readonly [number, number, number], maxWidth = Infinity): void {
  for (const [index, char] of [...text].entries()) {
    const glyph = FONT[char] ?? FONT[char.toUpperCase()] ?? FONT['?'];
    for (let row = 0; row < 5; row++) {
      for (let col = 0; col < 3; col++) {
        if (!((glyph[row] >> (2 - col)) & 1)) continue;
        for (let dy = 0; dy < size; dy++) {
          for (let dx = 0; dx < size; dx++) {
            const px = x + (index * 4 + col) * size + dx;
            const py = y + row * size + dy;
            if (px >= canvas.width || py >= canvas.height || px - x >= maxWidth) continue;
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

export interface GridOptions extends ImageShapeOptions {
  /** Value of a full-ink pixel (default: 255 for Uint8Array images, 1 otherwise). */
  readonly pixelMax?: number;
}

/**
/**
 * A PNG of up to cols x rows digits of `options.height` x `options.width` (ink white on black, as the
 * network sees them), each enlarged `scale` times with its label written underneath. Labels may be
 * numbers or strings such as '7/1' or 'Ankle boot' (letters, digits, '/', '-', '?', space), drawn
 * smaller when they are wider than the image.
 */
export function renderGrid(
  images: readonly ArrayLike<number>[],
  labels: readonly (number | string)[] | ArrayLike<number>,
  cols: number,
  rows: number,
  scale = 2,
  options: GridOptions = {},
): Buffer {
  const shape = imageShape(options, 'renderGrid');
  const cellWidth = shape.width * scale;
  const cellHeight = shape.height * scale;
  const fontSize = Math.max(1, scale);
  const labelHeight = 5 * fontSize + 4;
  const gap = 2;
  const width = cols * (cellWidth + gap) + gap;
  const height = rows * (cellHeight + labelHeight + gap) + gap;
  const canvas = new PNG({ width, height });
  for (let i = 0; i < canvas.data.length; i += 4) {
    canvas.data[i] = canvas.data[i + 1] = canvas.data[i + 2] = 64;
    canvas.data[i + 3] = 255;
  }
  const count = Math.min(images.length, cols * rows);
  // Long labels (class names) are all drawn smaller so the longest fits under its image; a label that
  // still does not fit is cut at the image's edge.
  let longest = 1;
  for (let n = 0; n < count; n++) longest = Math.max(longest, String((labels as ArrayLike<number | string>)[n] ?? '').length);
  const labelSize = Math.max(1, Math.min(fontSize, Math.floor((cellWidth - 1) / (4 * longest))));
  for (let n = 0; n < count; n++) {
    const image = images[n];
    if (image.length !== shape.width * shape.height) {
      throw new RangeError(`renderGrid: image ${n} has ${image.length} pixels, expected ${shape.height}x${shape.width} = ${shape.width * shape.height}`);
    }
    const pixelMax = options.pixelMax ?? (image instanceof Uint8Array ? 255 : 1);
    const x0 = gap + (n % cols) * (cellWidth + gap);
    const y0 = gap + Math.floor(n / cols) * (cellHeight + labelHeight + gap);
    for (let y = 0; y < cellHeight; y++) {
      for (let x = 0; x < cellWidth; x++) {
        const v = image[Math.floor(y / scale) * shape.width + Math.floor(x / scale)] / pixelMax;
        const level = Math.round(255 * Math.min(1, Math.max(0, v)));
        const at = ((y0 + y) * width + x0 + x) * 4;
        canvas.data[at] = canvas.data[at + 1] = canvas.data[at + 2] = level;
      }
    }
    const label = (labels as ArrayLike<number | string>)[n];
    if (label !== undefined) drawText(canvas, String(label), x0 + 1, y0 + cellHeight + 2, labelSize, [255, 220, 80], cellWidth - 1);
  }
  return PNG.sync.write(canvas);
}

const SHADES = [' ', '░', '▒', '▓', '█'];

/**
 * A text picture of an image of `options.height` x `options.width` for a terminal: one shade character
 * per pixel, doubled horizontally so the digit keeps its proportions in a character cell about twice as
 * tall as wide.
 */
export function terminalPreview(image: ArrayLike<number>, options: ImageShapeOptions & { pixelMax?: number } = {}): string {
  const { width, height } = imageShape(options, 'terminalPreview');
  if (image.length !== width * height) throw new RangeError(`terminalPreview: ${image.length} pixels, expected ${height}x${width} = ${width * height}`);
  const pixelMax = options.pixelMax ?? (image instanceof Uint8Array ? 255 : 1);
  const lines: string[] = [];
  for (let y = 0; y < height; y++) {
    let line = '';
    for (let x = 0; x < width; x++) {
      const v = Math.min(1, Math.max(0, image[y * width + x] / pixelMax));
      line += SHADES[Math.min(SHADES.length - 1, Math.round(v * (SHADES.length - 1)))].repeat(2);
    }
    lines.push(line.trimEnd());
  }
  return lines.join('\n');
}
