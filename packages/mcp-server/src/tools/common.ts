// Types shared by the tool files.
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";

export type RequestExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;
