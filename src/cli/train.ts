import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { createKernels } from '../core/index.js';
import type { Activation } from '../core/kernels.js';
import { formatAugmentSpec } from '../data/augment.js';
import { createDirectories, writeFileAtomic } from '../io/atomic.js';
import { parseLayers, presetLayers, presetNamed, presetSchedule, PRESETS, UnknownPresetError } from '../io/layer-text.js';
import { buildModelSpec, LayerSpecError, mlpOf, summarizeModel } from '../io/model-spec.js';
import { OPTIMIZER_NAMES, OPTIMIZER_OPTION_SPECS, type OptimizerName } from '../optim/index.js';
import { formatSchedule, parseSchedule, SCHEDULE_FORMS, ScheduleSpecError, type ScheduleSpec } from '../optim/schedules.js';
import { DEFAULT_CONVERGENCE } from '../train/convergence.js';
import { trainAndSave } from '../train/model-config.js';
import { TrainingRun, type TrainResult, type TrainSettings } from '../train/trainer.js';
import { RUNS_DIR } from './models.js';
import { countOf, createOutput, formatBytes, formatCount, parseLayerList, parseNumber, UsageError, type Output } from './output.js';
import { DATA_SOURCES, VALIDATION_HELP } from './data.js';
import { layerSummaryLines } from './layer-summary.js';
import { addAugmentOptions, augmentFromOptions } from './augment-options.js';
import { attachProgress } from './progress.js';
import { loadDataChecked } from './load-data.js';
import { printConfusion, writeMostConfidentlyWrong } from './report.js';

/** The --layers grammar in one line (src/io/layer-text.ts has it in full). */
const LAYERS_HELP =
  'comma-separated: linear N | conv N KxK [stride S] [pad P] | maxpool K | avgpool K | relu | tanh | sigmoid | ' +
  'dropout [P] | batchnorm | flatten; e.g. "conv 6 5x5 pad 2, relu, maxpool 2, linear 120, relu"';

/** Which optimizer takes which option (camelCase names), from the optimizers' own option specs. */
const OPTIMIZER_OPTIONS = Object.fromEntries(
  OPTIMIZER_NAMES.map((name) => [name, OPTIMIZER_OPTION_SPECS[name].map((spec) => spec.name)]),
) as Record<OptimizerName, string[]>;

const FLAG_OF: Record<string, string> = {
  lr: '--lr',
  momentum: '--momentum',
  dampening: '--dampening',
  nesterov: '--nesterov',
  weightDecay: '--weight-decay',
  beta1: '--beta1',
  beta2: '--beta2',
  eps: '--eps',
  amsgrad: '--amsgrad',
  lrDecay: '--lr-decay',
  initialAccumulatorValue: '--initial-accumulator',
  alpha: '--alpha',
  centered: '--centered',
};

const DEFAULT_EPOCHS = 5;
const DEFAULT_BATCH_SIZE = 64;

