// optim: optimizers and learning-rate schedules with mlx.optimizers semantics (camelCase names).
export {
  Optimizer, SGD, RMSprop, Adagrad, AdaDelta, Adam, AdamW, Adamax, Lion, Adafactor, clipGradNorm,
} from "./optimizers.js";
export type { Schedule, LearningRate, AdamOptions, AdafactorOptions } from "./optimizers.js";
export { exponentialDecay, stepDecay, cosineDecay, linearSchedule, joinSchedules } from "./schedules.js";
export type { ScheduleFn } from "./schedules.js";
