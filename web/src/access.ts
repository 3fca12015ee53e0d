/**
 * The server's access token in the page. `digitlab serve` prints the page's address with the token
 * (`/?token=…`) when changes need one; the page keeps it in this origin's local storage, takes it out
 * of the address bar (so it is not bookmarked, shared or left in the history), and sends it with
 * every API request as `Authorization: Bearer …`.
 */
const STORAGE_KEY = 'digitlab-access-token';

/** The token when local storage is refused. */
let remembered: string | null = null;

/** Stores a token found in the address (?token=…) and removes it from the address. */
export function adoptAccessToken(): void {
  const params = new URLSearchParams(location.search);
  const token = params.get('token');
  if (token === null) return;
  try {
    localStorage.setItem(STORAGE_KEY, token);
  } catch {
    // storage refused (a private window's policy): the token lasts as long as this page
    remembered = token;
  }
  params.delete('token');
  const search = params.toString();
  history.replaceState(history.state, '', `${location.pathname}${search ? `?${search}` : ''}${location.hash}`);
}

/** The Authorization header for API requests, or none when the page has no token. */
export function accessHeaders(): Record<string, string> {
  let token = remembered;
  try {
    token ??= localStorage.getItem(STORAGE_KEY);
  } catch {
    // no storage: only a token remembered in memory
  }
  return token ? { authorization: `Bearer ${token}` } : {};
}
