// `lm`: the LLM layer (mlx-lm's API in TypeScript).
export { load, loadTokenizer, loadWeightsFrom, hasTokenizer } from "./load.js";
export type { LoadOptions, Loaded } from "./load.js";
export { Tokenizer } from "./tokenizer.js";
export { KVCache, RotatingKVCache } from "./cache.js";
export type { Cache } from "./cache.js";
export type { LanguageModel, ForwardOptions } from "./model.js";
export { resolveModelPath, hubCacheDir, ModelNotFoundError } from "./hub.js";
export { createModel, supportedModelTypes } from "./models/index.js";
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
