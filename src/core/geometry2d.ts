/**
 * The sizes of a 2-D convolution or pooling over a batch in NCHW layout, checked once so that the
 * kernels can index without checking. Output sizes as PyTorch computes them (dilation 1, no ceil mode):
 *   OH = ⌊(H + 2·PH − KH) / SH⌋ + 1,  OW = ⌊(W + 2·PW − KW) / SW⌋ + 1
 */

/** The kernels run on float32 data; the tests also run the references in float64. */
export type FloatArray = Float32Array | Float64Array;

export interface Window2d {
  kernel: readonly [number, number];
  /** Default: 1 for convolution, the kernel for pooling. */
  stride?: readonly [number, number];
  /** Zeros added on each side; default 0. */
  padding?: readonly [number, number];
}

export interface Geometry2d {
  batch: number;
  channels: number;
  height: number;
  width: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  outHeight: number;
  outWidth: number;
}

export interface Conv2dGeometry extends Geometry2d {
  outChannels: number;
}

function checkInteger(value: number, min: number, what: string, kernel: string): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${kernel}: ${what} must be an integer ≥ ${min}, got ${value}`);
}

function geometry(
  kernel: string, input: { batch: number; channels: number; height: number; width: number }, window: Window2d, defaultStride: readonly [number, number],
): Geometry2d {
  const { batch, channels, height, width } = input;
  const [kernelH, kernelW] = window.kernel;
  const [strideH, strideW] = window.stride ?? defaultStride;
  const [padH, padW] = window.padding ?? [0, 0];
  checkInteger(batch, 1, 'the batch size', kernel);
  checkInteger(channels, 1, 'the channel count', kernel);
  checkInteger(height, 1, 'the height', kernel);
  checkInteger(width, 1, 'the width', kernel);
  checkInteger(kernelH, 1, 'the kernel height', kernel);
  checkInteger(kernelW, 1, 'the kernel width', kernel);
  checkInteger(strideH, 1, 'the vertical stride', kernel);
  checkInteger(strideW, 1, 'the horizontal stride', kernel);
  checkInteger(padH, 0, 'the vertical padding', kernel);
  checkInteger(padW, 0, 'the horizontal padding', kernel);
  if (kernelH > height + 2 * padH || kernelW > width + 2 * padW) {
    throw new RangeError(`${kernel}: the ${kernelH}x${kernelW} kernel does not fit the ${height}x${width} input padded by ${padH}x${padW}`);
  }
  return {
    batch, channels, height, width, kernelH, kernelW, strideH, strideW, padH, padW,
    outHeight: Math.floor((height + 2 * padH - kernelH) / strideH) + 1,
    outWidth: Math.floor((width + 2 * padW - kernelW) / strideW) + 1,
  };
}

/** A convolution of a [batch, channels, height, width] input into outChannels feature maps; stride 1 by default. */
export function conv2dGeometry(
  input: { batch: number; channels: number; height: number; width: number; outChannels: number }, window: Window2d,
): Conv2dGeometry {
  checkInteger(input.outChannels, 1, 'the output channel count', 'conv2d');
  return { ...geometry('conv2d', input, window, [1, 1]), outChannels: input.outChannels };
}

/**
 * A pooling window over a [batch, channels, height, width] input; the stride defaults to the kernel.
 * No padding (the layer specs have none), so an average is always over KH·KW values.
 */
export function pool2dGeometry(
  kernel: 'maxpool2d' | 'avgpool2d', input: { batch: number; channels: number; height: number; width: number },
  window: Omit<Window2d, 'padding'>,
): Geometry2d {
  return geometry(kernel, input, { kernel: window.kernel, stride: window.stride }, window.kernel);
}

/** Throws when an array handed to a kernel has fewer values than its shape needs: `{ name: [array, values] }`. */
export function checkArrays(kernel: string, arrays: Record<string, [{ length: number } | null, number]>): void {
  for (const [name, [array, values]] of Object.entries(arrays)) {
    if (array && array.length < values) throw new RangeError(`${kernel}: ${name} has ${array.length} values, the shape needs ${values}`);
  }
}
