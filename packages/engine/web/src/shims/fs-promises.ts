// node:fs/promises for the browser bundle (see fs.ts).
import { readFileSync, statSync } from "./fs.js";

export async function readFile(path: string, enc?: string | { encoding?: string }) {
  return readFileSync(path, enc);
}
export async function stat(path: string) {
  return statSync(path);
}
export default { readFile, stat };
