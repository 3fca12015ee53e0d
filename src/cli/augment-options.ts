/**
 * The command line's augmentation options (--augment and the ranges of its distortions), shared by
 * `train` and `data show`.
 */
import type { Command } from 'commander';
import { AugmentSpecError, DEFAULT_AFFINE, DEFAULT_ELASTIC, parseAugment, type AugmentSpec } from '../data/augment.js';
import { parseNumber, UsageError } from './output.js';

/** The range flags: their distortion, the spec's key, the option's name in commander's opts, and help. */
const RANGES = [
  ['affine', '--affine-rotate', 'rotate', 'affineRotate', `rotation drawn in ±degrees (default ${DEFAULT_AFFINE.rotate})`],
  ['affine', '--affine-scale', 'scale', 'affineScale', `scale factor drawn in [1 − s, 1 + s] (default ${DEFAULT_AFFINE.scale})`],
  ['affine', '--affine-shear', 'shear', 'affineShear', `shear drawn in ±degrees (default ${DEFAULT_AFFINE.shear})`],
  ['affine', '--affine-translate', 'translate', 'affineTranslate', `shift drawn in ±pixels on each axis (default ${DEFAULT_AFFINE.translate})`],
  ['elastic', '--elastic-alpha', 'alpha', 'elasticAlpha', `the displacement's scale α in pixels (default ${DEFAULT_ELASTIC.alpha})`],
  ['elastic', '--elastic-sigma', 'sigma', 'elasticSigma', `the smoothing Gaussian's width σ in pixels (default ${DEFAULT_ELASTIC.sigma})`],
] as const;

/** Adds --augment and the range flags to `command`; `use` says what the distortions are for. */
export function addAugmentOptions(command: Command, use: 'train' | 'show'): Command {
  command.option(
    '--augment <list>',
    use === 'train'
      ? 'distort the training images on the fly, new every epoch: affine, elastic or affine,elastic (default: none)'
      : 'show the images as a training run with this augmentation sees them: affine, elastic or affine,elastic',
  );
  for (const [part, flag, , , help] of RANGES) {
    command.option(`${flag} <value>`, `with --augment ${part}: ${help}`, parseNumber(flag, flag === '--elastic-sigma' ? 'positive' : 'non-negative'));
  }
  return command;
}

/** The augmentation the options ask for (undefined: none), or a UsageError naming the flag at fault. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function augmentFromOptions(opts: any): AugmentSpec | undefined {
  const parts = String(opts.augment ?? '').split(',').map((part) => part.trim());
  const ranges: Record<string, number> = {};
  for (const [part, flag, key, name] of RANGES) {
    const value = opts[name];
    if (value === undefined) continue;
    if (!parts.includes(part)) throw new UsageError(`${flag} is a range of the ${part} distortion: add --augment ${part} (or --augment affine,elastic)`);
    ranges[key] = value;
  }
  try {
    return parseAugment(opts.augment, '--augment', ranges);
  } catch (error) {
    if (!(error instanceof AugmentSpecError)) throw error;
    throw new UsageError(error.message.replace(/use "none", .*$/, 'use affine, elastic or affine,elastic'));
  }
}
