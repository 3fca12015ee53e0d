/**
 * The sheet in a photo: a picture of a digit on paper often shows the table, or a hand, around the
 * sheet. Its edges are far stronger than any stroke, so left in they would be taken for ink. This
 * finds the sheet where that is cheap and safe: a bright, nearly rectangular region that covers much
 * of the picture but not all of it, around which the picture has another colour (a table's, a hand's)
 * rather than the same paper in shadow. Pure functions, shared by every reader of pictures.
 */
import type { RgbaImage } from './preprocess.js';

/** A rectangle of a picture, in pixels. */
export interface Region {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** Pixels on the longer side of the reduced picture the sheet is looked for in. */
const REDUCED = 96;

/**
 * The sheet's rectangle (inset by 2% of its size, away from its edge), or null when the picture shows
 * no such sheet: the paper fills it, or what lies around the bright region looks like the same paper.
 */
export function findSheet(image: RgbaImage): Region | null {
  return locateSheet(image)?.region ?? null;
}

/**
 * The picture cut to its sheet (see findSheet), with whatever is not the sheet inside that rectangle
 * (a hand over its edge) painted in the sheet's colour, or the picture itself when it shows no sheet.
 */
export function sheetOf(image: RgbaImage): RgbaImage {
  const found = locateSheet(image);
  if (!found) return image;
  const { region, step, w, isSheet, paper } = found;
  const crop = cropImage(image, region);
  // cells that are not sheet but reach the rectangle's edge through cells that are not sheet either
  // (a hand, the table at a corner: not the ink, which the sheet surrounds), and their neighbours
  // (their edges blend into the sheet), take the sheet's colour
  const [c0, c1, r0, r1] = [Math.floor(region.x / step), Math.floor((region.x + region.width - 1) / step), Math.floor(region.y / step), Math.floor((region.y + region.height - 1) / step)];
  const intruder = new Uint8Array(isSheet.length);
  const stack: number[] = [];
  for (let cy = r0; cy <= r1; cy++) {
    for (let cx = c0; cx <= c1; cx++) {
      const c = cy * w + cx;
      if ((cx === c0 || cx === c1 || cy === r0 || cy === r1) && !isSheet[c] && !intruder[c]) {
        intruder[c] = 1;
        stack.push(c);
      }
    }
  }
  while (stack.length > 0) {
    const c = stack.pop() as number;
    const [cx, cy] = [c % w, Math.floor(c / w)];
    for (const [nx, ny] of [[cx - 1, cy], [cx + 1, cy], [cx, cy - 1], [cx, cy + 1]]) {
      const n = ny * w + nx;
      if (nx >= c0 && nx <= c1 && ny >= r0 && ny <= r1 && !isSheet[n] && !intruder[n]) {
        intruder[n] = 1;
        stack.push(n);
      }
    }
  }
  const paint = (cx: number, cy: number) => {
    for (let y = Math.max(region.y, cy * step); y < Math.min(region.y + region.height, (cy + 1) * step); y++) {
      for (let x = Math.max(region.x, cx * step); x < Math.min(region.x + region.width, (cx + 1) * step); x++) {
        crop.data.set(paper, ((y - region.y) * region.width + (x - region.x)) * 4);
      }
    }
  };
  for (let cy = r0; cy <= r1; cy++) {
    for (let cx = c0; cx <= c1; cx++) {
      if (!intruder[cy * w + cx]) continue;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if (cx + dx >= 0 && cx + dx < w && cy + dy >= 0 && cy + dy < isSheet.length / w) paint(cx + dx, cy + dy);
    }
  }
  return crop;
}

interface SheetFound {
  region: Region;
  /** Pixels per cell of the reduced picture, its width in cells, which cells are the sheet's. */
  step: number;
  w: number;
  isSheet: Uint8Array;
  /** The sheet's mean colour (RGBA). */
  paper: Uint8Array;
}

function locateSheet(image: RgbaImage): SheetFound | null {
  const { width, height, data } = image;
  const step = Math.max(1, Math.ceil(Math.max(width, height) / REDUCED));
  const w = Math.ceil(width / step), h = Math.ceil(height / step);
  if (w < 8 || h < 8) return null;
  // the reduced picture: the mean colour of each step × step cell
  const rgb = new Float32Array(w * h * 3);
  const luma = new Float32Array(w * h);
  for (let j = 0; j < h; j++) {
    for (let i = 0; i < w; i++) {
      let r = 0, g = 0, b = 0, n = 0;
      for (let y = j * step; y < Math.min(height, (j + 1) * step); y++) {
        for (let x = i * step; x < Math.min(width, (i + 1) * step); x++) {
          const p = (y * width + x) * 4;
          r += data[p]; g += data[p + 1]; b += data[p + 2]; n++;
        }
      }
      const c = j * w + i;
      [rgb[c * 3], rgb[c * 3 + 1], rgb[c * 3 + 2]] = [r / n, g / n, b / n];
      luma[c] = (0.299 * r + 0.587 * g + 0.114 * b) / n;
    }
  }
  // bright: above Otsu's threshold of the reduced luma, and of the bright cells' usual chromaticity
  // (paper keeps its colour in shadow; a hand or a table has another)
  const threshold = otsu(luma);
  const chromaOf = (c: number) => {
    const total = rgb[c * 3] + rgb[c * 3 + 1] + rgb[c * 3 + 2] || 1;
    return [rgb[c * 3] / total, rgb[c * 3 + 1] / total, rgb[c * 3 + 2] / total];
  };
  const brightCells = [...luma.keys()].filter((c) => luma[c] > threshold);
  if (brightCells.length === 0) return null;
  const usual = [0, 1, 2].map((k) => middleOf(brightCells.map((c) => chromaOf(c)[k])));
  const bright = Uint8Array.from(luma, (v, c) => {
    if (v <= threshold) return 0;
    const q = chromaOf(c);
    return Math.hypot(q[0] - usual[0], q[1] - usual[1], q[2] - usual[2]) < 0.04 ? 1 : 0;
  });
  // the largest 4-connected bright region
  const label = new Int32Array(w * h).fill(-1);
  let best = { size: 0, x0: 0, y0: 0, x1: 0, y1: 0, id: -1 };
  const stack: number[] = [];
  for (let start = 0; start < w * h; start++) {
    if (!bright[start] || label[start] >= 0) continue;
    const region = { size: 0, x0: w, y0: h, x1: -1, y1: -1, id: start };
    label[start] = start;
    stack.push(start);
    while (stack.length > 0) {
      const c = stack.pop() as number;
      const [x, y] = [c % w, Math.floor(c / w)];
      region.size++;
      region.x0 = Math.min(region.x0, x); region.x1 = Math.max(region.x1, x);
      region.y0 = Math.min(region.y0, y); region.y1 = Math.max(region.y1, y);
      for (const n of [x > 0 ? c - 1 : -1, x < w - 1 ? c + 1 : -1, y > 0 ? c - w : -1, y < h - 1 ? c + w : -1]) {
        if (n >= 0 && bright[n] && label[n] < 0) {
          label[n] = start;
          stack.push(n);
        }
      }
    }
    if (region.size > best.size) best = region;
  }
  const boxW = best.x1 - best.x0 + 1, boxH = best.y1 - best.y0 + 1;
  // a sheet: a fifth of the picture or more, nearly filling its box, and not the whole picture
  if (best.size < 0.2 * w * h || best.size < 0.75 * boxW * boxH) return null;
  // the widest gap between the region's box and the picture's edge: none worth the name, no margin
  const margin = Math.max(best.x0, best.y0, w - 1 - best.x1, h - 1 - best.y1);
  if (margin < Math.max(2, 0.04 * Math.min(w, h))) return null;
  // what lies outside the box must differ from the sheet in colour (chromaticity), not only in light
  const chroma = (sum: [number, number, number]) => {
    const total = sum[0] + sum[1] + sum[2] || 1;
    return sum.map((v) => v / total);
  };
  const inside: [number, number, number] = [0, 0, 0], outside: [number, number, number] = [0, 0, 0];
  let outsideCount = 0;
  for (let j = 0; j < h; j++) {
    for (let i = 0; i < w; i++) {
      const c = j * w + i;
      const within = i >= best.x0 && i <= best.x1 && j >= best.y0 && j <= best.y1;
      if (within && label[c] !== best.id) continue;
      const target = within ? inside : outside;
      for (let k = 0; k < 3; k++) target[k] += rgb[c * 3 + k];
      if (!within) outsideCount++;
    }
  }
  if (outsideCount === 0) return null;
  const [a, b] = [chroma(inside), chroma(outside)];
  if (Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]) < 0.05) return null;
  // back to the picture's pixels, 2% inside the sheet's edge
  const x = best.x0 * step, y = best.y0 * step;
  const sw = Math.min(width, (best.x1 + 1) * step) - x, sh = Math.min(height, (best.y1 + 1) * step) - y;
  const dx = Math.round(0.02 * sw), dy = Math.round(0.02 * sh);
  const isSheet = Uint8Array.from(label, (l) => (l === best.id ? 1 : 0));
  const count = best.size;
  const paper = Uint8Array.from([0, 1, 2].map((k) => Math.round((inside[k] / count))).concat(255));
  return { region: { x: x + dx, y: y + dy, width: sw - 2 * dx, height: sh - 2 * dy }, step, w, isSheet, paper };
}

function middleOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

/** Otsu's threshold of values in [0, 255]: the level that best splits them into two classes. */
function otsu(values: Float32Array): number {
  const histogram = new Float64Array(256);
  for (const v of values) histogram[Math.min(255, Math.max(0, Math.round(v)))]++;
  const total = values.length;
  let sum = 0;
  for (let v = 0; v < 256; v++) sum += v * histogram[v];
  let below = 0, sumBelow = 0, best = 0, level = 127;
  for (let t = 0; t < 256; t++) {
    below += histogram[t];
    if (below === 0 || below === total) continue;
    sumBelow += t * histogram[t];
    const meanBelow = sumBelow / below, meanAbove = (sum - sumBelow) / (total - below);
    const between = below * (total - below) * (meanBelow - meanAbove) ** 2;
    if (between > best) {
      best = between;
      level = t;
    }
  }
  return level;
}

/** The region of a picture as a picture of its own. */
export function cropImage(image: RgbaImage, region: Region): RgbaImage {
  const out = new Uint8Array(region.width * region.height * 4);
  for (let y = 0; y < region.height; y++) {
    const from = ((region.y + y) * image.width + region.x) * 4;
    out.set(image.data.subarray(from, from + region.width * 4), y * region.width * 4);
  }
  return { width: region.width, height: region.height, data: out };
}
