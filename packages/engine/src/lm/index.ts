// `lm`: the LLM layer (mlx-lm's API in TypeScript).
export { load, loadTokenizer, loadWeightsFrom, hasTokenizer } from "./load.js";
export type { LoadOptions, Loaded } from "./load.js";
export { Tokenizer } from "./tokenizer.js";
export { KVCache, RotatingKVCache } from "./cache.js";
export type { Cache } from "./cache.js";
export type { LanguageModel, ForwardOptions } from "./model.js";
export { resolveModelPath, hubCacheDir, ModelNotFoundError } from "./hub.js";
export { createModel, supportedModelTypes } from "./models/index.js";
export { convert, mixedQuantPredicate, QUANT_RECIPES } from "./convert.js";
export type { ConvertOptions, ConvertResult, QuantRecipe } from "./convert.js";
export { readQuantization, applyQuantization } from "./quantization.js";
