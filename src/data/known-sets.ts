/**
 * What digitlab knows about published IDX sets beyond the format: the names of their classes, and
 * EMNIST's layout. The facts are the sets' own documentation's:
 * - Fashion-MNIST (Zalando) labels 0..9 are the ten article kinds below.
 * - EMNIST (Cohen et al. 2017) names its files `emnist-<set>-{train,test}-{images,labels}-idx?-ubyte`
 *   and stores every image transposed. Its letters set is labelled 1..26 for A..Z, each class holding
 *   both the capital and the small letter; label 0 is never used. The other EMNIST sets are labelled
 *   from 0.
 */
import { createHash } from 'node:crypto';

export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

/** EMNIST letters' classes once its labels 1..26 are moved down to 0..25. */
export const EMNIST_LETTERS_CLASSES: readonly string[] = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'];

/**
 * MD5 of the 60,000 labels of Fashion-MNIST's training file (the bytes after the IDX header): they
 * identify a copy of the set whatever its file names or compression.
 */
const FASHION_MNIST_TRAIN_LABELS_MD5 = '3236f6424fc25388b2834cb19942cf7e';

/** How a set's files are to be read. */
export interface IdxSetLayout {
  /** The set's name ('' for MNIST's own file names). */
  readonly name: string;
  /** Each image is stored transposed: its stored rows are the picture's columns. */
  readonly transposed: boolean;
  /** Subtracted from every label: 1 for EMNIST letters, whose labels start at 1. */
  readonly labelOffset: number;
  /** The classes' names, when the set has names other than their numbers. */
  readonly classNames?: readonly string[];
}

/** The layout of the set named `set` ('' for MNIST's own file names, else the prefix such as `emnist-letters`). */
export function idxSetLayout(set: string): IdxSetLayout {
  const name = set.toLowerCase();
  if (name === 'emnist-letters') return { name: set, transposed: true, labelOffset: 1, classNames: EMNIST_LETTERS_CLASSES };
  return { name: set, transposed: name.startsWith('emnist-'), labelOffset: 0 };
}

/** Fashion-MNIST's class names when `trainLabels` are those of Fashion-MNIST's training file. */
export function recognizeClassNames(trainLabels: Uint8Array): readonly string[] | undefined {
  if (trainLabels.length !== 60_000) return undefined;
  const md5 = createHash('md5').update(trainLabels).digest('hex');
  return md5 === FASHION_MNIST_TRAIN_LABELS_MD5 ? FASHION_MNIST_CLASSES : undefined;
}
