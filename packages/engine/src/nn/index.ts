// nn: neural network layers, losses and initializers with MLX's mlx.nn semantics (camelCase names).
export { Module, isPlainObject } from "./module.js";
export type { ParamTree, FilterFn, IsLeafFn, UnaryModule } from "./module.js";
export { valueAndGrad } from "./value-and-grad.js";
export * from "./activations.js";
export { Identity, Linear } from "./layers/linear.js";
export { Embedding } from "./layers/embedding.js";
export { RMSNorm, LayerNorm, GroupNorm, rmsNorm, layerNorm } from "./layers/normalization.js";
export { Conv1d, Conv2d } from "./layers/convolution.js";
export { Dropout } from "./layers/dropout.js";
export { Sequential } from "./layers/containers.js";
export type { Layer } from "./layers/containers.js";
export { MultiHeadAttention, scaledDotProductAttention, finfoMin } from "./layers/transformer.js";
export type { AttentionMask } from "./layers/transformer.js";
export { RoPE } from "./layers/positional-encoding.js";
export * as losses from "./losses.js";
export * as init from "./init.js";
export { QuantizedLinear, QuantizedEmbedding, quantize, isQuantizable, type QuantParams, type QuantizeModelOptions, type ClassPredicate } from "./layers/quantized.js";
