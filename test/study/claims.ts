/** The claiming rules every study storage keeps, checked the same way on SQLite and PostgreSQL. */
import assert from 'node:assert/strict';
import { expandTrials, type StudySpec } from '../../src/study/spec.js';
import { LeaseLostError, type StudyStorage, type TrialOutcome } from '../../src/study/storage.js';

const done: TrialOutcome = {
  status: 'done', params: 1, bytes: 4, bestEpoch: 1, testAccuracy: 0.5, testLoss: 1, convergedEpoch: null,
  secondsToConverge: null, seconds: 1, confusion: null, modelDir: null, prunedReason: null, error: null,
};
const epoch = (n: number) => ({ epoch: n, train_loss: 1, val_loss: 1, val_accuracy: 0.5, seconds: 1, lr: 0.001 });

/** `spec` has three trials; `store` is new. Owners are host:pid:tag/lane, as a runner names its lanes. */
export async function checkClaims(store: StudyStorage, spec: StudySpec, text: string): Promise<void> {
  assert.equal(await store.initialize(spec, text, expandTrials(spec), () => ({ settings: {}, layers: 'linear 10' })), true);
  assert.equal(await store.initialize(spec, text, expandTrials(spec), () => ({ settings: {}, layers: 'linear 10' })), false, 'recorded once');
  const alive = () => false;
  const [a1, a2] = ['host:1:a/1', 'host:1:a/2'];
  const a = await store.claimNext(a1, 60_000, alive);
  const b = await store.claimNext('host:2:b/1', 60_000, alive);
  // a lane that asks again (a claim retried after a lost connection) gets the trial it holds, not another
  const again = await store.claimNext(a1, 60_000, alive);
  const c = await store.claimNext(a2, 60_000, alive);
  assert.deepEqual([a?.number, b?.number, again?.number, c?.number], [1, 2, 1, 3]);
  assert.ok([a, b, c].every((t) => t?.status === 'running'));
  assert.equal(await store.claimNext('host:3:c/1', 60_000, alive), null, "every trial is someone's");
  assert.ok(await store.othersAtWork(['host:3:c/1']));
  assert.ok(!(await store.othersAtWork([a1, a2, 'host:2:b/1'])));
  // b's process died: its trial goes to the next who asks, and only to one
  const gone = (owner: string) => owner.startsWith('host:2:b');
  assert.equal((await store.claimNext('host:3:c/1', 60_000, gone))?.number, 2);
  assert.equal(await store.claimNext('host:4:d/1', 60_000, gone), null);
  // a went silent: once its leases run out its trials are free, unless it renews them in time
  await store.recordEpoch(a!.id, a1, epoch(1));
  assert.deepEqual((await store.renewLeases([a1, a2], -1)).sort(), [a!.id, c!.id].sort());
  assert.equal((await store.claimNext('host:4:d/1', 60_000, alive))?.number, 1);
  assert.deepEqual(await store.renewLeases([a1, a2], 60_000), [c!.id], 'too late for trial 1, which is d\'s now');
  assert.equal(await store.claimNext('host:5:e/1', 60_000, alive), null);
  // the silent owner can no longer write about the trial it lost; the new one can
  await assert.rejects(store.recordEpoch(a!.id, a1, epoch(2)), LeaseLostError);
  await assert.rejects(store.finish(a!.id, a1, done), LeaseLostError);
  await store.resumeEpochs(a!.id, 'host:4:d/1', [epoch(1)]);
  await store.recordEpoch(a!.id, 'host:4:d/1', epoch(2));
  assert.deepEqual((await store.epochs(a!.id)).map((e) => e.epoch), [1, 2]);
  // a finished trial is never claimed again; an interrupted one is free at once
  await store.finish(c!.id, a2, done);
  await store.markInterrupted(b!.id, 'host:3:c/1');
  assert.equal((await store.claimNext('host:5:e/1', 60_000, alive))?.number, 2);
  assert.equal(await store.claimNext('host:5:e/2', 60_000, alive), null);
  assert.deepEqual((await store.trials()).map((t) => t.status), ['running', 'running', 'done']);
  // a lane with nothing to claim waits while trials of others are left, and only then
  assert.ok(await store.othersLeft(['host:4:d/1']));
  assert.ok(!(await store.othersLeft(['host:4:d/1', 'host:5:e/1'])));
  // a run-out lease still leaves the trial to be finished (by whoever claims it first)
  await store.renewLeases(['host:4:d/1', 'host:5:e/1'], -1);
  assert.ok(!(await store.othersAtWork([])));
  assert.ok(await store.othersLeft([]));
}
