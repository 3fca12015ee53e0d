/**
 * Load test of POST /api/predict: N requests (default 2,000) from C concurrent clients (default 32)
 * on loopback with autocannon, against a server started in this process on a free port (rate limit
 * off: all clients are one address here). Each request is a real MNIST test digit as JSON pixels.
 * With --bombs B, B clients keep sending 16,000 × 16,000 PNGs (250 KB each) and, with --large L, L
 * clients keep sending 16-megapixel PNGs (the most the server decodes) for as long as the load runs:
 * the normal requests' latency shows whether either holds them up.
 *
 *   node --import tsx bench/load.ts [--model DIR] [--requests 2000] [--connections 32] [--png] [--bombs 6] [--large 2]
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// autocannon ships no types; the few fields used here are typed below
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore
import autocannon from 'autocannon';
import { encodeGrayscalePng } from '../src/data/images.js';
import { blankPng } from '../test/fixtures/blank-png.js';
import { loadData } from '../src/data/source.js';
import { newestModel } from '../src/io/model-files.js';
import { createServer } from '../src/serve/server.js';

interface Histogram { average: number; p50: number; p90: number; p99: number; max: number }
interface Result { requests: Histogram & { total: number }; latency: Histogram; errors: number; timeouts: number; non2xx: number; duration: number; '2xx': number }

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    requests: { type: 'string', default: '2000' },
    connections: { type: 'string', default: '32' },
    png: { type: 'boolean', default: false },
    bombs: { type: 'string', default: '0' },
    large: { type: 'string', default: '0' },
  },
});
const modelDir = values.model ?? (await newestModel('runs'));
if (!modelDir) throw new Error('no model under runs/: train one or pass --model DIR');
const studies = mkdtempSync(join(tmpdir(), 'digitlab-load-'));
const server = await createServer({ runsDir: join(modelDir, '..'), studiesDir: studies, modelDir, rateLimit: null });
const url = await server.listen(0);
const test = loadData('mnist').test;
const bodies = Array.from({ length: 100 }, (_, i) => {
  const image = test.images.subarray(i * 784, (i + 1) * 784);
  return values.png
    ? encodeGrayscalePng(Uint8Array.from(image), 28, 28)
    : JSON.stringify({ pixels: Array.from(image, (v) => v / test.pixelMax) });
});

/** Clients that send `body` again as soon as each answer arrives, until `running` is false; their answers' statuses are counted. */
let running = true;
function hostileClients(count: number, body: Buffer, statuses: Map<number, number>): Promise<void[]> {
  return Promise.all(Array.from({ length: count }, async () => {
    while (running) {
      const response = await fetch(`${url}/api/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body });
      await response.arrayBuffer();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    }
  }));
}
const bombStatuses = new Map<number, number>();
const largeStatuses = new Map<number, number>();
const hostile = Promise.all([
  hostileClients(Number(values.bombs), blankPng(16000, 16000), bombStatuses),
  hostileClients(Number(values.large), blankPng(4000, 4000), largeStatuses),
]);

let next = 0;
const result = (await autocannon({
  url: `${url}/api/predict`,
  method: 'POST',
  headers: { 'content-type': values.png ? 'image/png' : 'application/json' },
  connections: Number(values.connections),
  amount: Number(values.requests),
  requests: [{ setupRequest: (request: Record<string, unknown>) => ({ ...request, body: bodies[next++ % bodies.length] }) }],
})) as Result;
running = false;
await hostile;
await server.close();
rmSync(studies, { recursive: true, force: true });
const summary = {
  model: modelDir,
  body: values.png ? 'PNG 28x28' : 'JSON 784 pixels',
  requests: result.requests.total,
  connections: Number(values.connections),
  ok: result['2xx'],
  errors: result.errors + result.timeouts + result.non2xx,
  requests_per_second: Math.round(result.requests.total / result.duration),
  latency_ms: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
  ...(Number(values.bombs) > 0 ? { bombs: { clients: Number(values.bombs), statuses: Object.fromEntries(bombStatuses) } } : {}),
  ...(Number(values.large) > 0 ? { large_pictures: { clients: Number(values.large), statuses: Object.fromEntries(largeStatuses) } } : {}),
};
console.log(JSON.stringify(summary, null, 2));
if (summary.errors > 0) process.exitCode = 1;
