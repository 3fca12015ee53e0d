/**
 * The pure part of image handling: RGBA to grayscale and MNIST-style preprocessing of a digit picture.
 * No Node modules here, so the browser app prepares its drawings with exactly the same code.
 */
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

/**
 * A photo of ink on paper as a grayscale image in which the paper is white (255) wherever the light
 * falls, and each pixel is as dark as its ink contrast: light that falls off across the sheet, a
 * shadow, coloured paper or coloured ink all give the same dark-on-white picture.
 *
 * The paper's colour is estimated per channel in blocks of about a sixth of the picture's shorter side
 * (the 90th percentile of each block: the paper, since ink covers far less of a block), and read
 * between block centres bilinearly; a pixel's contrast is its largest darkening relative to that
 * background over the three channels, (paper − pixel) / paper. Pictures of light ink on a dark ground
 * (in most blocks, the brightness's tail above its median reaching farther than the one below) are
 * inverted first, so they come out dark on white too.
 */
export function inkContrast(image: RgbaImage): GrayImage {
  const { width, height, data } = image;
  const size = width * height;
  // the channels composited on white (transparency is paper), and their luma for the polarity
  const rgb = new Float32Array(size * 3);
  const luma = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const alpha = data[i * 4 + 3] / 255;
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = data[i * 4 + c] * alpha + 255 * (1 - alpha);
    luma[i] = 0.299 * rgb[i * 3] + 0.587 * rgb[i * 3 + 1] + 0.114 * rgb[i * 3 + 2];
  }
  // polarity, block by block: within a block the paper is most of it (its median) and the ink the tail
  // that reaches farther from it, below (dark ink) or above (light ink); the blocks vote, each by how
  // far its ink stands out. Over a whole picture the light's fall-off can outweigh the ink.
  const block = Math.max(8, Math.round(Math.min(width, height) / 6));
  const bx = Math.ceil(width / block), by = Math.ceil(height / block);
  const histogram = new Uint32Array(256);
  let vote = 0;
  for (let j = 0; j < by; j++) {
    for (let i = 0; i < bx; i++) {
      const x0 = i * block, y0 = j * block, x1 = Math.min(width, x0 + block), y1 = Math.min(height, y0 + block);
      histogram.fill(0);
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) histogram[(luma[y * width + x] + 0.5) | 0]++;
      const count = (x1 - x0) * (y1 - y0);
      const [low, middle, high] = [0.02, 0.5, 0.98].map((q) => percentileOf(histogram, count, q));
      vote += (middle - low) - (high - middle);
    }
  }
  if (vote < 0) for (let i = 0; i < rgb.length; i++) rgb[i] = 255 - rgb[i];

  // the paper per block and channel: the 90th percentile, from a histogram of the block
  const paper = new Float32Array(bx * by * 3);
  for (let j = 0; j < by; j++) {
    for (let i = 0; i < bx; i++) {
      const x0 = i * block, y0 = j * block, x1 = Math.min(width, x0 + block), y1 = Math.min(height, y0 + block);
      const count = (x1 - x0) * (y1 - y0);
      for (let c = 0; c < 3; c++) {
        histogram.fill(0);
        for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) histogram[(rgb[(y * width + x) * 3 + c] + 0.5) | 0]++;
        paper[(j * bx + i) * 3 + c] = Math.max(1, percentileOf(histogram, count, 0.9));
      }
    }
  }
  // each pixel's contrast against the paper read bilinearly between block centres (a row of the
  // background at a time: the blocks' rows interpolated along y, then each pixel along x)
  const out = new Uint8Array(size);
  const row = new Float32Array(bx * 3);
  for (let y = 0; y < height; y++) {
    const fy = Math.min(by - 1, Math.max(0, (y + 0.5) / block - 0.5));
    const j0 = Math.floor(fy), j1 = Math.min(by - 1, j0 + 1), ty = fy - j0;
    for (let k = 0; k < bx * 3; k++) row[k] = (1 - ty) * paper[j0 * bx * 3 + k] + ty * paper[j1 * bx * 3 + k];
    for (let x = 0; x < width; x++) {
      const fx = Math.min(bx - 1, Math.max(0, (x + 0.5) / block - 0.5));
      const i0 = Math.floor(fx), i1 = Math.min(bx - 1, i0 + 1), tx = fx - i0;
      const p = (y * width + x) * 3;
      let contrast = 0;
      for (let c = 0; c < 3; c++) {
        const background = (1 - tx) * row[i0 * 3 + c] + tx * row[i1 * 3 + c];
        const darkening = (background - rgb[p + c]) / background;
        if (darkening > contrast) contrast = darkening;
      }
      out[y * width + x] = Math.round(255 * (1 - Math.min(1, contrast)));
    }
  }
  return { width, height, data: out };
}

