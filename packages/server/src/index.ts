// @hearth/server: the OpenAI-compatible HTTP face (`hearth server`) over the serving layer's Backend.
export { HearthServer } from "./server.js";
export type { HearthServerOptions } from "./server.js";
export { runServerCommand } from "./command.js";
export { parseServerArgs, serverHelp, DEFAULT_SETTINGS, SERVER_OPTIONS, UsageError } from "./options.js";
export type { ServerSettings, ParsedServerArgs } from "./options.js";
export { HttpError, toHttpError } from "./errors.js";
export type { ServerStats } from "./generation.js";
