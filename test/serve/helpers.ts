/**
 * Helpers for server tests: a model folder in milliseconds (untrained: these tests look at statuses,
 * not accuracy) and an HTTP client that can pick its local address, so one test can be several
 * clients (127.0.0.1, 127.0.0.2, … all reach a server on loopback).
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createKernels } from '../../src/core/index.js';
import { modelConfigFromV1, type ModelConfig } from '../../src/io/model-config.js';
import { Classifier } from '../../src/nn/classifier.js';
import { Mlp } from '../../src/nn/mlp.js';

export async function saveUntrainedModel(dir: string, hidden: number[] = [16]): Promise<void> {
  const mlp = Mlp.create(await createKernels({ threads: 1 }), { inputs: 784, hidden, classes: 10, activation: 'relu' }, 1);
  const config: ModelConfig = modelConfigFromV1({ format: 'digitlab-mlp', version: 1, inputShape: [28, 28], classes: 10, hidden, activation: 'relu', normalization: { pixelMax: 255 } });
  await new Classifier(config, mlp).save(dir);
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The JSON body (or the text, when it is not JSON). */
  body: { message?: string; statusCode?: number; [key: string]: unknown };
}

export interface SendOptions {
  method?: string;
  body?: string | Uint8Array;
  /** Content type of the body (default application/json). */
  type?: string;
  headers?: Record<string, string>;
  /** The client's local address (default: the system's choice). */
  from?: string;
}

export function send(base: string, path: string, options: SendOptions = {}): Promise<Answer> {
  const url = new URL(path, base);
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-type'] = options.type ?? 'application/json';
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: options.method ?? (options.body === undefined ? 'GET' : 'POST'), headers, localAddress: options.from, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: Answer['body'];
          try {
            body = JSON.parse(text) as Answer['body'];
          } catch {
            body = { text };
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body === undefined ? undefined : Buffer.from(options.body));
  });
}
