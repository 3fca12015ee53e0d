import cliProgress from 'cli-progress';
import type { TrainingRun } from '../train/trainer.js';
import type { Output } from './output.js';

/**
 * Shows a training run's progress on stderr: a bar per epoch with samples/s and ETA on a terminal,
 * one line per epoch otherwise (logs, CI).
 */
export function attachProgress(run: TrainingRun, out: Output): void {
  const tty = Boolean(process.stderr.isTTY);
  let bar: cliProgress.SingleBar | null = null;
  let epochStarted = 0;
  let lastUpdate = 0;
  run.on('resumed', ({ epoch, path }) => out.info(`resuming from ${path} after epoch ${epoch}`));
  run.on('epochStart', ({ epoch, epochs, samples }) => {
    epochStarted = performance.now();
    if (!tty) return;
    bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: `epoch ${epoch}/${epochs} [{bar}] {percentage}% | {value}/{total} samples | {speed} samples/s | loss {loss} | ETA {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(samples, 0, { speed: '-', loss: '-' });
  });
  run.on('batchEnd', ({ samples, loss, batch, batches }) => {
    if (!bar) return;
    const now = performance.now();
    if (now - lastUpdate < 100 && batch !== batches) return;
    lastUpdate = now;
    const speed = Math.round(samples / ((now - epochStarted) / 1000));
    bar.update(samples, { speed: speed.toLocaleString('en-US'), loss: loss.toFixed(4) });
  });
  run.on('epochEnd', (e) => {
    if (bar) {
      bar.stop();
      bar = null;
    }
    out.info(
      `epoch ${e.epoch}: train loss ${e.train_loss.toFixed(4)}, ` +
        (e.val_loss === null || e.val_accuracy === null
          ? 'no validation images'
          : `val loss ${e.val_loss.toFixed(4)}, val accuracy ${(e.val_accuracy * 100).toFixed(2)}%`) +
        `, ${e.seconds.toFixed(1)} s`,
    );
  });
}
