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
 * (the median of each block: the paper, since ink covers less of a block; a block that a thick stroke
 * covers takes its neighbours' paper), and read between block centres bilinearly; a pixel's contrast is
 * its largest darkening relative to that background over the three channels, (paper − pixel) / paper.
 * Pictures of light ink on a dark ground (in most blocks of a third of the shorter side, the
 * brightness's tail above its median reaching farther than the one below) are inverted first, so they
 * come out dark on white too.
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
  // The blocks are a third of the shorter side: inside a smaller block a marker's stroke can be most
  // of the block, which then looks like light ink on dark paper.
  const histogram = new Uint32Array(256);
  const voteBlock = Math.max(8, Math.round(Math.min(width, height) / 3));
  let vote = 0;
  for (let j = 0; j < Math.ceil(height / voteBlock); j++) {
    for (let i = 0; i < Math.ceil(width / voteBlock); i++) {
      const x0 = i * voteBlock, y0 = j * voteBlock, x1 = Math.min(width, x0 + voteBlock), y1 = Math.min(height, y0 + voteBlock);
      histogram.fill(0);
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) histogram[(luma[y * width + x] + 0.5) | 0]++;
      const count = (x1 - x0) * (y1 - y0);
      const [low, middle, high] = [0.02, 0.5, 0.98].map((q) => percentileOf(histogram, count, q));
      vote += (middle - low) - (high - middle);
    }
  }
  if (vote < 0) for (let i = 0; i < rgb.length; i++) rgb[i] = 255 - rgb[i];

  // the paper per block and channel: the median, from a histogram of the block
  const block = Math.max(8, Math.round(Math.min(width, height) / 6));
  const bx = Math.ceil(width / block), by = Math.ceil(height / block);
  const paper = new Float32Array(bx * by * 3);
  for (let j = 0; j < by; j++) {
    for (let i = 0; i < bx; i++) {
      const x0 = i * block, y0 = j * block, x1 = Math.min(width, x0 + block), y1 = Math.min(height, y0 + block);
      const count = (x1 - x0) * (y1 - y0);
      for (let c = 0; c < 3; c++) {
        histogram.fill(0);
        for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) histogram[(rgb[(y * width + x) * 3 + c] + 0.5) | 0]++;
        paper[(j * bx + i) * 3 + c] = Math.max(1, percentileOf(histogram, count, PAPER_QUANTILE));
      }
    }
  }
  fillCoveredBlocks(paper, bx, by);
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

/**
 * A block that ink covers mostly (a marker's stroke) has little paper to see: its median is
 * ink, which would make the ink around it look like paper. Such a block is one whose estimate in some
 * channel is below COVERED_RATIO of the brightest of its neighbours (light and shadows change far less
 * between neighbouring blocks than ink darkens paper); it takes the mean of its uncovered neighbours,
 * ring by ring until every block has a value.
 */
function fillCoveredBlocks(paper: Float32Array, bx: number, by: number): void {
  const covered = new Uint8Array(bx * by);
  for (let j = 0; j < by; j++) {
    for (let i = 0; i < bx; i++) {
      for (let c = 0; c < 3; c++) {
        let brightest = 0;
        for (let dj = -1; dj <= 1; dj++) {
          for (let di = -1; di <= 1; di++) {
            const [ni, nj] = [i + di, j + dj];
            if ((di || dj) && ni >= 0 && nj >= 0 && ni < bx && nj < by) brightest = Math.max(brightest, paper[(nj * bx + ni) * 3 + c]);
          }
        }
        if (paper[(j * bx + i) * 3 + c] < COVERED_RATIO * brightest) covered[j * bx + i] = 1;
      }
    }
  }
  for (let pending = covered.reduce((a, b) => a + b, 0); pending > 0;) {
    const filled: number[] = [];
    for (let k = 0; k < bx * by; k++) {
      if (!covered[k]) continue;
      const [i, j] = [k % bx, Math.floor(k / bx)];
      const sum = [0, 0, 0];
      let n = 0;
      for (let dj = -1; dj <= 1; dj++) {
        for (let di = -1; di <= 1; di++) {
          const [ni, nj] = [i + di, j + dj];
          if (ni < 0 || nj < 0 || ni >= bx || nj >= by || covered[nj * bx + ni]) continue;
          for (let c = 0; c < 3; c++) sum[c] += paper[(nj * bx + ni) * 3 + c];
          n++;
        }
      }
      if (n > 0) {
        for (let c = 0; c < 3; c++) paper[k * 3 + c] = sum[c] / n;
        filled.push(k);
      }
    }
    if (filled.length === 0) break; // every block covered: nothing better to go by
    for (const k of filled) covered[k] = 0;
    pending -= filled.length;
  }
}

