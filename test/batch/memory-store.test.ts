// The batch store contract on the embedded default (the memory store).

import { createMemoryBatchStore } from "../../src/batch/store.ts";
import { batchStoreSuite } from "./store-suite.ts";

batchStoreSuite("memory batch store", async () => createMemoryBatchStore());
