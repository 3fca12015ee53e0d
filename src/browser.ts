/**
 * digitlab in a browser page: the part of the library that needs no Node.js (no files, no threads of
 * Node, no server, no database), as `import … from 'digitlab/browser'`. The web app is built on it.
 *
 *   const kernels = await loadBrowserKernels('/api/kernels/');
 *   const model = new Sequential(kernels, buildModelSpec([1, 28, 28], presetLayers('lenet5'), 10));
 */
export { loadBrowserKernels } from './core/browser.js';
export type { Activation, Kernels, KernelMemory } from './core/kernels.js';
export { createReferenceKernels } from './core/reference.js';
export { instantiateWasmKernels, KernelArgumentError, KernelLoadError, KernelMemoryError, relaxedSimdSupported, simdSupported } from './core/wasm.js';
export { Random, type RandomState } from './core/random.js';
export { preprocessDigit, toGrayscale, type GrayImage } from './data/preprocess.js';
export type { ModelConfig, NamedTensor } from './io/model-config.js';
export { decodeSafetensors, encodeSafetensors } from './io/safetensors.js';
export {
  buildModelSpec, describeModel, formatLayer, formatLayers, layer, LayerSpecError, mlpOf, modelSpecFromMlp, modelTensors,
  ModelSpecError, summarizeModel,
  type LayerInfo, type LayerSpec, type ModelSpec, type ModelSummary, type TensorSpec,
} from './io/model-spec.js';
export { modelSpecFromJson, modelSpecToJson } from './io/model-spec-json.js';
export { parseLayers, presetLayers, PRESETS, UnknownPresetError, type Preset } from './io/layer-text.js';
export { Sequential } from './nn/sequential.js';
export { Mlp, mlpModelSpec, type MlpSpec } from './nn/mlp.js';
export type { Layer, Param, StateBuffer } from './nn/layer.js';
export * from './nn/errors.js';
export { Predictor, type Prediction } from './nn/predictor.js';
export { readDigits, type DigitPredictor } from './read/read.js';
