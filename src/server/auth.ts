// Caller authentication on every RPC and HTTP front door: `Authorization: Bearer <key>`, looked up
// in the control plane's in-memory directory (src/control/directory.ts). This file holds the
// per-request context key; the directory holds the keys.

import { createContextKey } from "@connectrpc/connect";
import { ANONYMOUS } from "../control/directory.ts";
import type { Caller } from "../router/types.ts";

export { ANONYMOUS, type Authenticator, hashKey } from "../control/directory.ts";

/** The authenticated caller of the current RPC. */
export const callerKey = createContextKey<Caller>(ANONYMOUS, { description: "signalbox caller" });