export function trainCommand(): Command {
  const command = new Command('train')
    .description('train a network on a dataset, evaluate it, and save it as a model folder')
    .option('--hidden <sizes>', 'an MLP\'s hidden layers: nodes per layer, comma-separated (e.g. 800 or 512,256; "none" for no hidden layer, 0 is refused; default 128)')
    .addOption(new Option('--activation <name>', 'activation of the MLP\'s hidden layers (default relu)').choices(['relu', 'sigmoid', 'tanh']))
    .option('--layers <list>', `any network, as a layer list before the output layer (${LAYERS_HELP})`)
    .option('--preset <name>', `a named layer list: ${Object.keys(PRESETS).join(', ')} (\`digitlab presets\` shows them)`)
    .addOption(new Option('--optimizer <name>', 'optimizer').choices([...OPTIMIZER_NAMES]).default('adam'))
    .option('--lr <rate>', 'learning rate (default: the optimizer\'s PyTorch default, 0.01 for sgd)', parseNumber('--lr', 'positive'))
    .option('--momentum <m>', 'momentum (sgd, rmsprop)', parseNumber('--momentum', 'non-negative'))
    .option('--dampening <d>', 'dampening for momentum (sgd)', parseNumber('--dampening', 'non-negative'))
    .option('--nesterov', 'Nesterov momentum (sgd)')
    .option('--weight-decay <wd>', 'L2 penalty (decoupled for adamw)', parseNumber('--weight-decay', 'non-negative'))
    .option('--beta1 <b>', 'first-moment decay (adam, adamw)', parseNumber('--beta1', 'non-negative'))
    .option('--beta2 <b>', 'second-moment decay (adam, adamw)', parseNumber('--beta2', 'non-negative'))
    .option('--eps <e>', 'term added to the denominator for stability', parseNumber('--eps', 'non-negative'))
    .option('--amsgrad', 'AMSGrad variant (adam, adamw)')
    .option('--lr-decay <d>', 'learning-rate decay (adagrad)', parseNumber('--lr-decay', 'non-negative'))
    .option('--initial-accumulator <v>', 'initial accumulator value (adagrad)', parseNumber('--initial-accumulator', 'non-negative'))
    .option('--alpha <a>', 'smoothing constant (rmsprop)', parseNumber('--alpha', 'non-negative'))
    .option('--centered', 'centered RMSprop (rmsprop)')
    .option('--schedule <spec>', `learning-rate schedule: ${SCHEDULE_FORMS} (default: none; with --preset, Adam and no --lr, the preset's own: \`digitlab presets\`)`);
  return addAugmentOptions(command, 'train')
    .option('--epochs <n>', `epochs (default ${DEFAULT_EPOCHS}, or a recipe preset's own: \`digitlab presets\`)`, parseNumber('--epochs', 'positive-int'))
    .option('--batch-size <n>', `mini-batch size, at most the number of training images: one batch an epoch (default ${DEFAULT_BATCH_SIZE}, or a recipe preset's own)`, parseNumber('--batch-size', 'positive-int'))
    .option('--seed <n>', 'random seed (initialization and shuffling)', parseNumber('--seed', 'int'), 0)
    .option('--data <source>', `dataset: ${DATA_SOURCES}`, 'mnist')
    .option('--validation <n>', `${VALIDATION_HELP}; 0 trains on every training image, with no validation, convergence or early stopping (a design already chosen on validation)`, parseNumber('--validation', 'count'))
    .option('--early-stopping <patience>', 'stop after this many epochs without a better validation loss', parseNumber('--early-stopping', 'positive-int'))
    .option('--no-restore-best', 'with early stopping, keep the last weights instead of the best epoch\'s')
    .option('--converge-tolerance <t>', 'relative validation-loss improvement that counts (convergence)', parseNumber('--converge-tolerance', 'non-negative'), DEFAULT_CONVERGENCE.tolerance)
    .option('--converge-patience <n>', 'epochs without such an improvement that mean convergence', parseNumber('--converge-patience', 'positive-int'), DEFAULT_CONVERGENCE.patience)
    .option('--out <dir>', 'model folder to write (config.json, model.safetensors, checkpoint, report; default: runs/run-DATE-TIME)')
    .option('--resume', 'continue from the checkpoint in --out (refused when there is none)')
    .addOption(new Option('--backend <name>', 'compute kernels').choices(['wasm', 'reference']).default('wasm'))
    .option('--threads <n>', 'threads for the compute kernels (default: the cores available)', parseNumber('--threads', 'positive-int'))
    .option('--json', 'print one JSON result on stdout')
    .action(async (opts) => {
      const out = createOutput(Boolean(opts.json));
      const settings = settingsFromOptions(opts);
      if (opts.resume && !opts.out) throw new UsageError('--resume needs --out DIR: the folder whose checkpoint to continue');
      const dir: string = opts.out ?? join(RUNS_DIR, `run-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')}`);
      const checkpointPath = join(dir, 'checkpoint.safetensors');
      // Asking to continue a run that has no checkpoint is most likely a wrong --out: starting
      // over in silence would hide it.
      if (opts.resume && !existsSync(checkpointPath)) {
        throw new UsageError(`--resume: there is no checkpoint to continue from: ${checkpointPath} does not exist; drop --resume to start a new run in ${dir}`);
      }
      // Folders made here are removed again if the run fails before it saved anything in them.
      const removeCreatedFolders = await createDirectories(dir);
      try {
        await train(opts, settings, dir, checkpointPath, out);
      } catch (error) {
        await removeCreatedFolders();
        throw error;
      }
    });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function train(opts: any, settings: TrainSettings, dir: string, checkpointPath: string, out: Output): Promise<void> {
  const controller = new AbortController();
  if (opts.validation === 0 && opts.earlyStopping !== undefined) {
    throw new UsageError('--early-stopping watches the validation loss, and --validation 0 holds out no validation images: leave out one of the two');
  }
  const data = loadDataChecked(out, opts.data, { validation: opts.validation });
  const kernels = await createKernels({ backend: opts.backend, threads: opts.threads });
  let run: TrainingRun;
  try {
    run = new TrainingRun({ kernels, data, settings, checkpointPath, resume: Boolean(opts.resume), signal: controller.signal });
  } catch (error) {
    // a list that parses but does not fit these images (a kernel larger than the image, …)
    if (error instanceof LayerSpecError) throw new UsageError(`--${opts.preset ? 'preset' : 'layers'}: ${error.message}`);
    throw error;
  }
  const mlp = mlpOf(run.model.spec);
  const shape = mlp
    ? `${[run.model.inputs, ...mlp.hidden, run.model.classes].join('-')} (${mlp.activation})`
    : opts.preset ? `${opts.preset}` : 'of layers';
  const batch = run.batchSize < settings.batchSize
    ? `batch ${formatCount(run.batchSize)} (--batch-size ${formatCount(settings.batchSize)} is more than the ${countOf(data.train.count, 'training image')})`
    : `batch ${formatCount(run.batchSize)}`;
  out.info(
    `network ${shape}, ${formatCount(run.model.parameterCount)} parameters, ${formatBytes(run.model.byteSize)}; ` +
      `${settings.optimizer}${scheduleNote(opts, settings)}, ${countOf(settings.epochs, 'epoch')} of ${countOf(data.train.count, 'image')}, ${batch}; kernels ${kernels.name}`,
  );
  if (settings.augment) {
    const own = opts.augment === undefined ? ` (${opts.preset}'s own; --augment none to train without)` : '';
    out.info(`augmentation: ${formatAugmentSpec(settings.augment)}, new for every image every epoch${own}`);
  }
  for (const line of layerSummaryLines(run.model.summary)) out.info(`  ${line}`);
  attachProgress(run, out);
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let result: TrainResult;
  try {
    ({ result } = await trainAndSave(run, dir));
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }

  const wrongPng = join(dir, 'most-confidently-wrong.png');
  const wrong = await writeMostConfidentlyWrong(wrongPng, result.test, data.test);
  const json = resultJson(result, dir);
  await writeFileAtomic(join(dir, 'result.json'), JSON.stringify(json, null, 2) + '\n');

  out.print(`model: ${dir} (${formatCount(result.params)} parameters, ${formatBytes(result.bytes)})`);
  out.print(`test accuracy ${(result.test.accuracy * 100).toFixed(2)}%, test loss ${result.test.loss.toFixed(4)}`);
  out.print(
    data.validation.count === 0
      ? 'no validation images held out (--validation 0): convergence was not measured'
      : result.converged_epoch === null
      ? `validation loss had not converged after ${countOf(result.epochs.length, 'epoch')} (tolerance ${settings.convergence.tolerance}, patience ${settings.convergence.patience})`
      : `validation loss converged at epoch ${result.converged_epoch}, after ${result.seconds_to_converge?.toFixed(1)} s of training`,
  );
  if (result.stopped_early) out.print(`stopped early after epoch ${result.epochs.length}; kept the weights of epoch ${result.best_epoch}`);
  if (result.diverged) out.print('the loss diverged (NaN or infinite): try a smaller --lr');
  out.print(`training time ${result.seconds.toFixed(1)} s`);
  out.print('');
  const named = data.train.classNames !== undefined;
  out.print(`confusion matrix (rows: true ${named ? 'class' : 'digit'}, columns: predicted):`);
  for (const line of printConfusion(result.test.confusion, data.train.classNames)) out.print(line);
  if (wrong > 0) out.print(`most confidently wrong test ${named ? 'images' : 'digits'} (true/predicted): ${wrongPng}`);
  out.result(json);
}

export function resultJson(result: TrainResult, dir: string) {
  return {
    model: dir,
    test_accuracy: result.test.accuracy,
    test_loss: result.test.loss,
    params: result.params,
    bytes: result.bytes,
    converged_epoch: result.converged_epoch,
    seconds_to_converge: result.seconds_to_converge,
    seconds: result.seconds,
    best_epoch: result.best_epoch,
    stopped_early: result.stopped_early,
    diverged: result.diverged,
    settings: result.settings,
    confusion: result.test.confusion,
    epochs: result.epochs,
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function settingsFromOptions(given: any): TrainSettings {
  const opts = withRecipe(given);
  const optimizer = opts.optimizer as OptimizerName;
  const chosen: Record<string, number | boolean> = {};
  const values: Record<string, unknown> = {
    lr: opts.lr,
    momentum: opts.momentum,
    dampening: opts.dampening,
    nesterov: opts.nesterov,
    weightDecay: opts.weightDecay,
    beta1: opts.beta1,
    beta2: opts.beta2,
    eps: opts.eps,
    amsgrad: opts.amsgrad,
    lrDecay: opts.lrDecay,
    initialAccumulatorValue: opts.initialAccumulator,
    alpha: opts.alpha,
    centered: opts.centered,
  };
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    if (!OPTIMIZER_OPTIONS[optimizer].includes(key)) {
      const takers = Object.entries(OPTIMIZER_OPTIONS).filter(([, keys]) => keys.includes(key)).map(([name]) => name);
      throw new UsageError(`${FLAG_OF[key]} does not apply to ${optimizer} (it is an option of ${takers.join(', ')})`);
    }
    chosen[key] = value as number | boolean;
  }
  // PyTorch's SGD has no default rate: use the one the optimizer suggests.
  const lrSpec = OPTIMIZER_OPTION_SPECS[optimizer].find((spec) => spec.name === 'lr');
  if (chosen.lr === undefined && lrSpec?.default === undefined && typeof lrSpec?.suggested === 'number') chosen.lr = lrSpec.suggested;
  return {
    ...architectureOptions(opts),
    optimizer,
    optimizerOptions: chosen,
    schedule: scheduleFromOptions(opts, optimizer, chosen.lr !== undefined),
    ...augmentSetting(opts),
    epochs: opts.epochs,
    batchSize: opts.batchSize,
    seed: opts.seed,
    earlyStoppingPatience: opts.earlyStopping ?? null,
    restoreBest: opts.restoreBest !== false,
    convergence: { tolerance: opts.convergeTolerance, patience: opts.convergePatience },
  };
}

/**
 * The options with a recipe preset's augmentation, epochs and batch size filled in where the command
 * line gives none (`--augment none` trains a recipe without distortions), and the plain defaults after
 * that.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function withRecipe(opts: any): any {
  const preset = presetNamed(opts.preset);
  return {
    ...opts,
    augment: opts.augment ?? preset?.augment,
    epochs: opts.epochs ?? preset?.epochs ?? DEFAULT_EPOCHS,
    batchSize: opts.batchSize ?? preset?.batchSize ?? DEFAULT_BATCH_SIZE,
  };
}

/** { augment } when the options ask for one, else {} (settings without augmentation have no such key). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function augmentSetting(opts: any): Pick<TrainSettings, 'augment'> {
  const augment = augmentFromOptions(opts);
  return augment ? { augment } : {};
}

/**
 * --schedule as given; without it, a preset's own schedule
 * (src/io/layer-text.ts) when the optimizer is Adam and no --lr is given, the settings it was measured
 * with; otherwise none.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function scheduleFromOptions(opts: any, optimizer: OptimizerName, lrGiven: boolean): ScheduleSpec | null {
  if (opts.schedule !== undefined) return scheduleOption(opts.schedule, opts.epochs);
  const preset = presetSchedule(opts.preset, optimizer, lrGiven);
  return preset === null ? null : scheduleOption(preset, opts.epochs);
}

/** ', schedule TEXT' for the run's header (saying so when it is the preset's), or '' for none. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function scheduleNote(opts: any, settings: TrainSettings): string {
  if (settings.schedule === null || settings.schedule.type === 'constant') return '';
  const text = formatSchedule(settings.schedule);
  return opts.schedule === undefined ? `, schedule ${text} (${opts.preset}'s own; --schedule none for a constant rate)` : `, schedule ${text}`;
}

/** --schedule's text as a schedule, its error a usage error. */
function scheduleOption(text: string, epochs: number): ScheduleSpec {
  try {
    return parseSchedule(text, epochs);
  } catch (error) {
    if (error instanceof ScheduleSpecError) throw new UsageError(`--schedule '${error.text}' is not understood: use ${SCHEDULE_FORMS}`);
    throw error;
  }
}

/** --hidden/--activation (an MLP) or --layers or --preset (any network), one of the three. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function architectureOptions(opts: any): Pick<TrainSettings, 'hidden' | 'activation' | 'layers'> {
  const given = (['layers', 'preset'] as const).filter((name) => opts[name] !== undefined);
  if (given.length === 2) throw new UsageError('--layers and --preset both describe the network: give one of them');
  const mlpDefaults = { hidden: [128], activation: 'relu' as Activation };
  if (given.length === 0) {
    return { hidden: opts.hidden === undefined ? mlpDefaults.hidden : parseLayerList(opts.hidden), activation: (opts.activation ?? 'relu') as Activation };
  }
  const flag = `--${given[0]}`;
  for (const mlpFlag of ['hidden', 'activation'] as const) {
    if (opts[mlpFlag] !== undefined) {
      throw new UsageError(`--${mlpFlag} describes an MLP and ${flag} the whole network: give one of them (for an MLP in --layers: "linear 800, relu")`);
    }
  }
  try {
    const layers = given[0] === 'preset' ? presetLayers(opts.preset) : parseLayers(opts.layers);
    return { ...mlpDefaults, layers };
  } catch (error) {
    if (error instanceof LayerSpecError || error instanceof UnknownPresetError) throw new UsageError(`${flag}: ${error.message}`);
    throw error;
  }
}

/** `digitlab presets`: the named layer lists, with their parameters on 28×28 digits. */
export function presetsCommand(): Command {
  return new Command('presets')
    .description('list the named layer lists that --preset takes')
    .option('--json', 'print them as JSON')
    .action((opts) => {
      const out = createOutput(Boolean(opts.json));
      const list = Object.entries(PRESETS).map(([name, preset]) => {
        const summary = summarizeModel(buildModelSpec([1, 28, 28], parseLayers(preset.layers), 10));
        return {
          name, layers: preset.layers, description: preset.description, schedule: preset.schedule,
          ...(preset.augment !== undefined ? { augment: preset.augment, epochs: preset.epochs, batch_size: preset.batchSize } : {}),
          params: summary.params, multiply_adds: summary.multiplyAdds,
        };
      });
      for (const p of list) {
        out.print(`${p.name}: ${p.layers}`);
        out.print(`  ${p.description}; ${formatCount(p.params)} parameters and ${formatCount(p.multiply_adds)} multiply-adds per 28×28 image with 10 classes`);
        out.print(`  trains with --schedule ${p.schedule} unless given another schedule, another optimizer than adam, or --lr`);
        if (p.augment !== undefined) out.print(`  and with --augment ${p.augment} --epochs ${p.epochs} --batch-size ${p.batch_size} unless given others`);
      }
      out.result(list);
    });
}
