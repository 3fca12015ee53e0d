#!/usr/bin/env node
// Relaxed SIMD (a real fused multiply-add in WebAssembly) is behind a flag on Node 20. The flag must be
// set before the first WebAssembly compile; it also applies to worker threads started afterwards.
import v8 from 'node:v8';
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
// A closed pipe (`digitlab … | head`) ends the output quietly, as for any Unix tool.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
const { main } = await import('../dist/src/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
