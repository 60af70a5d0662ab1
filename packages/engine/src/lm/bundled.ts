// The demo model that ships inside this package (models/hearth-tiny: a tiny Gemma 3 that Hearth trained itself,
// see docs/DEMO_MODEL.md). It is the model wherever none is configured, so a fresh install works offline.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The bundled model's name, accepted wherever a model path is (lm.load("hearth-tiny")). */
export const BUNDLED_MODEL_NAME = "hearth-tiny";

/** The bundled model's folder: `<package>/models/hearth-tiny` (this file is `<package>/dist/src/lm/bundled.js`). */
export function bundledModelPath(): string {
  const path = fileURLToPath(new URL("../../../models/hearth-tiny", import.meta.url));
  if (!existsSync(path)) throw new Error(`[load] the bundled model is missing from this installation (looked in ${path})`);
  return path;
}
