// `node dist/bench/llm.js [options]`: the same as `hearth bench` (see src/cli/bench.ts).
import { runBench } from "../src/cli/bench.js";

process.exitCode = await runBench(process.argv.slice(2));