/**
 * The paper's level in a block and channel: the median, since paper is most of a block. (Ink may be
 * brighter than the paper in a channel, blue ink on yellow paper in blue, so a high percentile would
 * take ink for paper wherever the strokes are.)
 */
const PAPER_QUANTILE = 0.5;

/** Below this share of its brightest neighbour (in a channel), a block's paper estimate is ink. */
const COVERED_RATIO = 0.45;

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
  /**
   * 'mnist' (default): strokes much thinner or thicker than MNIST's (a fine pen, a marker) are grown or
   * thinned into MNIST's usual range; 'keep': as drawn.
   */
  readonly strokes?: 'mnist' | 'keep';
}

/**
 * Stroke widths of MNIST's digits in its 28x28 field, by strokeWidth: the 10th and 90th percentiles of
 * the 10,000 test digits (the median is 2.40). A digit outside this range is brought to its edge.
 */
export const MNIST_STROKE_RANGE: readonly [number, number] = [1.81, 3.32];

/** Supersampling of the fitted box in which strokes are grown or thinned (an eighth of a field pixel). */
const STROKE_FINE = 8;

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

  // 3. Bounding box of the pixels above the threshold, once specks (grain, JPEG noise, dust) are
  //    cleared away.
  const threshold = options.threshold ?? 0.2;
  clearSpecks(ink, width, height, threshold);
  const box = inkBox(ink, width, height, threshold);
  if (box === null) return result;

  // 4. Scale the box to fit the inner box (20x20 for MNIST) keeping the aspect ratio, by area averaging
  //    (each target pixel is the mean of the source area it covers), which antialiases like MNIST's
  //    normalization did; strokes far from MNIST's width are brought into its range.
  const { patch, targetWidth, targetHeight } = options.strokes === 'keep'
    ? fitBox(ink, width, box, innerWidth, innerHeight)
    : fitBoxMnistStrokes(ink, width, box, innerWidth, innerHeight, threshold);

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

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The box of `ink` scaled by area averaging to fit inner width x height, keeping its aspect ratio. */
function fitBox(ink: Float32Array, stride: number, box: Box, innerWidth: number, innerHeight: number) {
  const scale = Math.min(innerWidth / box.width, innerHeight / box.height);
  const targetWidth = Math.min(innerWidth, Math.max(1, Math.round(box.width * scale)));
  const targetHeight = Math.min(innerHeight, Math.max(1, Math.round(box.height * scale)));
  return { patch: resampleArea(ink, stride, box.left, box.top, box.width, box.height, targetWidth, targetHeight), targetWidth, targetHeight, scale };
}

/**
 * fitBox, with strokes outside MNIST_STROKE_RANGE (measured in the fitted box, as MNIST's were in its
 * field) grown or thinned to its nearer edge: the box is drawn at STROKE_FINE times the size with a
 * margin, a gray-scale dilation or erosion by a disc moves each edge, and the ink's new box is fitted
 * again. Refitting rescales the strokes with the box, so the edges move by what lands on the goal
 * after it, and a second round corrects what the discrete disc missed.
 */
