/**
 * digitlab's public API: everything the command line does, as library functions.
 *
 *   import { loadData, createKernels, TrainingRun, DEFAULT_SETTINGS } from 'digitlab';
 */
export * from './core/index.js';
export * from './data/index.js';
export * from './io/atomic.js';
export * from './io/model-config.js';
export * from './io/model-files.js';
export { exportOnnx, OnnxExportError, ONNX_OPSET, type OnnxExportOptions } from './io/onnx.js';
export { importStateDict, StateDictMismatchError, type StateDictImport } from './io/torch-import.js';
export { VERSION } from './core/version.js';
export * from './io/safetensors.js';
export { Mlp, mlpModelSpec, parameterCount, validateSpec, ACTIVATIONS, type MlpSpec } from './nn/mlp.js';
export { Sequential } from './nn/sequential.js';
export type { Layer, Param, StateBuffer } from './nn/layer.js';
export * from './nn/errors.js';
export {
  buildModelSpec, checkLayerFields, classCount, describeModel, formatLayer, formatLayers, layer, LAYER_TYPES, LayerSpecError,
  mlpLayers, mlpOf, modelSpecFromMlp, modelTensors, ModelSpecError, sequentialInputShape, summarizeModel,
  BATCHNORM_EPS, BATCHNORM_MOMENTUM, DROPOUT_P,
  type LayerInfo, type LayerSpec, type LayerType, type ModelSpec, type ModelSummary as LayerSummary, type Pair, type TensorSpec,
} from './io/model-spec.js';
export * from './io/layer-text.js';
export * from './io/model-spec-json.js';
export { Classifier, type Prediction } from './nn/classifier.js';
export {
  createOptimizer, defaultLr, OPTIMIZER_NAMES, OPTIMIZER_OPTION_SPECS, isOptimizerName,
  SGD, Adam, AdamW, Adagrad, RMSprop, OptimizerOptionError, OptimizerStateError,
  type Optimizer, type OptimizerName, type OptimizerState,
} from './optim/index.js';
export * from './optim/schedules.js';
export * from './train/trainer.js';
export * from './train/evaluate.js';
export * from './train/convergence.js';
export { modelConfigFor, resultMetrics, trainAndSave } from './train/model-config.js';
export { CheckpointError, type CheckpointState } from './train/checkpoint.js';
export { fillBatch, fillRange } from './train/batches.js';
export * from './study/spec.js';
export { openStudy, summarizeTrials, NEAR_BEST, type StudyResults, type TrialResult, type DesignResult, type StudySummary, type Spread } from './study/results.js';
export { StudyRunner, trialSettings, type StudyRunOptions, type StudyEvents } from './study/runner.js';
export { openStudyStorage, listStudyNames } from './study/open-storage.js';
export { StudyStorageError, LeaseLostError, type StudyStorage, type TrialStatus } from './study/storage.js';
export { STUDY_DATABASE } from './study/storage-sqlite.js';
export { writeReport, markdownReport, htmlReport, trialTable, kindTable } from './study/report.js';
export * from './read/index.js';
export * from './serve/index.js';
export { loadBrowserKernels } from './core/browser.js';
