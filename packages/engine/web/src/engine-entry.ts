// The part of the engine the browser worker uses; imported only after the wasm module is up (see worker.ts).
export { load } from "../../src/lm/load.js";
export { streamGenerate, promptTokens } from "../../src/lm/generate.js";
export { backendInfo } from "./native-browser.js";
export { getPeakMemory } from "../../src/core/memory.js";
