// @hearth/serving: the faces' one core (see docs/ARCHITECTURE.md §3).
export * from "./backend.js";
export * from "./errors.js";
