/**
 * Large and hostile pictures against the server: decompression bombs are refused from their header,
 * pictures within the limit are decoded by the picture workers while other clients are answered,
 * and the workers' queue is bounded. The facts asserted are orders and statuses, not durations:
 * a 16-megapixel PNG takes pngjs over a second to decode, a JSON prediction a millisecond, so "every
 * other request was answered before the first large picture" holds with a wide margin on any machine,
 * and fails whenever large pictures are decoded on the server's own thread.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeGrayscalePng } from '../../src/data/images.js';
import { loadData } from '../../src/data/source.js';
import { createServer, type DigitServer, type ServerOptions } from '../../src/serve/server.js';
import { blankPng } from '../fixtures/blank-png.js';
import { saveUntrainedModel, send, type Answer } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-pictures-'));
const runsDir = join(dir, 'runs');
const servers: DigitServer[] = [];

before(() => saveUntrainedModel(join(runsDir, 'tiny')));
after(async () => {
  for (const server of servers) await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function start(options: Partial<ServerOptions> = {}): Promise<string> {
  const server = await createServer({ runsDir, studiesDir: join(dir, 'studies'), rateLimit: null, ...options });
  servers.push(server);
  return server.listen(0);
}

const test = loadData('mnist').test;
const pixels = JSON.stringify({ pixels: Array.from(test.images.subarray(0, 784), (v) => v / 255) });
const digitPng = encodeGrayscalePng(test.images.subarray(0, 784) as Uint8Array, 28, 28);
/** A 16,000 × 16,000 PNG of 250 KB: a gigabyte of RGBA once decoded, about 6 s of pngjs. */
const bomb = blankPng(16000, 16000);
/** Exactly 16 megapixels, the default limit: allowed, and over a second to decode. */
const large = blankPng(4000, 4000);
/** 4 megapixels: a quarter of a second or more, long enough for requests sent together to overlap. */
const medium = blankPng(2000, 2000);

const png = (body: Uint8Array) => ({ body, type: 'image/png' });

/** Sends `count` copies of a request at once from `from` and records when each is answered. */
function burst(url: string, path: string, body: Uint8Array, count: number, from: string, answered: string[], name: string): Promise<Answer[]> {
  return Promise.all(Array.from({ length: count }, () => send(url, path, { ...png(body), from }).then((answer) => (answered.push(name), answer))));
}

describe('pictures', () => {
  it('refuses decompression bombs from their header with 413, while normal requests are answered', async () => {
    const url = await start();
    const answered: string[] = [];
    const bombs = Promise.all([
      burst(url, '/api/predict', bomb, 6, '127.0.0.2', answered, 'bomb'),
      burst(url, '/api/read', bomb, 2, '127.0.0.2', answered, 'bomb'),
    ]);
    const normal = [
      await send(url, '/api/predict', { body: pixels, from: '127.0.0.3' }),
      await send(url, '/api/predict', { ...png(digitPng), from: '127.0.0.3' }),
      await send(url, '/api/read', { ...png(digitPng), from: '127.0.0.3' }),
    ];
    for (const answer of normal) assert.equal(answer.status, 200, JSON.stringify(answer.body));
    for (const answer of (await bombs).flat()) {
      assert.equal(answer.status, 413);
      assert.equal(answer.body.statusCode, 413);
      assert.match(answer.body.message ?? '', /^the request body: the picture declares 16000 × 16000 pixels \(256 megapixels\), more than the limit of 16 megapixels; scale it down/);
    }
    // the limit is the server's option
    const strict = await start({ maxPixels: 500 });
    const refused = await send(strict, '/api/predict', png(digitPng));
    assert.equal(refused.status, 413);
    assert.match(refused.body.message ?? '', /28 × 28 pixels \(784 pixels\), more than the limit of 500 pixels/);
  });

  it('decodes large pictures off the event loop: other clients are answered before the first large one', async () => {
    const url = await start();
    const answered: string[] = [];
    // large pictures from two clients, to both routes, all at once
    const heavy = Promise.all([
      burst(url, '/api/predict', large, 1, '127.0.0.2', answered, 'large'),
      burst(url, '/api/read', large, 1, '127.0.0.2', answered, 'large'),
      burst(url, '/api/predict', large, 1, '127.0.0.4', answered, 'large'),
    ]);
    // let the large pictures arrive first (on the old server this wait itself lasts until a decode ends)
    await new Promise((resolve) => setTimeout(resolve, 100));
    const others = [
      () => send(url, '/api/predict', { body: pixels, from: '127.0.0.3' }),
      () => send(url, '/api/predict', { ...png(digitPng), from: '127.0.0.3' }),
      () => send(url, '/api/read', { ...png(digitPng), from: '127.0.0.3' }),
      () => send(url, '/api/models', { from: '127.0.0.3' }),
    ];
    for (const [index, request] of others.entries()) {
      const answer = await request();
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      answered.push(`other ${index}`);
    }
    for (const answer of (await heavy).flat()) assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answered.slice(0, others.length), others.map((_, index) => `other ${index}`), `order of answers: ${answered.join(', ')}`);
  });

  it('bounds the queue (503 with Retry-After) and each client\'s share of it (429)', async () => {
    const url = await start({ pictures: { workers: 1, queue: 1, perClient: 8 } });
    // one picture decoding, one waiting, and the rest refused at once
    const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => send(url, '/api/predict', { ...png(medium), from: `127.0.1.${i + 1}` })));
    const statuses = answers.map((answer) => answer.status).sort();
    assert.deepEqual(statuses, [200, 200, 503, 503], JSON.stringify(answers.map((a) => a.body)));
    for (const answer of answers.filter((a) => a.status === 503)) {
      assert.equal(answer.headers['retry-after'], '1');
      assert.match(answer.body.message ?? '', /^the server is busy decoding pictures \(1 running, 1 waiting, the most it queues\): try again in a moment$/);
    }
    // small PNGs skip the queue; and once the queue is free it takes pictures again
    assert.equal((await send(url, '/api/predict', png(digitPng))).status, 200);
    assert.equal((await send(url, '/api/predict', png(medium))).status, 200);

    const fair = await start({ pictures: { workers: 2, queue: 4, perClient: 1 } });
    const [first, second, other] = await Promise.all([
      send(fair, '/api/predict', { ...png(medium), from: '127.0.0.2' }),
      send(fair, '/api/predict', { ...png(medium), from: '127.0.0.2' }),
      send(fair, '/api/predict', { ...png(medium), from: '127.0.0.3' }),
    ]);
    assert.deepEqual([first.status, second.status].sort(), [200, 429]);
    const refused = first.status === 429 ? first : second;
    assert.match(refused.body.message ?? '', /^127\.0\.0\.2 already has 1 picture being decoded, the most one client may have at once/);
    assert.equal(other.status, 200);
  });

  it('stops a picture that takes longer than the time limit and replaces its worker', async () => {
    const url = await start({ pictures: { workers: 1, timeoutSeconds: 0.05 } });
    for (let i = 0; i < 2; i++) {
      const answer = await send(url, '/api/predict', png(large));
      assert.equal(answer.status, 422);
      assert.match(answer.body.message ?? '', /^the picture took longer than 0\.05 s to decode, the most one may take/);
    }
    const jpeg = await send(url, '/api/predict', { body: Buffer.from([0xff, 0xd8, 0xff, 0xd9]), type: 'image/jpeg' });
    assert.equal(jpeg.status, 400, 'a fresh worker answers');
    assert.match(jpeg.body.message ?? '', /^the request body: the JPEG data could not be decoded/);
  });
});
