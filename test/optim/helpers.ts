/**
 * Shared by the optimizer tests: the kernel backends to run on, the torch.optim fixture, and the
 * comparison with its tolerance.
 */
import { readFileSync } from 'node:fs';
import { createKernels, type Kernels } from '../../src/core/index.js';
import {
  OPTIMIZER_OPTION_SPECS, type LooseOptimizerOptions, type OptimizerName, type OptionValue, type Param,
} from '../../src/optim/index.js';

export interface TorchCase {
  name: string;
  optimizer: OptimizerName;
  /** torch.optim keyword arguments (snake_case, betas as a list). */
  options: Record<string, number | boolean | number[]>;
  /** params[step][tensor] = the tensor's values after that step. */
  params: number[][][];
  /** When present, the lr set before each step (as a schedule would). */
  lr_per_step?: number[];
}

export interface TorchSchedule {
  spec: { kind: 'step' | 'exponential' | 'cosine'; step_size?: number; gamma?: number; t_max?: number; eta_min?: number };
  base_lr: number;
  lr_per_epoch: number[];
}

export interface TorchFixture {
  torch_version: string;
  torch_package: string | null;
  dtype: string;
  steps: number;
  param_names: string[];
  initial: number[][];
  /** gradients[step][tensor] */
  gradients: number[][][];
  cases: TorchCase[];
  schedules: TorchSchedule[];
}

export const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/optim/torch_optim.json', import.meta.url), 'utf8'),
) as TorchFixture;

/**
 * Every backend the optimizers must agree with torch on: the TypeScript reference, WebAssembly SIMD,
 * and WebAssembly relaxed SIMD (fused multiply-add rounds differently) where the runtime has it.
 */
export async function kernelBackends(): Promise<Kernels[]> {
  const backends = [
    await createKernels({ backend: 'reference' }),
    await createKernels({ backend: 'wasm', relaxed: false }),
    await createKernels({ backend: 'wasm', relaxed: true }),
  ];
  // Without relaxed SIMD the last one is the plain SIMD build again.
  return backends.filter((kernels, i) => backends.findIndex((other) => other.name === kernels.name) === i);
}

/** Our options for a fixture case: PyTorch's keywords mapped through the option specs' torchName. */
export function ourOptions(testCase: TorchCase): LooseOptimizerOptions {
  const options: Record<string, OptionValue> = {};
  const used = new Set<string>();
  for (const spec of OPTIMIZER_OPTION_SPECS[testCase.optimizer]) {
    const match = /^(\w+)\[(\d)\]$/.exec(spec.torchName);
    const key = match ? match[1] : spec.torchName;
    const given = testCase.options[key];
    if (given === undefined) continue;
    used.add(key);
    options[spec.name] = match ? (given as number[])[Number(match[2])] : given as OptionValue;
  }
  const unmapped = Object.keys(testCase.options).filter((key) => !used.has(key));
  if (unmapped.length > 0) throw new Error(`${testCase.name}: no option of ours for torch's ${unmapped.join(', ')}`);
  return options;
}

/** Fresh parameters at the fixture's initial values, allocated from `kernels`. */
export function makeParams(kernels: Kernels): Param[] {
  return fixture.param_names.map((name, i) => {
    const value = kernels.allocF32(fixture.initial[i].length);
    value.set(fixture.initial[i]);
    return { name, value, grad: kernels.allocF32(value.length) };
  });
}

export function setGradients(params: Param[], step: number): void {
  params.forEach((param, i) => param.grad.set(fixture.gradients[step][i]));
}

export const RELATIVE_TOLERANCE = 1e-5;
/** For values that pass near zero, where a relative bound means nothing. */
export const ABSOLUTE_FLOOR = 1e-7;

export interface Discrepancy {
  /** Largest |ours − torch| / |torch| over values with |torch| ≥ 1e-3. */
  maxRelative: number;
  maxAbsolute: number;
  /** The first value outside tolerance, described, or null. */
  failure: string | null;
}

export function compare(label: string, params: Param[], expected: number[][]): Discrepancy {
  let maxRelative = 0;
  let maxAbsolute = 0;
  let failure: string | null = null;
  params.forEach((param, t) => {
    for (let i = 0; i < param.value.length; i++) {
      const want = expected[t][i];
      const got = param.value[i];
      const difference = Math.abs(got - want);
      maxAbsolute = Math.max(maxAbsolute, difference);
      if (Math.abs(want) >= 1e-3) maxRelative = Math.max(maxRelative, difference / Math.abs(want));
      if (!(difference <= RELATIVE_TOLERANCE * Math.abs(want) + ABSOLUTE_FLOOR) && failure === null) {
        failure = `${label}: ${param.name}[${i}] is ${got}, torch has ${want}`;
      }
    }
  });
  return { maxRelative, maxAbsolute, failure };
}
