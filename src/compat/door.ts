// What the plain-HTTP handler (handler.ts) gives each of the other front doors (/v1/messages,
// /v1/responses) for one request: the engine, who is calling, the body, and how to answer.

import type { ServerResponse, IncomingMessage } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { CacheMode, ChatEngine } from "../engine/chat-engine.ts";
import type { Caller } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import type { PromptLibrary } from "../control/prompts.ts";

export type Req = IncomingMessage | Http2ServerRequest;
export type Res = ServerResponse | Http2ServerResponse;

export interface DoorDeps {
  engine: ChatEngine;
  ri: RequestInfo;
  caller: Caller;
  /** Fires when the caller goes away. */
  signal: AbortSignal;
  /** The request body (already within the size limit). */
  body: Buffer;
  /** Cache options from the request headers, which win over the body's. */
  cache?: { mode: CacheMode; ttlSeconds?: number };
  /** The status a failed request is recorded with. */
  statusOf(err: unknown): string;
  sendJson(res: Res, status: number, body: unknown, headers?: Record<string, string>): void;
  /** The prompt library the signalbox object's `prompt` names (absent: none). */
  prompts?: PromptLibrary;
}
