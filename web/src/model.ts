/**
 * A model in the page: config.json and model.safetensors fetched from the server (or a static site's
 * models folder), or trained in this tab, run on the same WebAssembly kernels as Node. (The Node
 * Classifier reads folders from disk; this is its browser twin.)
 */
import { loadBrowserKernels, decodeSafetensors, modelConfigToJson, modelSpecFromJson, Predictor, Sequential, validateModelConfig, type Prediction } from '../../src/browser.js';
import type { Kernels, ModelConfig, DigitPredictor } from '../../src/browser.js';
import { accessHeaders } from './access.js';

export type { Prediction } from '../../src/browser.js';

/** A static site (`digitlab site`) has no API: its kernels, data and models are files beside the page. */
export const STATIC_SITE = document.querySelector('meta[name="digitlab-site"]')?.getAttribute('content') === 'static';
/** Where the kernels' .wasm files are, absolute (a worker resolves addresses against its own script). */
export const KERNELS_URL = new URL(STATIC_SITE ? 'kernels/' : '/api/kernels/', location.href).href;
/** The manifest of the data this site trains on. */
export const DATA_URL = new URL(STATIC_SITE ? 'data/index.json' : '/api/data/', location.href).href;

let kernelsPromise: Promise<Kernels> | null = null;

export function kernels(): Promise<Kernels> {
  kernelsPromise ??= loadBrowserKernels(KERNELS_URL);
  return kernelsPromise;
}

export class BrowserModel implements DigitPredictor {
  private readonly predictor: Predictor;

  private constructor(
    readonly id: string,
    readonly config: ModelConfig,
    readonly model: Sequential,
  ) {
    this.predictor = new Predictor(model);
  }

  /** A model of the server (or, on a static site, of its models folder). */
  static async load(id: string): Promise<BrowserModel> {
    const info = STATIC_SITE
      ? { config: (await getJson(`models/${encodeURIComponent(id)}/config.json`)) as ModelConfig, files: { weights: `models/${encodeURIComponent(id)}/model.safetensors` } }
      : (await getJson(`/api/models/${encodeURIComponent(id)}`)) as { config: ModelConfig; files: { weights: string } };
    const response = await fetch(info.files.weights);
    if (!response.ok) throw new Error(`${info.files.weights}: HTTP ${response.status}`);
    return BrowserModel.fromFiles(id, info.config, new Uint8Array(await response.arrayBuffer()), info.files.weights);
  }

  /** A model from its two files' content (a model trained in this tab); `where` names the weights in errors. */
  static async fromFiles(id: string, configJson: unknown, weights: Uint8Array, where = `${id}/model.safetensors`): Promise<BrowserModel> {
    const config = validateModelConfig(configJson, `${id}/config.json`);
    const decoded = decodeSafetensors(weights, where);
    const model = new Sequential(await kernels(), modelSpecFromJson(modelConfigToJson(config).model, 'model'));
    model.loadTensors([...decoded.tensors].map(([name, tensor]) => ({ name, shape: tensor.shape, data: tensor.data, dtype: tensor.dtype === 'I64' ? 'I64' as const : 'F32' as const })));
    return new BrowserModel(id, config, model);
  }

  /** [height, width] of the images the model reads. */
  get inputShape(): readonly [number, number] {
    return this.config.inputShape;
  }

  label(index: number): string {
    return this.config.labels?.[index] ?? String(index);
  }

  predictBatch(pixels: Float32Array, rows: number): Prediction[] {
    return this.predictor.predictBatch(pixels, rows);
  }

  predict(pixels: Float32Array): Prediction {
    return this.predictBatch(pixels, 1)[0];
  }
}

/**
 * GET (or, with `init`, send) a JSON request, with the page's access token when it has one; a non-2xx
 * answer throws with the server's message.
 */
export async function getJson(url: string, init: RequestInit = {}): Promise<unknown> {
  const response = await fetch(url, { ...init, headers: { ...accessHeaders(), ...(init.headers as Record<string, string> | undefined) } });
  const body = (await response.json().catch(() => ({}))) as { message?: string };
  if (!response.ok) throw new Error(body.message ?? `${url}: HTTP ${response.status}`);
  return body;
}
