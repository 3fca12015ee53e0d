import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { digitlab, digitlabProcess } from '../cli/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-serve-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('digitlab serve', () => {
  it('serves, and on SIGTERM stops a running training at its last checkpoint and exits cleanly', async () => {
    const runs = join(dir, 'runs');
    const trained = digitlab(['train', '--hidden', '16', '--epochs', '1', '--out', join(runs, 'tiny')]);
    assert.equal(trained.status, 0, trained.stderr);
    const child = digitlabProcess(['serve', '--port', '0', '--runs', runs, '--studies', join(dir, 'studies')]);
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        const match = /serving (http:\/\/\S+)/.exec(stdout);
        if (match) resolve(match[1]);
      });
      child.on('exit', () => reject(new Error(`serve exited early: ${stderr}`)));
    });
    assert.match(stderr, /model: .*tiny \(the newest/);
    const started = await fetch(`${url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hidden: [16], epochs: 100, trainImages: 3000 }) });
    const { id, events } = (await started.json()) as { id: string; events: string };
    const reader = (await fetch(url + events)).body!.getReader();
    let text = '';
    while (!/event: epoch/.test(text)) {
      const chunk = await reader.read();
      if (chunk.done) assert.fail(`the event stream ended before the first epoch: ${text}`);
      text += new TextDecoder().decode(chunk.value);
    }
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(stderr, /SIGTERM: stopping running trainings/);
    assert.ok(existsSync(join(runs, id, 'checkpoint.safetensors')));
  });
});
