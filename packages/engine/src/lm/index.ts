// `lm`: the LLM layer (mlx-lm's API in TypeScript).
export { load, loadTokenizer, loadWeightsFrom, hasTokenizer } from "./load.js";
export type { LoadOptions, Loaded } from "./load.js";
export { Tokenizer } from "./tokenizer.js";
export type { ChatMessage, ApplyChatTemplateOptions } from "./tokenizer.js";
export { KVCache, RotatingKVCache, QuantizedKVCache, cacheFromKind } from "./cache.js";
export type { Cache, CacheSnapshot, KVCodec, QuantizeOptions } from "./cache.js";
export type { LanguageModel, ForwardOptions } from "./model.js";
export { resolveModelPath, hubCacheDir, ModelNotFoundError } from "./hub.js";
export { createModel, supportedModelTypes } from "./models/index.js";
export { makeSampler, makeLogitsProcessors, applyTopK, applyTopP, applyMinP } from "./sample.js";
export type { Sampler, LogitsProcessor, SamplerOptions, LogitsProcessorOptions } from "./sample.js";
export {
  PromptCache, makePromptCache, savePromptCache, loadPromptCache, trimPromptCache, canTrimPromptCache,
} from "./prompt-cache.js";
export type { MakePromptCacheOptions } from "./prompt-cache.js";
export { generate, streamGenerate, generateStep, promptTokens, TextAssembler } from "./generate.js";
export type { GenerateOptions, GenerationResponse, StepOptions, StepToken, StepInfo, FinishReason } from "./generate.js";
export { batchGenerate } from "./batch.js";
export type { BatchGenerateOptions, BatchPrompt } from "./batch.js";
