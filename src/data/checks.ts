/**
 * Checks of a set's labels that point at a probable mistake without proving one, so they warn rather
 * than refuse. A class between 0 and the largest label that no training image has is the mark of a
 * corrupt label byte: one 12 in a 10-class set makes a 13-class network whose outputs 10 and 11
 * nothing ever trains.
 */
import type { DatasetSplits } from './dataset.js';

export type SplitName = 'train' | 'validation' | 'test';

/** Where a label is used: on how many images of all three splits, and the first of them. */
export interface LabelUse {
  readonly label: number;
  readonly count: number;
  readonly first: { readonly split: SplitName; readonly index: number };
}

export interface DataWarning {
  /** Classes (0 to the largest label) that no training image has. */
  readonly emptyClasses: readonly number[];
  /** The labels from the first empty class up, as used in any split: the likely culprits. */
  readonly labels: readonly LabelUse[];
  /** The warning for a person: the classes, each label with its count and first image, what to do. */
  readonly message: string;
}

/** Labels named one by one in a message; the rest are counted. */
const LABELS_SHOWN = 3;

/** Warnings about the labels of `splits` (empty when nothing looks wrong). */
export function dataWarnings(splits: DatasetSplits): DataWarning[] {
  const classes = splits.train.classes;
  const trainCounts = new Array<number>(classes).fill(0);
  for (const label of splits.train.labels) trainCounts[label]++;
  const emptyClasses = trainCounts.flatMap((count, label) => (count === 0 ? [label] : []));
  if (emptyClasses.length === 0) return [];

  const uses = new Map<number, { count: number; first: LabelUse['first'] }>();
  for (const split of ['train', 'validation', 'test'] as const) {
    splits[split].labels.forEach((label, index) => {
      if (label < emptyClasses[0]) return;
      const use = uses.get(label);
      if (use) use.count++;
      else uses.set(label, { count: 1, first: { split, index } });
    });
  }
  const labels = [...uses].sort(([a], [b]) => a - b).map(([label, use]): LabelUse => ({ label, ...use }));
  return [{ emptyClasses, labels, message: emptyClassesMessage(emptyClasses, labels, classes, splits.train.classNames) }];
}

function emptyClassesMessage(empty: readonly number[], labels: readonly LabelUse[], classes: number, names?: readonly string[]): string {
  const name = (label: number) => (names?.[label] === undefined ? String(label) : `${label} (${names[label]})`);
  const subject = empty.length === 1 ? `class ${name(empty[0])} has` : `classes ${listClasses(empty, name)} have`;
  const told = labels.slice(0, LABELS_SHOWN).map((use) => {
    const images = use.count === 1 ? '1 image' : `${use.count} images`;
    return `label ${name(use.label)} is on ${images}, the first ${use.first.split}[${use.first.index}]`;
  });
  if (labels.length > LABELS_SHOWN) told.push(`${labels.length - LABELS_SHOWN} more labels`);
  const look = labels[0]?.first;
  return (
    `${subject} no training images, though the labels go up to ${classes - 1}: ${told.join('; ')}. ` +
    `The network gets ${classes} outputs, ${empty.length} of them never trained. A corrupt label byte does this: ` +
    (look ? `look at that image (\`digitlab data show --split ${look.split} --index ${look.index}\`) and ` : '') +
    `fix the labels file, or go on if the empty ${empty.length === 1 ? 'class is' : 'classes are'} meant`
  );
}

/** "3", "3 and 4", "3, 4 and 7", or with a run: "10–199 and 250". */
function listClasses(classes: readonly number[], name: (label: number) => string): string {
  const parts: string[] = [];
  for (let i = 0; i < classes.length; ) {
    let j = i;
    while (j + 1 < classes.length && classes[j + 1] === classes[j] + 1) j++;
    if (j - i >= 2) parts.push(`${name(classes[i])}–${name(classes[j])}`);
    else for (let k = i; k <= j; k++) parts.push(name(classes[k]));
    i = j + 1;
  }
  return parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}
