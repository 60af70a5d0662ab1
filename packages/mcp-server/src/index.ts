// @hearth/mcp as a library: build the server into another process (the bin is src/main.ts).
export { createSessionServer, SERVER_NAME, SERVER_VERSION } from "./server.js";
export type { SharedState } from "./server.js";
export { parseCli, USAGE } from "./args.js";
export type { McpOptions } from "./args.js";
export { RootSet, resolveCliRoots, isInside } from "./roots.js";
export { TrainingJobs } from "./jobs.js";
export { startHttp } from "./http.js";