/** The value of a 256-bin histogram of `count` values at or below which a fraction q of them lies. */
function percentileOf(histogram: Uint32Array, count: number, q: number): number {
  let seen = 0;
  for (let v = 0; v < 256; v++) if ((seen += histogram[v]) >= q * count) return v;
  return 255;
}

export interface PreprocessOptions {
  /** Fraction of the ink range above which a pixel counts for the bounding box (default 0.2). */
  readonly threshold?: number;
  /** 'auto' (default) decides from the border; 'dark-on-light' always inverts; 'light-on-dark' never. */
  readonly polarity?: 'auto' | 'dark-on-light' | 'light-on-dark';
  /** Rows of the input made (default 28, MNIST's): the model's input height. */
  readonly height?: number;
  /** Columns of the input made (default 28): the model's input width. */
  readonly width?: number;
}

/**
 * MNIST's geometry: a 20x20 box for the ink inside the 28x28 field, its center of mass at the field's
 * center (14, 14). Other fields keep the proportions: the box is 20/28 of each side.
 */
const MNIST_SIDE = 28;
const MNIST_BOX = 20;

function median(values: number[]): number {
  values.sort((a, b) => a - b);
  const mid = values.length >> 1;
  return values.length % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

/**
 * Turns a grayscale picture of one digit into an MNIST-like input in [0, 1], the way MNIST was made
 * (LeCun et al.): ink made bright on a dark background, cropped to its bounding box, scaled with
 * antialiasing to fit a 20x20 box keeping the aspect ratio, then placed in the 28x28 field so that its
 * center of mass is at (14, 14). For a field of another size (`options.height` x `options.width`, a
 * model's input shape) the box is 20/28 of each side, and the center of mass goes to the field's center.
 */
export function preprocessDigit(gray: Uint8Array, width: number, height: number, options: PreprocessOptions = {}): Float32Array {
  if (gray.length !== width * height || width === 0 || height === 0) {
    throw new RangeError(`preprocessDigit: ${gray.length} pixels for a ${width}x${height} image`);
  }
  const fieldWidth = options.width ?? MNIST_SIDE;
  const fieldHeight = options.height ?? MNIST_SIDE;
  if (!(Number.isInteger(fieldWidth) && fieldWidth > 0 && Number.isInteger(fieldHeight) && fieldHeight > 0)) {
    throw new RangeError(`preprocessDigit: the input to make must have a positive integer size, got ${fieldWidth}x${fieldHeight}`);
  }
  const innerWidth = Math.max(1, Math.round((fieldWidth * MNIST_BOX) / MNIST_SIDE));
  const innerHeight = Math.max(1, Math.round((fieldHeight * MNIST_BOX) / MNIST_SIDE));
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
  const result = new Float32Array(fieldWidth * fieldHeight);
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

  // 4. Scale the box to fit the inner box (20x20 for MNIST) keeping the aspect ratio, by area averaging
  //    (each target pixel is the mean of the source area it covers), which antialiases like MNIST's
  //    normalization did.
  const scale = Math.min(innerWidth / boxWidth, innerHeight / boxHeight);
  const targetWidth = Math.min(innerWidth, Math.max(1, Math.round(boxWidth * scale)));
  const targetHeight = Math.min(innerHeight, Math.max(1, Math.round(boxHeight * scale)));
  const patch = resampleArea(ink, width, left, top, boxWidth, boxHeight, targetWidth, targetHeight);

  // 5. Place by center of mass. An integer shift keeps strokes sharp and lands the mass within half a
  //    pixel of the field's center ((14, 14) for MNIST); the shift is clamped so no ink falls outside.
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
  const offsetX = Math.min(fieldWidth - targetWidth, Math.max(0, Math.round(fieldWidth / 2 - sumX / mass)));
  const offsetY = Math.min(fieldHeight - targetHeight, Math.max(0, Math.round(fieldHeight / 2 - sumY / mass)));
  for (let y = 0; y < targetHeight; y++) {
    for (let x = 0; x < targetWidth; x++) result[(y + offsetY) * fieldWidth + x + offsetX] = patch[y * targetWidth + x];
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
