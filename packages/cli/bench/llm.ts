// `node dist/bench/llm.js [options]`: the same as `hearth bench` (see src/bench.ts).
import { runBench } from "../src/bench.js";

process.exitCode = await runBench(process.argv.slice(2));
