import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchDataset, type FetchProgress } from '../../src/data/fetch.js';
import { ChecksumError, DownloadError } from '../../src/data/errors.js';

// Served as mnist.pkl.gz, so it starts as gzip does (the download refuses a .gz that does not).
const CONTENT = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i === 0 ? 0x1f : i === 1 ? 0x8b : (i * 7919) % 251)));
const MD5 = createHash('md5').update(CONTENT).digest('hex');

let server: Server;
let base = '';
const hits = new Map<string, number>();

before(async () => {
  server = createServer((request, response) => {
    const path = request.url ?? '/';
    const count = (hits.get(path) ?? 0) + 1;
    hits.set(path, count);
    if (path === '/mnist.pkl.gz') {
      response.writeHead(200, { 'content-length': CONTENT.length });
      response.end(CONTENT);
    } else if (path === '/redirect') {
      response.writeHead(302, { location: '/mnist.pkl.gz' });
      response.end();
    } else if (path.startsWith('/flaky')) {
      if (count === 1) {
        response.writeHead(500);
        response.end('busy');
      } else {
        response.writeHead(200, { 'content-length': CONTENT.length });
        response.end(CONTENT);
      }
    } else if (path === '/page.pkl.gz' || path === '/sniffed.pkl.gz') {
      // An error page or a "download" page in place of the file: declared as HTML, or not.
      const page = Buffer.from('\n<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>…</body></html>\n');
      response.writeHead(200, { 'content-type': path === '/page.pkl.gz' ? 'text/html; charset=utf-8' : 'application/octet-stream', 'content-length': page.length });
      response.end(page);
    } else if (path === '/plain.gz') {
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      response.end(Buffer.from('PK\x03\x04 a zip file, not gzip'));
    } else if (path === '/truncated') {
      response.writeHead(200, { 'content-length': CONTENT.length });
      // the client runs in this process: give it time to read the first bytes before the cut, even on a busy machine
      response.write(CONTENT.subarray(0, 1000), () => setTimeout(() => response.socket?.destroy(), 200));
    } else {
      response.writeHead(404);
      response.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.close();
});

function withDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'digitlab-fetch-'));
  return body(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('downloads, reports progress, verifies MD5, then skips a valid copy', () =>
  withDir(async (dir) => {
    const progress: FetchProgress[] = [];
    const target = join(dir, 'mnist');
    const result = await fetchDataset({ url: `${base}/mnist.pkl.gz`, dir: target, md5: MD5, onProgress: (p) => progress.push(p) });
    assert.equal(result.path, join(target, 'mnist.pkl.gz'));
    assert.equal(result.downloaded, true);
    assert.equal(result.md5, MD5);
    assert.ok(readFileSync(result.path).equals(CONTENT));
    assert.deepEqual(progress.at(-1), { bytes: CONTENT.length, total: CONTENT.length });
    assert.deepEqual(readdirSync(target), ['mnist.pkl.gz'], 'no temporary file left');
    const before = hits.get('/mnist.pkl.gz');
    const again = await fetchDataset({ url: `${base}/mnist.pkl.gz`, dir: target, md5: MD5 });
    assert.equal(again.downloaded, false);
    assert.equal(hits.get('/mnist.pkl.gz'), before, 'no second request');
  }));

test('a present file with the wrong MD5 is downloaded again', () =>
  withDir(async (dir) => {
    writeFileSync(join(dir, 'mnist.pkl.gz'), 'stale');
    const result = await fetchDataset({ url: `${base}/mnist.pkl.gz`, dir, md5: MD5 });
    assert.equal(result.downloaded, true);
    assert.ok(readFileSync(result.path).equals(CONTENT));
  }));

test('follows redirects; fileName overrides the name', () =>
  withDir(async (dir) => {
    const result = await fetchDataset({ url: `${base}/redirect`, dir, fileName: 'copy.pkl.gz' });
    assert.equal(result.path, join(dir, 'copy.pkl.gz'));
    assert.ok(readFileSync(result.path).equals(CONTENT));
  }));

test('retries after a 500 and succeeds', () =>
  withDir(async (dir) => {
    const result = await fetchDataset({ url: `${base}/flaky-1`, dir, retries: 2, backoffMs: 1 });
    assert.equal(result.downloaded, true);
    assert.equal(hits.get('/flaky-1'), 2);
  }));

test('a 404 fails at once with a DownloadError and leaves nothing behind', () =>
  withDir(async (dir) => {
    await assert.rejects(
      fetchDataset({ url: `${base}/missing.pkl.gz`, dir, retries: 3, backoffMs: 1 }),
      (e: Error) => e instanceof DownloadError && e.status === 404 && /404/.test(e.message) && /--url/.test(e.message),
    );
    assert.equal(hits.get('/missing.pkl.gz'), 1, 'no retry on 404');
    assert.deepEqual(readdirSync(dir), []);
  }));

test('a connection cut mid-way says how far it got, and that running again retries, without a partial file', () =>
  withDir(async (dir) => {
    await assert.rejects(fetchDataset({ url: `${base}/truncated`, dir, retries: 1, backoffMs: 1 }), (e: Error) => {
      assert.ok(e instanceof DownloadError, String(e));
      assert.match(e.message, /^the connection to 127\.0\.0\.1:\d+ was cut after 1,000 of 200,000 bytes/);
      assert.match(e.message, /gave up after 2 attempts/);
      assert.match(e.message, /run the same command again to retry/);
      assert.doesNotMatch(e.message, /could not reach/);
      assert.doesNotMatch(e.message, /\.part/);
      return true;
    });
    assert.equal(hits.get('/truncated'), 2);
    assert.deepEqual(readdirSync(dir), []);
  }));

test('an HTML page in place of a .gz file is refused as such, whatever its declared type, and not retried', () =>
  withDir(async (dir) => {
    for (const name of ['page.pkl.gz', 'sniffed.pkl.gz']) {
      await assert.rejects(fetchDataset({ url: `${base}/${name}`, dir, retries: 2, backoffMs: 1 }), (e: Error) => {
        assert.ok(e instanceof DownloadError, String(e));
        assert.match(e.message, /sent an HTML page, not gzip/);
        assert.match(e.message, /--url/);
        return true;
      });
      assert.equal(hits.get(`/${name}`), 1, 'no retry');
    }
    await assert.rejects(fetchDataset({ url: `${base}/plain.gz`, dir, retries: 0 }), /not gzip: it starts with the bytes 50 4b 03 04/);
    assert.deepEqual(readdirSync(dir), []);
  }));

test('the content check is told the final name, for its messages: the temporary file is gone by then', () =>
  withDir(async (dir) => {
    const seen: string[][] = [];
    await assert.rejects(
      fetchDataset({
        url: `${base}/mnist.pkl.gz`,
        dir,
        verify: (temporary, target) => {
          seen.push([temporary, target]);
          throw new Error(`${target}: not the expected content`);
        },
      }),
      /mnist\.pkl\.gz: not the expected content/,
    );
    assert.equal(seen.length, 1);
    assert.equal(seen[0][1], join(dir, 'mnist.pkl.gz'));
    assert.notEqual(seen[0][0], seen[0][1]);
    assert.deepEqual(readdirSync(dir), []);
  }));

test('a failed first download removes the folders it created, and only those', () =>
  withDir(async (dir) => {
    await assert.rejects(fetchDataset({ url: `${base}/missing.pkl.gz`, dir: join(dir, 'data', 'mnist'), retries: 0 }), DownloadError);
    assert.deepEqual(readdirSync(dir), [], 'data/mnist is not left behind');
    mkdirSync(join(dir, 'kept'));
    await assert.rejects(fetchDataset({ url: `${base}/truncated`, dir: join(dir, 'kept', 'mnist'), retries: 0 }), DownloadError);
    assert.deepEqual(readdirSync(dir), ['kept']);
    assert.deepEqual(readdirSync(join(dir, 'kept')), []);
    // a folder that held something before is never removed
    writeFileSync(join(dir, 'kept', 'notes.txt'), 'mine');
    await assert.rejects(fetchDataset({ url: `${base}/missing.pkl.gz`, dir: join(dir, 'kept'), retries: 0 }), DownloadError);
    assert.deepEqual(readdirSync(join(dir, 'kept')), ['notes.txt']);
  }));

test('a checksum mismatch is a ChecksumError and the file is not kept', () =>
  withDir(async (dir) => {
    await assert.rejects(
      fetchDataset({ url: `${base}/mnist.pkl.gz`, dir, md5: '0'.repeat(32), retries: 0 }),
      (e: Error) => e instanceof ChecksumError && e.message.includes(MD5),
    );
    assert.equal(existsSync(join(dir, 'mnist.pkl.gz')), false);
    assert.deepEqual(readdirSync(dir), []);
  }));

test('an unreachable host gives an actionable message', () =>
  withDir(async (dir) => {
    // a port that was just free: nothing listens there, so the connection is refused
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    await assert.rejects(
      fetchDataset({ url: `http://127.0.0.1:${port}/mnist.pkl.gz`, dir, retries: 1, backoffMs: 1 }),
      (e: Error) =>
        e instanceof DownloadError && e.message.includes(`could not reach 127.0.0.1:${port}: ECONNREFUSED`) && /--data mnist/.test(e.message),
    );
    assert.deepEqual(readdirSync(dir), []);
  }));
