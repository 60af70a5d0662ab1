// `lm`: the LLM layer (mlx-lm's API in TypeScript).
export { load, loadTokenizer, loadWeightsFrom, hasTokenizer } from "./load.js";
export type { LoadOptions, Loaded } from "./load.js";
export { Tokenizer } from "./tokenizer.js";
export { ChatTemplateError, ChatTemplateSyntaxError, ChatTemplateRenderError, ChatTemplateTimeoutError } from "./chat-template.js";
export type { ChatMessage, ApplyChatTemplateOptions } from "./tokenizer.js";
export { KVCache, RotatingKVCache, QuantizedKVCache, cacheFromKind } from "./cache.js";
export type { Cache, CacheSnapshot, KVCodec, QuantizeOptions } from "./cache.js";
export type { LanguageModel, ForwardOptions } from "./model.js";
export { resolveModelPath, hubCacheDir, ModelNotFoundError } from "./hub.js";
export { BUNDLED_MODEL_NAME, bundledModelPath } from "./bundled.js";
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
// Fine-tuning (mlx-lm's tuner): adapter layers, data, the training loop, adapter files and fusing.
export { LoRALinear, isQuantizedLinear, withDropoutKey } from "./tuner/lora.js";
export type { LoraLayerOptions, LinearLike } from "./tuner/lora.js";
export { DoRALinear } from "./tuner/dora.js";
export {
  linearToLoraLayers, prepareForTraining, adapterLayers, buildSchedule, countParameters, defaultLoraKeys,
  DEFAULT_LORA_PARAMETERS,
} from "./tuner/utils.js";
export type { LoraParameters, FineTuneType, ScheduleConfig } from "./tuner/utils.js";
export { checkpointedValueAndGrad } from "./tuner/checkpoint.js";
export {
  loadDataset, loadJsonlDataset, createDataset, parseJsonl, DatasetError,
} from "./tuner/datasets.js";
export type { TokenizedDataset, Example, DatasetOptions, DataFormat } from "./tuner/datasets.js";
export {
  train, evaluate, iterateBatches, makeBatch, defaultLoss, makeOptimizer, compiledValueAndGrad, TRAIN_DEFAULTS,
} from "./tuner/trainer.js";
export type { TrainArgs, TrainOptions, TrainReport, TrainResult, Batch } from "./tuner/trainer.js";
export {
  loadAdapters, loadAdapterWeights, exportPeftAdapter, fuse, saveAdapterWeights, writeAdapterConfig, detectAdapterFormat,
  hasAdapters,
} from "./adapters.js";
export { makeSampler, makeLogitsProcessors, applyTopK, applyTopP, applyMinP } from "./sample.js";
export type { Sampler, LogitsProcessor, SamplerOptions, LogitsProcessorOptions } from "./sample.js";
export {
  PromptCache, makePromptCache, savePromptCache, loadPromptCache, trimPromptCache, canTrimPromptCache,
} from "./prompt-cache.js";
export type { MakePromptCacheOptions } from "./prompt-cache.js";
export { generate, streamGenerate, generateStep, promptTokens, TextAssembler } from "./generate.js";
export type { GenerateOptions, GenerationResponse, StepOptions, StepToken, StepInfo, FinishReason } from "./generate.js";
export { batchGenerate } from "./batch.js";
export { DecodeLoop, KeyChain, BusyError } from "./decode-loop.js";
export type { DecodeLoopOptions, RowOptions, RowEvent, TokenConstraint } from "./decode-loop.js";
export type { DecodeStep, DecodeStepOptions } from "./models/gemma3-text.js";
export type { BatchGenerateOptions, BatchPrompt } from "./batch.js";
export { convert, mixedQuantPredicate, quantizeLoadedModel, QUANT_RECIPES } from "./convert.js";
export type { ConvertOptions, ConvertResult, QuantRecipe } from "./convert.js";
export { readQuantization, applyQuantization } from "./quantization.js";
// Used by the `hearth` CLI (@hearth/cli): configs as JSON, conversion dtypes, saving a model folder, GGUF export,
// and random-weight checkpoints for benchmarks.
export type { Json } from "./config.js";
export { gemma3TextConfig, isGemma3Multimodal } from "./config.js";
export { CONVERSION_DTYPES } from "./convert.js";
export { saveModelFolder } from "./save-model.js";
export { GgmlType, readGguf } from "./gguf.js";
export type { GgufFile } from "./gguf.js";
export { convertGemma3ToGguf } from "./gguf-gemma3.js";
export { gemma3WeightShapes, writeRandomSafetensors } from "./random-weights.js";
export { assertNotOverwritingInput, pathsOverlap, realpathDeep } from "./paths.js";
export { ConfigError, validateConfig } from "./config-schema.js";
export { sideFiles } from "./save-model.js";
