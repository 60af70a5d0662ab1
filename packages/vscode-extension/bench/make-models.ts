// Writes the random-weight Gemma 3 270M / 1B checkpoints of the engine's benchmark (exact published shapes) and
// their 4-bit (group 64) copies for the typing benchmark. Speed depends on shapes only; the text is noise.
//   node dist/bench/make-models.js [270m] [1b]   → prints the 4-bit folders
import { existsSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { lm } from "@hearth/engine";

const engine = realpathSync(fileURLToPath(new URL("../../node_modules/@hearth/engine", import.meta.url)));
const { ensureBenchModel } = (await import(pathToFileURL(join(engine, "dist", "src", "cli", "bench-models.js")).href)) as {
  ensureBenchModel: (dir: string, key: string, gguf: string[], log: (s: string) => void) => string;
};
const workDir = process.env.HEARTH_BENCH_DIR ?? join(homedir(), ".cache", "hearth-bench");
for (const key of process.argv.slice(2).length ? process.argv.slice(2) : ["270m"]) {
  const root = ensureBenchModel(workDir, key, [], (s) => console.error(s));
  const out = join(root, "mlx-q4-g64");
  if (!existsSync(join(out, "config.json"))) {
    console.error(`quantizing ${key} to 4-bit in ${out}`);
    await lm.convert({ hfPath: join(root, "hf"), mlxPath: out, quantize: true, qBits: 4, qGroupSize: 64, force: true });
  }
  console.log(out);
}
