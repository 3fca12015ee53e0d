/**
 * Opens a study's storage by its location: a folder is SQLite, a `postgres://` URL PostgreSQL (see
 * storage.ts for what both keep).
 */
import { PostgresStudyStorage, listPostgresStudies } from './storage-postgres.js';
import { SqliteStudyStorage } from './storage-sqlite.js';
import { isDatabaseUrl, redactUrl, StudyStorageError, type OpenOptions, type StudyStorage } from './storage.js';

/** Opens a study's storage: a folder (SQLite) or a `postgres://` URL. */
export async function openStudyStorage(location: string, options: OpenOptions = {}): Promise<StudyStorage> {
  if (isDatabaseUrl(location)) {
    if (options.study === undefined) throw new StudyStorageError(`${redactUrl(location)} may hold several studies: name one (--study NAME)`);
    return PostgresStudyStorage.open(location, options.study, options);
  }
  return SqliteStudyStorage.open(location, options);
}

/** The studies a location holds: a folder's one, or every study in a database. */
export async function listStudyNames(location: string): Promise<string[]> {
  if (isDatabaseUrl(location)) {
    return listPostgresStudies(location);
  }
  const storage = await openStudyStorage(location, { readonly: true });
  try {
    const study = await storage.study();
    return study ? [study.name] : [];
  } finally {
    await storage.close();
  }
}
