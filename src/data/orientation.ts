/**
 * EXIF orientation: a phone stores a photo as its sensor saw it and writes, in the JPEG's EXIF block,
 * how to turn it upright (the Orientation tag, 0x0112, values 1–8). Pure functions on bytes, shared by
 * every decoder, so a digit photographed with the phone on its side reads the right way up.
 */
import type { RgbaImage } from './preprocess.js';

/** EXIF orientations: 1 as stored; 2 mirrored; 3 turned 180°; 4 flipped; 5–8 the same with rows and columns swapped. */
export type Orientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

/**
 * The Orientation tag of a JPEG's EXIF block (1 when there is none, or it cannot be read): walks the
 * marker segments up to the first scan, finds APP1 "Exif", and reads IFD0 in the TIFF byte order.
 */
export function jpegOrientation(bytes: Uint8Array): Orientation {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return 1;
  let at = 2;
  while (at + 4 <= bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1];
    if (marker === 0xda || marker === 0xd9) return 1;
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    if (length < 2) return 1;
    const body = at + 4;
    if (marker === 0xe1 && body + 14 <= bytes.length && String.fromCharCode(...bytes.subarray(body, body + 6)) === 'Exif\0\0') {
      return tiffOrientation(bytes.subarray(body + 6, Math.min(bytes.length, at + 2 + length)));
    }
    at += 2 + length;
  }
  return 1;
}

function tiffOrientation(tiff: Uint8Array): Orientation {
  if (tiff.length < 8) return 1;
  const little = tiff[0] === 0x49 && tiff[1] === 0x49;
  if (!little && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return 1;
  const u16 = (at: number) => (little ? tiff[at] | (tiff[at + 1] << 8) : (tiff[at] << 8) | tiff[at + 1]);
  const u32 = (at: number) => (little ? u16(at) + u16(at + 2) * 65536 : u16(at) * 65536 + u16(at + 2));
  const ifd = u32(4);
  if (ifd + 2 > tiff.length) return 1;
  const entries = u16(ifd);
  for (let e = 0; e < entries; e++) {
    const entry = ifd + 2 + 12 * e;
    if (entry + 12 > tiff.length) return 1;
    if (u16(entry) === 0x0112) {
      const value = u16(entry + 8);
      return value >= 1 && value <= 8 ? (value as Orientation) : 1;
    }
  }
  return 1;
}

/** The image turned upright as its EXIF orientation says (the same image for orientation 1). */
export function orientImage(image: RgbaImage, orientation: Orientation): RgbaImage {
  if (orientation === 1) return image;
  const { width: w, height: h, data } = image;
  const swap = orientation >= 5;
  const [ow, oh] = swap ? [h, w] : [w, h];
  const out = new Uint8Array(ow * oh * 4);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      // the stored pixel that shows at (x, y) once upright
      let sx: number, sy: number;
      switch (orientation) {
        case 2: [sx, sy] = [w - 1 - x, y]; break;
        case 3: [sx, sy] = [w - 1 - x, h - 1 - y]; break;
        case 4: [sx, sy] = [x, h - 1 - y]; break;
        case 5: [sx, sy] = [y, x]; break;
        case 6: [sx, sy] = [y, h - 1 - x]; break;
        case 7: [sx, sy] = [w - 1 - y, h - 1 - x]; break;
        default: [sx, sy] = [w - 1 - y, x]; break; // 8
      }
      const from = (sy * w + sx) * 4;
      out.set(data.subarray(from, from + 4), (y * ow + x) * 4);
    }
  }
  return { width: ow, height: oh, data: out };
}
