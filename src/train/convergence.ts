/**
 * When has the loss converged? A measured definition, so runs can be compared:
 *
 * An epoch counts as an improvement when its validation loss is below the best so far by more than
 * `tolerance` (relative): loss < best · (1 − tolerance). The loss has converged at epoch E when E was
 * an improvement and the `patience` epochs after it were not. The time to converge is the training
 * time up to the end of epoch E. A run that never has `patience` quiet epochs has not converged.
 */
export interface ConvergenceOptions {
  /** Relative improvement that counts (default 0.01: 1%). */
  tolerance: number;
  /** Epochs without such an improvement that make convergence (default 2). */
  patience: number;
}

export const DEFAULT_CONVERGENCE: ConvergenceOptions = { tolerance: 0.01, patience: 2 };

export interface ConvergenceState {
  best: number;
  lastImprovementEpoch: number;
  lastImprovementSeconds: number;
  quietEpochs: number;
  convergedEpoch: number | null;
  secondsToConverge: number | null;
}

export class ConvergenceTracker {
  state: ConvergenceState = {
    best: Infinity,
    lastImprovementEpoch: 0,
    lastImprovementSeconds: 0,
    quietEpochs: 0,
    convergedEpoch: null,
    secondsToConverge: null,
  };

  constructor(readonly options: ConvergenceOptions = DEFAULT_CONVERGENCE) {}

  /** Records an epoch (1-based) with its validation loss and the cumulative training seconds. */
  update(epoch: number, validationLoss: number, seconds: number): void {
    const s = this.state;
    if (validationLoss < s.best * (1 - this.options.tolerance) || s.best === Infinity) {
      s.lastImprovementEpoch = epoch;
      s.lastImprovementSeconds = seconds;
      s.quietEpochs = 0;
    } else {
      s.quietEpochs++;
    }
    if (validationLoss < s.best) s.best = validationLoss;
    if (s.convergedEpoch === null && s.quietEpochs >= this.options.patience) {
      s.convergedEpoch = s.lastImprovementEpoch;
      s.secondsToConverge = s.lastImprovementSeconds;
    }
  }
}
