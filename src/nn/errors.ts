/**
 * What the networks throw. Every message names the thing that is wrong and what to do about it; the
 * classes let callers (the command line, the server) tell them apart without matching strings.
 */

/** A batch or an array that does not fit the network's input or output shape. */
export class InputShapeError extends RangeError {
  override readonly name = 'InputShapeError';
}

/** Tensors that do not fit the network they are loaded into (missing, misnamed or misshapen). */
export class TensorMismatchError extends Error {
  override readonly name = 'TensorMismatchError';
  constructor(readonly tensor: string, problem: string) {
    super(`tensor '${tensor}' ${problem}`);
  }
}

/** A backward with no forward pass to go back through (or after `reserve` replaced the buffers). */
export class NoForwardPassError extends Error {
  override readonly name = 'NoForwardPassError';
  constructor(what: string) {
    super(`${what}: there is no forward pass to go back through; run forward with the same batch first`);
  }
}

/** A batch norm trained on a batch with a single value per channel (its variance is undefined). */
export class BatchnormBatchError extends RangeError {
  override readonly name = 'BatchnormBatchError';
  constructor(readonly index: number, readonly values: number) {
    super(
      `batch norm layers.${index} got ${values} value per channel while training, and needs at least 2 ` +
      'to estimate a variance: use a larger batch size, or a batch size that does not leave a last batch of one image',
    );
  }
}
