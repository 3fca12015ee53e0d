// Entry point of the WebAssembly kernels (compiled by scripts/build-wasm.mjs, loaded by
// src/core/wasm.ts). The module imports its memory; every pointer is a byte offset into it, and the
// JavaScript side owns allocation above heapBase().
export { gemm, gemmScratchBytes } from './gemm';
export { biasActivation, activationBackward, biasGradient } from './activations';
export { softmax, softmaxCrossEntropy } from './softmax';
export { sgdUpdate, adamUpdate, adagradUpdate, rmspropUpdate } from './optimizers';
export {
  conv2dScratchBytes, conv2dForward, conv2dInputGrad, conv2dWeightGrad, accumulate,
  conv2dSparseScratchBytes, conv2dForwardSparse, conv2dWeightGradSparse,
  conv2dSparseGradScratchBytes, conv2dInputGradSparse, conv2dWeightGradSparseDy,
  maxpool2dForward, maxpool2dBackward, avgpool2dForward, avgpool2dBackward, activationForward, dropout,
  batchnormForwardTraining, batchnormForwardEval, batchnormBackwardTraining, batchnormBackwardEval,
} from './spatial';
export { warpImagesU8, warpImagesF32 } from './warp';
export { indexNonzeros, indexNonzeroRows, indexPixels, scalePixels, indexColumns, sparseGemmNN, sparseGemmTN, toPanels, fromPanels } from './sparse';

/**
 * Version of the calling convention shared with src/core/wasm.ts (export names, parameters, scratch
 * layout). Raise it with any such change: the loader refuses a module of another version, which
 * catches a stale build/ or dist/.
 */
export function abiVersion(): i32 {
  return 10;
}

/** First byte the module itself does not use (static data ends below it). */
export function heapBase(): usize {
  return __heap_base;
}
