// @hearth/engine: the MLX-style array engine (mx, nn, optim) and the LLM layer (lm).
export * as mx from "./core/mx.js";
export { EngineError, UnsupportedModelError } from "./core/errors.js";
export type { MxArray } from "./core/array.js";
export * as nn from "./nn/index.js";
export * as optim from "./optim/index.js";
export * as lm from "./lm/index.js";