function fitBoxMnistStrokes(ink: Float32Array, stride: number, box: Box, innerWidth: number, innerHeight: number, threshold: number) {
  let fitted = fitBox(ink, stride, box, innerWidth, innerHeight);
  let source = { ink, stride, box };
  const [low, high] = MNIST_STROKE_RANGE;
  for (let round = 0; round < 2; round++) {
    const measured = strokeWidth(fitted.patch, fitted.targetWidth, { left: 0, top: 0, width: fitted.targetWidth, height: fitted.targetHeight });
    if (!(measured < low || measured > high)) break;
    const goal = measured < low ? low : high;
    const side = Math.max(fitted.targetWidth, fitted.targetHeight);
    // in field pixels, both edges together: the change that leaves `goal` once the box is refitted
    const change = Math.min(side / 2, Math.abs(measured - goal) / Math.max(0.5, 1 - goal / side));
    const radius = (STROKE_FINE * change) / 2;
    const margin = Math.ceil(radius) + 1;
    const fineWidth = Math.max(1, Math.round(source.box.width * fitted.scale * STROKE_FINE));
    const fineHeight = Math.max(1, Math.round(source.box.height * fitted.scale * STROKE_FINE));
    const canvasWidth = fineWidth + 2 * margin;
    const canvasHeight = fineHeight + 2 * margin;
    const canvas = new Float32Array(canvasWidth * canvasHeight);
    const fine = resampleArea(source.ink, source.stride, source.box.left, source.box.top, source.box.width, source.box.height, fineWidth, fineHeight);
    for (let y = 0; y < fineHeight; y++) canvas.set(fine.subarray(y * fineWidth, (y + 1) * fineWidth), (y + margin) * canvasWidth + margin);
    const moved = morphDisc(canvas, canvasWidth, canvasHeight, radius, measured < low ? 'dilate' : 'erode');
    const found = inkBox(moved, canvasWidth, canvasHeight, threshold);
    if (found === null) break; // an erosion that leaves no ink (a hairline cannot be thinner): keep what there is
    source = { ink: moved, stride: canvasWidth, box: found };
    fitted = fitBox(moved, canvasWidth, found, innerWidth, innerHeight);
  }
  return fitted;
}

/**
 * The mean stroke width of the ink in `box`, in its pixels: twice the ink's mass over its total
 * variation (a stroke of width w and length L has mass wL and two edges of length L; blur does not
 * change the total variation of an edge, so antialiased and sharp strokes measure alike).
 */
export function strokeWidth(ink: Float32Array, stride: number, box: Box): number {
  let mass = 0;
  let variation = 0;
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) {
      const at = (box.top + y) * stride + box.left + x;
      const v = ink[at];
      const right = x + 1 < box.width ? ink[at + 1] : 0;
      const below = y + 1 < box.height ? ink[at + stride] : 0;
      mass += v;
      variation += Math.hypot(right - v, below - v);
      if (x === 0) variation += v; // the edges on the box's left and top sides
      if (y === 0) variation += v;
    }
  }
  return variation > 0 ? (2 * mass) / variation : 0;
}

/**
 * Gray-scale dilation (max) or erosion (min) of an image by a disc of `radius` pixels (rounded), outside
 * the image counting as background (0). The disc is a stack of row spans: each span width's running
 * extreme along the rows is taken once (van Herk's method, three passes whatever the width), and each
 * pixel combines the 2r + 1 rows' spans.
 */
export function morphDisc(image: Float32Array, width: number, height: number, radius: number, op: 'dilate' | 'erode'): Float32Array {
  const r = Math.round(radius);
  if (r <= 0) return image.slice();
  const dilate = op === 'dilate';
  const spans = Array.from({ length: 2 * r + 1 }, (_, i) => Math.round(Math.sqrt(r * r - (i - r) ** 2)));
  const byWidth = new Map<number, Float32Array>();
  for (const span of new Set(spans)) byWidth.set(span, rowExtremes(image, width, height, span, dilate));
  const out = new Float32Array(image.length);
  for (let y = 0; y < height; y++) {
    // a disc that reaches past the top or bottom takes in background: 0 after an erosion, nothing
    // added to a dilation
    if (!dilate && (y < r || y + r >= height)) continue;
    const at = y * width;
    out.set(image.subarray(at, at + width), at);
    for (let dy = Math.max(-r, -y); dy <= Math.min(r, height - 1 - y); dy++) {
      const rows = byWidth.get(spans[dy + r]) as Float32Array;
      const from = (y + dy) * width;
      if (dilate) {
        for (let x = 0; x < width; x++) if (rows[from + x] > out[at + x]) out[at + x] = rows[from + x];
      } else {
        for (let x = 0; x < width; x++) if (rows[from + x] < out[at + x]) out[at + x] = rows[from + x];
      }
    }
  }
  return out;
}

