import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { assertCleanFailure, digitlab, digitlabProcess } from '../cli/helpers.js';
import { saveUntrainedModel, send } from './helpers.js';

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
    assert.match(stderr, /model: .*tiny \(the most accurate under .*, test accuracy \d+\.\d\d%/);
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

  it('on every interface, prints an access token that starting and stopping trainings need', async () => {
    const runs = join(dir, 'runs-open');
    await saveUntrainedModel(join(runs, 'tiny'));
    const child = digitlabProcess(['serve', '--host', '0.0.0.0', '--port', '0', '--runs', runs, '--studies', join(dir, 'studies')]);
    let stdout = '';
    const printed = await new Promise<RegExpExecArray>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        const match = /serving (http:\/\/\S+) .*\n  listening on 0\.0\.0\.0: .*\n.*access token generated for this run:\n  in a browser, open (\S+)\n  API clients send the header "Authorization: Bearer (\S+)"\n/.exec(stdout);
        if (match) resolve(match);
      });
      child.on('exit', () => reject(new Error(`serve exited early: ${stdout}`)));
    });
    const [, url, page, token] = printed;
    assert.equal(page, `${url}/?token=${token}`);
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    try {
      const refused = await send(url, '/api/runs', { body: JSON.stringify({ epochs: 1 }) });
      assert.equal(refused.status, 401);
      assert.match(refused.body.message ?? '', /needs the server's access token/);
      assert.equal((await send(url, '/api/runs/nope', { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })).status, 404);
      assert.equal((await send(url, '/api/predict', { body: JSON.stringify({ pixels: new Array(784).fill(0) }) })).status, 200);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('takes the token from DIGITLAB_TOKEN (not echoed) and refuses a weak one', async () => {
    const runs = join(dir, 'runs-token');
    await saveUntrainedModel(join(runs, 'tiny'));
    const token = 'a-token-of-my-own-choosing';
    const child = digitlabProcess(['serve', '--port', '0', '--runs', runs, '--studies', join(dir, 'studies')], undefined, { DIGITLAB_TOKEN: token });
    let stdout = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        const match = /serving (http:\/\/\S+)[^]*Authorization: Bearer TOKEN/.exec(stdout);
        if (match) resolve(match[1]);
      });
      child.on('exit', () => reject(new Error(`serve exited early: ${stdout}`)));
    });
    try {
      assert.ok(!stdout.includes(token), stdout);
      assert.match(stdout, /access token given with --token or DIGITLAB_TOKEN/);
      assert.equal((await send(url, '/api/runs/nope', { method: 'DELETE' })).status, 401);
      assert.equal((await send(url, '/api/runs/nope', { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })).status, 404);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(assertCleanFailure(digitlab(['serve', '--token', 'hunter2']), /--token: the access token is 7 characters long: use at least 16/), null);
  });
});
