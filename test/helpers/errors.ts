// The ConnectError a call fails with, for tests: the test fails when the call succeeds.

import assert from "node:assert/strict";
import { ConnectError } from "@connectrpc/connect";

export async function rejectedWith(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    return ConnectError.from(e);
  }
  assert.fail("expected the call to fail");
}
