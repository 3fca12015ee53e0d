/**
 * Successive halving, asynchronous (as in ASHA): rungs sit at growing epoch budgets, and a trial
 * reaching a rung continues only if its validation accuracy is among the best 1/reduction of the
 * values recorded at that rung by the trials numbered before it (itself included). Early trials have
 * little to compare with and usually continue; later ones are held to the bar the earlier ones set.
 * A trial's verdict waits for the earlier trials still training to reach the rung (see the runner),
 * so the verdicts are those of one worker taking the trials in order, however many share the study.
 * Every verdict is recorded with the metric, the bar and how many trials set it, so a pruned trial
 * says why.
 */
import type { RungDecision, RungRow } from './storage.js';

function percent(value: number): string {
  return `${(value * 100).toFixed(2)}%`;
}

export class RungBook {
  private readonly rows: RungRow[];

  constructor(
    readonly reduction: number,
    recorded: readonly RungRow[] = [],
  ) {
    this.rows = [...recorded];
  }

  /** The verdict for `trialId` reaching rung `rung` (0-based) after `epoch` with validation accuracy `metric`. */
  decide(trialId: number, rung: number, epoch: number, metric: number): RungDecision {
    const others = this.rows.filter((row) => row.rung === rung && row.trial_id !== trialId).map((row) => row.metric);
    const values = [...others, metric].sort((a, b) => b - a);
    const keep = Math.max(1, Math.floor(values.length / this.reduction));
    const threshold = values[keep - 1];
    const kept = metric >= threshold;
    const row: RungRow = { trial_id: trialId, rung, epoch, metric, threshold, competitors: values.length, kept };
    this.rows.splice(0, this.rows.length, ...this.rows.filter((r) => !(r.trial_id === trialId && r.rung === rung)), row);
    return { row, reason: kept ? null : RungBook.reason(row, this.reduction) };
  }

  static reason(row: RungRow, reduction: number): string {
    return (
      `rung ${row.rung + 1} (epoch ${row.epoch}): validation accuracy ${percent(row.metric)} is below ${percent(row.threshold)}, ` +
      `the bar for the best 1/${reduction} of the ${row.competitors} trials at this rung`
    );
  }

  /** The recorded pruning verdict of a trial, if any. */
  prunedAt(trialId: number): string | null {
    const row = this.rows.find((r) => r.trial_id === trialId && !r.kept);
    return row ? RungBook.reason(row, this.reduction) : null;
  }
}
