// `.env` support for `npm start` and `npm run dev`: Node's own loader, no dependency; the environment wins over the file.
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'

/** Read `.env` from the working directory into process.env when it exists; returns its path, or null. */
export function loadEnvFile (path = '.env'): string | null {
  const file = resolve(path)
  if (!existsSync(file)) return null
  // Variables already set in the environment are kept: the file only fills in the rest.
  process.loadEnvFile(file)
  return file
}
