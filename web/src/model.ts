/**
 * A model in the page: config.json and model.safetensors fetched from the server, run on the same
 * WebAssembly kernels as Node. (The Node Classifier reads folders from disk; this is its browser twin.)
 */
import { loadBrowserKernels, decodeSafetensors, modelSpecFromJson, Predictor, Sequential, type Prediction } from '../../src/browser.js';
import type { Kernels, ModelConfig, DigitPredictor } from '../../src/browser.js';
import { accessHeaders } from './access.js';

export type { Prediction } from '../../src/browser.js';

let kernelsPromise: Promise<Kernels> | null = null;

export function kernels(): Promise<Kernels> {
  kernelsPromise ??= loadBrowserKernels('/api/kernels/');
  return kernelsPromise;
}

export class BrowserModel implements DigitPredictor {
  private readonly predictor: Predictor;

  private constructor(
    readonly id: string,
    readonly config: ModelConfig,
    model: Sequential,
  ) {
    this.predictor = new Predictor(model);
  }

  static async load(id: string): Promise<BrowserModel> {
    const info = (await getJson(`/api/models/${encodeURIComponent(id)}`)) as { config: ModelConfig; files: { weights: string } };
    const response = await fetch(info.files.weights);
    if (!response.ok) throw new Error(`${info.files.weights}: HTTP ${response.status}`);
    const decoded = decodeSafetensors(new Uint8Array(await response.arrayBuffer()), info.files.weights);
    const config = info.config;
    const model = new Sequential(await kernels(), modelSpecFromJson(config.model, 'model'));
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
