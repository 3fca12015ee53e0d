/**
 * Cross-origin isolation for the static site on a host that sends no headers: the page registers its
 * service worker (public/isolation-worker.js), which adds COOP and COEP to every response, and loads
 * itself once more under it. Served by `digitlab serve`, or by a host that sends the headers, the page
 * is isolated already and none of this runs.
 */
const RELOADED = 'digitlab-isolation-reload';

/** True when the page is about to reload itself isolated (the caller should do nothing more). */
export async function isolateThroughServiceWorker(): Promise<boolean> {
  if (globalThis.crossOriginIsolated || !('serviceWorker' in navigator)) return false;
  if (sessionStorage.getItem(RELOADED) !== null) {
    // reloaded once already and still not isolated: a worker of another site's making, or a refusing browser
    sessionStorage.removeItem(RELOADED);
    return false;
  }
  const registration = await navigator.serviceWorker.register('isolation-worker.js').catch(() => null);
  if (!registration) return false;
  await navigator.serviceWorker.ready;
  sessionStorage.setItem(RELOADED, '1');
  location.reload();
  return true;
}

/** Forgets the reload once the page is isolated, so a later visit may reload again if it must. */
export function isolationSettled(): void {
  if (globalThis.crossOriginIsolated) sessionStorage.removeItem(RELOADED);
}
