import { defineConfig } from 'vite';

/**
 * The browser app. `npm run build` writes it to dist/web, which `digitlab serve` serves. In
 * development (`npx vite web`) the API is proxied to a running `digitlab serve` on port 3000. Both
 * servers send COOP/COEP so the page is cross-origin isolated (the kernels' shared memory needs it).
 */
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  root: import.meta.dirname,
  // relative addresses, so the same build works at / (digitlab serve) and under any path of a static host
  base: './',
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    rollupOptions: {
      // The kernels' loader imports node:fs, node:v8 and node:worker_threads only dynamically, on Node:
      // their browser stubs are never reached, so the notice about them is noise.
      onLog(level, log, handler) {
        if (log.message.includes('externalized for browser compatibility')) return;
        handler(level, log);
      },
    },
  },
  // the training worker starts the kernel pool's workers in turn: module workers, as in the library
  worker: { format: 'es' },
  server: { headers: isolation, proxy: { '/api': 'http://127.0.0.1:3000' } },
  preview: { headers: isolation, proxy: { '/api': 'http://127.0.0.1:3000' } },
});
