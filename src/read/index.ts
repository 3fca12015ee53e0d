/** Reading rows of handwritten digits: segmentation and per-digit classification. */
export { segmentDigits, type Box, type DigitSegment, type SegmentOptions } from './segment.js';
export { readDigits, type DigitPredictor, type ReadDigit, type ReadResult } from './read.js';
