/**
 * The models a server offers: every model folder (config.json + model.safetensors) directly under the
 * runs folder, plus one given explicitly. A model's id is its folder name, restricted to a safe
 * alphabet, so an id can never name a path outside the folders the server was given.
 */
import { validateModelConfig } from '../io/model-config.js';
import { describeModel, mlpOf, summarizeModel } from '../io/model-spec.js';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Kernels } from '../core/kernels.js';
import type { Dataset } from '../data/dataset.js';
import { CONFIG_FILE, modelFolderModified, WEIGHTS_FILE } from '../io/model-files.js';
import { Classifier } from '../nn/classifier.js';
import { evaluateDetailed, mostConfidentlyWrong } from '../train/evaluate.js';

/** Letters, digits, '.', '_' and '-', not starting with '.': no separators, no '..'. */
export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';
const ID_REGEX = new RegExp(ID_PATTERN);

/** An id that is not one of the server's models. */
export class UnknownModelError extends Error {
  override readonly name = 'UnknownModelError';
  readonly statusCode = 404;
  constructor(id: string) {
    super(`no model with id ${JSON.stringify(id)}: GET /api/models lists the models`);
  }
}

export interface ModelSummary {
  id: string;
  /** Whether predictions without a model id use this one. */
  default: boolean;
  /** [height, width] of the images the model reads. */
  inputShape: [number, number];
  classes: number;
  /** The model in a few words: `784-128-10` for an MLP, else its layer list. */
  network: string;
  /** The MLP's hidden sizes and activation, or null for any other network. */
  mlp: { hidden: number[]; activation: string } | null;
  params: number;
  testAccuracy: number | null;
  /** When the weights were written (ISO time). */
  modified: string;
}

export interface Gallery {
  /** The `--data` spec of the test split the model was scored on. */
  data: string;
  accuracy: number;
  count: number;
  /** [height, width] of every image in `wrong` (the model's input shape). */
  inputShape: [number, number];
  /** Rows: true digit, columns: predicted. */
  confusion: number[][];
  /** The misclassified test digits the model was surest about: height × width bytes in base64, ink 255. */
  wrong: Array<{ index: number; label: number; predicted: number; confidence: number; pixels: string }>;
}

/** A safe id for a folder outside the runs folder (its name with other characters replaced). */
function idFor(dir: string): string {
  const cleaned = basename(resolve(dir)).replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[.-]+/, '');
  return cleaned === '' ? 'model' : cleaned.slice(0, 128);
}

export class ModelRegistry {
  private readonly extra = new Map<string, string>();
  private readonly classifiers = new Map<string, { mtime: number; classifier: Promise<Classifier> }>();
  private readonly galleries = new Map<string, Promise<Gallery>>();
  private defaultId: string | null = null;

  constructor(
    readonly runsDir: string,
    private readonly kernels: Kernels,
  ) {}

  /** Offers a model folder that is not under the runs folder, and makes it the default. */
  async addDefault(dir: string): Promise<string> {
    const inRuns = resolve(join(dir, '..')) === resolve(this.runsDir) && ID_REGEX.test(basename(dir));
    const id = inRuns ? basename(dir) : idFor(dir);
    if (!inRuns) this.extra.set(id, resolve(dir));
    if (!(await modelFolderModified(resolve(dir)))) throw new UnknownModelError(id);
    this.defaultId = id;
    return id;
  }

  /** Every model, newest first. */
  async list(): Promise<ModelSummary[]> {
    const found = new Map<string, { dir: string; mtime: Date }>();
    let names: string[] = [];
    try {
      names = await readdir(this.runsDir);
    } catch {
      // no runs folder yet: only the explicit model
    }
    for (const name of names) {
      if (!ID_REGEX.test(name)) continue;
      const mtime = await modelFolderModified(join(this.runsDir, name));
      if (mtime) found.set(name, { dir: join(this.runsDir, name), mtime });
    }
    for (const [id, dir] of this.extra) {
      const mtime = await modelFolderModified(dir);
      if (mtime) found.set(id, { dir, mtime });
    }
    const summaries: ModelSummary[] = [];
    for (const [id, { dir, mtime }] of found) {
      try {
        const path = join(dir, CONFIG_FILE);
        const config = validateModelConfig(JSON.parse(await readFile(path, 'utf8')), path);
        const accuracy = config.metrics?.test_accuracy;
        summaries.push({
          id,
          default: false,
          inputShape: config.inputShape,
          classes: config.classes,
          network: describeModel(config.model),
          mlp: mlpOf(config.model),
          params: summarizeModel(config.model).params,
          testAccuracy: typeof accuracy === 'number' ? accuracy : null,
          modified: mtime.toISOString(),
        });
      } catch {
        // an unreadable config: not offered (loading it would fail with the reason)
      }
    }
    summaries.sort((a, b) => b.modified.localeCompare(a.modified));
    const chosen = summaries.find((s) => s.id === this.defaultId) ?? summaries[0];
    if (chosen) chosen.default = true;
    return summaries;
  }

  /** The folder of a model id (throws UnknownModelError). */
  async dir(id: string): Promise<string> {
    if (!ID_REGEX.test(id)) throw new UnknownModelError(id);
    const dir = this.extra.get(id) ?? join(this.runsDir, id);
    if (!(await modelFolderModified(dir))) throw new UnknownModelError(id);
    return dir;
  }

  /** The id used when a request names none. */
  async resolveId(id: string | undefined): Promise<string> {
    if (id !== undefined) return id;
    const models = await this.list();
    const chosen = models.find((m) => m.default);
    if (!chosen) throw new UnknownModelError('(default)');
    return chosen.id;
  }

  /** A loaded classifier, reloaded when the folder's weights change (a run retrained into it). */
  async classifier(id: string): Promise<Classifier> {
    const dir = await this.dir(id);
    const mtime = (await stat(join(dir, WEIGHTS_FILE))).mtimeMs;
    const cached = this.classifiers.get(id);
    if (cached && cached.mtime === mtime) return cached.classifier;
    const classifier = Classifier.load(this.kernels, dir);
    this.classifiers.set(id, { mtime, classifier });
    this.galleries.delete(id);
    classifier.catch(() => this.classifiers.delete(id));
    return classifier;
  }

  /**
   * The model's confusion matrix and its most confidently wrong test digits (computed once), on the
   * test split that `data` chooses for it.
   */
  async gallery(id: string, data: (id: string, classifier: Classifier) => { spec: string; test: Dataset }, limit = 48): Promise<Gallery> {
    const classifier = await this.classifier(id);
    let gallery = this.galleries.get(id);
    if (!gallery) {
      gallery = Promise.resolve().then(() => {
        const { spec, test } = data(id, classifier);
        const evaluation = evaluateDetailed(classifier.model, test);
        const wrong = mostConfidentlyWrong(evaluation, test, limit).map((w) => ({
          index: w.index,
          label: w.label,
          predicted: w.predicted,
          confidence: w.confidence,
          pixels: Buffer.from(Uint8Array.from(w.image, (v) => Math.round(v * 255))).toString('base64'),
        }));
        return { data: spec, accuracy: evaluation.accuracy, count: evaluation.count, inputShape: classifier.config.inputShape, confusion: evaluation.confusion, wrong };
      });
      this.galleries.set(id, gallery);
      gallery.catch(() => this.galleries.delete(id));
    }
    return gallery;
  }
}
