// `lm`: the LLM layer (mlx-lm's API in TypeScript).
export { load, loadTokenizer, loadWeightsFrom, hasTokenizer } from "./load.js";
export type { LoadOptions, Loaded } from "./load.js";
export { Tokenizer } from "./tokenizer.js";
export { KVCache, RotatingKVCache } from "./cache.js";
export type { Cache } from "./cache.js";
export type { LanguageModel, ForwardOptions } from "./model.js";
export { resolveModelPath, hubCacheDir, ModelNotFoundError } from "./hub.js";
export { createModel, supportedModelTypes } from "./models/index.js";
// Vision (Gemma 3 multimodal) and embeddings (EmbeddingGemma).
export { preprocessImage, preprocessImageWithCrops, decodeImage, resizeBilinearRgb, panAndScanCrops, imageProcessorConfig, ImageError, DEFAULT_MAX_PIXELS } from "./image.js";
export type { ImageInput, PreprocessOptions, PanAndScanOptions, PreprocessedImage, RgbImage, ImageProcessorSettings } from "./image.js";
export { Gemma3Processor, loadProcessor } from "./processor.js";
export type { ProcessorOptions, ProcessedInputs } from "./processor.js";
export { describeImage } from "./describe.js";
export type { DescribeImageOptions, DescribeImageResult, VisionLanguageModel } from "./describe.js";
export { loadEmbedder, EmbeddingGemma, EMBEDDING_GEMMA_PROMPTS, parsePoolingConfig } from "./models/embedding-gemma.js";
export type { EmbedOptions, EmbedTokensResult, LoadEmbedderOptions, PoolingConfig } from "./models/embedding-gemma.js";
