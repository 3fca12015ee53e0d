/**
 * digitlab in a browser page: the part of the library that needs no Node.js (no files, no threads of
 * Node, no server, no database), as `import … from 'digitlab/browser'`. The web app is built on it:
 * it reads digits on the page and trains in a Web Worker.
 *
 *   const kernels = await loadBrowserKernels('/api/kernels/');
 *   const model = new Sequential(kernels, buildModelSpec([1, 28, 28], presetLayers('lenet5'), 10));
 *
 *   // in a worker, on both cores
 *   const kernels = await loadBrowserKernels('/api/kernels/', { threads: browserThreads() });
 *   const run = new TrainingRun({ kernels, data, settings: runSettings(completeRunRequest({ preset: 'lenet5' }), data.train) });
 *   const result = await run.run();
 */
export { browserThreads, loadBrowserKernels, type BrowserKernelOptions } from './core/browser.js';
export { KernelPoolError } from './core/pool.js';
export type { Activation, Kernels, KernelMemory } from './core/kernels.js';
export { createReferenceKernels } from './core/reference.js';
export { instantiateWasmKernels, KernelArgumentError, KernelLoadError, KernelMemoryError, relaxedSimdSupported, simdSupported } from './core/wasm.js';
export { Random, type RandomState } from './core/random.js';
export { preprocessDigit, toGrayscale, type GrayImage } from './data/preprocess.js';
export { className, defaultValidationSize, sliceDataset, splitValidation, type Dataset, type DatasetSplits } from './data/dataset.js';
export { encodeIdx, idxDataset, idxImages, idxLabels, isGzip, parseIdx, type IdxArray, type IdxDtype } from './data/idx-bytes.js';
export { DataFormatError, DataSourceError, IdxFormatError } from './data/errors.js';
export { AugmentSpecError, parseAugment, type AugmentSpec } from './data/augment.js';
export { modelConfigToJson, ModelConfigError, validateModelConfig, type ModelConfig, type NamedTensor } from './io/model-config.js';
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
export { OPTIMIZER_NAMES, defaultLr, type OptimizerName } from './optim/index.js';
export { parseSchedule, ScheduleSpecError, type ScheduleSpec } from './optim/schedules.js';
export {
  DEFAULT_SETTINGS, optimizerOptionsFor, TrainingAbortedError, TrainingRun, validateSettings,
  type EpochRecord, type TrainEvents, type TrainResult, type TrainRunOptions, type TrainSettings,
} from './train/trainer.js';
export { CheckpointError, decodeCheckpoint, encodeCheckpoint, type CheckpointState, type CheckpointStore } from './train/checkpoint.js';
export { evaluate, evaluateDetailed, mostConfidentlyWrong, type DetailedEvaluation, type Evaluation, type WrongPrediction } from './train/evaluate.js';
export { completeRunRequest, RunRequestError, runSettings, type RunRequest } from './train/run-request.js';
export { resultMetrics, trainedModelConfig } from './train/trained-config.js';
export { exportOnnx, OnnxExportError, ONNX_OPSET } from './io/onnx.js';
