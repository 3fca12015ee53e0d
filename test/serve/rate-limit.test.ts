import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeGrayscalePng } from '../../src/data/images.js';
import { clientKey, TokenBuckets } from '../../src/serve/rate-limit.js';
import { createServer, type DigitServer } from '../../src/serve/server.js';
import { saveUntrainedModel, send } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-rate-'));
const runsDir = join(dir, 'runs');
const servers: DigitServer[] = [];

before(() => saveUntrainedModel(join(runsDir, 'tiny')));
after(async () => {
  for (const server of servers) await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const pixels = JSON.stringify({ pixels: new Array(784).fill(0) });
const png = encodeGrayscalePng(new Uint8Array(28 * 28), 28, 28);

describe('token buckets', () => {
  it('let a burst through, then one request per refill, and say when the next token is there', () => {
    let now = 100;
    const buckets = new TokenBuckets({ perSecond: 2, burst: 3 }, () => now);
    for (let i = 0; i < 3; i++) assert.deepEqual(buckets.take('a'), { allowed: true });
    assert.deepEqual(buckets.take('a'), { allowed: false, retryAfter: 0.5 });
    assert.deepEqual(buckets.take('b'), { allowed: true }, 'clients have their own buckets');
    now += 0.25;
    const early = buckets.take('a');
    assert.ok(!early.allowed && Math.abs(early.retryAfter - 0.25) < 1e-9);
    now += 0.25;
    assert.deepEqual(buckets.take('a'), { allowed: true });
    now += 60; // a long pause fills the bucket up to the burst, no further
    for (let i = 0; i < 3; i++) assert.deepEqual(buckets.take('a'), { allowed: true });
    assert.equal(buckets.take('a').allowed, false);
  });

  it('forget the longest idle clients first beyond their limit', () => {
    let now = 0;
    const buckets = new TokenBuckets({ perSecond: 1, burst: 1 }, () => now, 3);
    for (const client of ['a', 'b', 'c']) buckets.take(client);
    now += 0.1;
    buckets.take('a'); // refused, and now the latest
    buckets.take('d'); // 'b' is forgotten
    assert.equal(buckets.size, 3);
    assert.equal(buckets.take('a').allowed, false, 'a is remembered');
    assert.equal(buckets.take('b').allowed, true, 'b starts afresh');
  });

  it('count IPv4 clients by address and IPv6 clients by their /64 network', () => {
    assert.equal(clientKey('203.0.113.7'), '203.0.113.7');
    assert.equal(clientKey('::ffff:203.0.113.7'), '203.0.113.7');
    assert.equal(clientKey('2001:db8:0:1:aaaa::1'), '2001:db8:0:1::/64');
    assert.equal(clientKey('2001:0db8:0000:0001:ffff:ffff:ffff:ffff'), '2001:db8:0:1::/64');
    assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(clientKey('::1'), '0:0:0:0::/64');
  });

  it('refuse impossible limits', () => {
    assert.throws(() => new TokenBuckets({ perSecond: 0, burst: 5 }), RangeError);
    assert.throws(() => new TokenBuckets({ perSecond: 1, burst: 0.5 }), RangeError);
  });
});

describe('rate-limited predictions', () => {
  it('answer 429 with Retry-After once a client has used its burst, while other clients and other routes go on', async () => {
    // one token every 10 s: the fourth request is refused however slowly this machine runs
    const server = await createServer({ runsDir, studiesDir: join(dir, 'studies'), rateLimit: { perSecond: 0.1, burst: 3 } });
    servers.push(server);
    const url = await server.listen(0);
    const from = '127.0.0.2';
    assert.equal((await send(url, '/api/predict', { body: pixels, from })).status, 200);
    assert.equal((await send(url, '/api/predict', { body: png, type: 'image/png', from })).status, 200);
    assert.equal((await send(url, '/api/read', { body: png, type: 'image/png', from })).status, 200);
    for (const path of ['/api/predict', '/api/read']) {
      const refused = await send(url, path, { body: png, type: 'image/png', from });
      assert.equal(refused.status, 429, path);
      assert.equal(refused.body.statusCode, 429);
      const retry = Number(refused.headers['retry-after']);
      assert.ok(retry >= 9 && retry <= 10, `Retry-After ${refused.headers['retry-after']}`);
      assert.match(refused.body.message ?? '', /^too many predictions from 127\.0\.0\.2: a client may make 0\.1 a second, in bursts of up to 3; try again in (9|10) s \(the server's --rate-limit and --rate-burst set the limit\)$/);
    }
    // refused before the body is read: even a body that would fail validation gets 429
    assert.equal((await send(url, '/api/predict', { body: '{}', from })).status, 429);
    // another client has its own bucket; reading routes are not limited
    assert.equal((await send(url, '/api/predict', { body: pixels, from: '127.0.0.3' })).status, 200);
    for (let i = 0; i < 5; i++) assert.equal((await send(url, '/api/models', { from })).status, 200);
  });

  it('can be turned off', async () => {
    const server = await createServer({ runsDir, studiesDir: join(dir, 'studies'), rateLimit: null });
    servers.push(server);
    const url = await server.listen(0);
    for (let i = 0; i < 50; i++) assert.equal((await send(url, '/api/predict', { body: pixels })).status, 200);
  });
});
