/** The data layer's public surface: datasets from IDX, mnist.pkl.gz, the bundled MNIST, downloads and images. */
export * from './dataset.js';
export * from './errors.js';
export * from './idx.js';
export * from './mnist.js';
export * from './pickle.js';
export * from './pickle-writer.js';
export * from './fetch.js';
export * from './images.js';
export * from './source.js';
export * from './checks.js';
export * from './known-sets.js';
