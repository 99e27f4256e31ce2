// The vector store store contract on the embedded default (the memory store).

import { createMemoryVectorStoreStore } from "../../src/vectors/store.ts";
import { vectorStoreSuite } from "./store-suite.ts";

vectorStoreSuite("memory vector store store", async () => ({ store: createMemoryVectorStoreStore() }));