/** Each pixel's max (or min) over the 2·span + 1 pixels of its row around it, 0 beyond the row's ends. */
function rowExtremes(image: Float32Array, width: number, height: number, span: number, dilate: boolean): Float32Array {
  const out = new Float32Array(image.length);
  const k = 2 * span + 1;
  const n = width + 2 * span;
  const padded = new Float32Array(n);
  const prefix = new Float32Array(n);
  const suffix = new Float32Array(n);
  for (let y = 0; y < height; y++) {
    padded.fill(0);
    padded.set(image.subarray(y * width, (y + 1) * width), span);
    if (dilate) {
      for (let i = 0; i < n; i++) prefix[i] = i % k === 0 || padded[i] > prefix[i - 1] ? padded[i] : prefix[i - 1];
      for (let i = n - 1; i >= 0; i--) suffix[i] = i === n - 1 || (i + 1) % k === 0 || padded[i] > suffix[i + 1] ? padded[i] : suffix[i + 1];
      for (let x = 0; x < width; x++) out[y * width + x] = suffix[x] > prefix[x + k - 1] ? suffix[x] : prefix[x + k - 1];
    } else {
      for (let i = 0; i < n; i++) prefix[i] = i % k === 0 || padded[i] < prefix[i - 1] ? padded[i] : prefix[i - 1];
      for (let i = n - 1; i >= 0; i--) suffix[i] = i === n - 1 || (i + 1) % k === 0 || padded[i] < suffix[i + 1] ? padded[i] : suffix[i + 1];
      for (let x = 0; x < width; x++) out[y * width + x] = suffix[x] < prefix[x + k - 1] ? suffix[x] : prefix[x + k - 1];
    }
  }
  return out;
}

/**
 * Pieces of ink (8-connected pixels above `threshold`) whose mass is below SPECK_SHARE of the largest
 * piece's are specks, not strokes: their pixels are set to 0 so they neither widen the digit's box nor
 * add to it.
 */
function clearSpecks(ink: Float32Array, width: number, height: number, threshold: number): void {
  const piece = new Int32Array(ink.length).fill(-1);
  const masses: number[] = [];
  const stack: number[] = [];
  for (let start = 0; start < ink.length; start++) {
    if (piece[start] >= 0 || ink[start] <= threshold) continue;
    const id = masses.length;
    let mass = 0;
    piece[start] = id;
    stack.push(start);
    while (stack.length > 0) {
      const at = stack.pop() as number;
      mass += ink[at];
      const x = at % width, y = (at - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          const next = yy * width + xx;
          if (xx < 0 || xx >= width || piece[next] >= 0 || ink[next] <= threshold) continue;
          piece[next] = id;
          stack.push(next);
        }
      }
    }
    masses.push(mass);
  }
  if (masses.length < 2) return;
  const floor = SPECK_SHARE * Math.max(...masses);
  for (let i = 0; i < ink.length; i++) if (piece[i] >= 0 && masses[piece[i]] < floor) ink[i] = 0;
}

/** A piece of ink lighter than this share of the largest piece is a speck. */
const SPECK_SHARE = 0.05;

/** The bounding box of the pixels above `threshold`, or null when there are none. */
function inkBox(ink: Float32Array, width: number, height: number, threshold: number): Box | null {
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
  return right < 0 ? null : { left, top, width: right - left + 1, height: bottom - top + 1 };
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
