// The bench page: runs one measurement (named by the address's query) in a worker and shows its JSON.
const params = new URLSearchParams(location.search);
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
worker.onmessage = (event: MessageEvent<{ status?: string; result?: unknown; error?: string }>) => {
  const { status, result, error } = event.data;
  if (status) (document.getElementById('status') as HTMLElement).textContent = status;
  if (result !== undefined || error !== undefined) (document.getElementById('result') as HTMLElement).textContent = JSON.stringify(error !== undefined ? { error } : result);
};
worker.onerror = (event) => ((document.getElementById('result') as HTMLElement).textContent = JSON.stringify({ error: event.message || 'the worker failed to load' }));
worker.postMessage(Object.fromEntries(params));
