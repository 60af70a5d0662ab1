// @hearth/serving: the faces' one core (see docs/ARCHITECTURE.md §3).
export * from "./backend.js";
export * from "./errors.js";
export { LocalBackend, createLocalBackend } from "./local-backend.js";
export type { LocalBackendOptions } from "./local-backend.js";
export { ModelHost, detectKind, weightBytes } from "./model-host.js";
export type { ModelHostOptions, TextModel, Lease } from "./model-host.js";
export { Scheduler } from "./scheduler.js";
export type { Job, SchedulerOptions } from "./scheduler.js";
export { PrefixCache } from "./prefix-cache.js";
export type { PrefixCacheOptions } from "./prefix-cache.js";
export { SequentialLoop, applyTokenMask } from "./row-loop.js";
export type { RowLoop, RowOptions, RowEvent, TokenConstraint } from "./row-loop.js";
export { makeRowLoop, hasBatchedLoop } from "./loop-factory.js";
export { GrammarService } from "./grammar.js";
export { renderToolPrompt, toolCallSchema, toolSystemText, parseToolReply } from "./tools.js";
