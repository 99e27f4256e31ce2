// The vector store store contract on the embedded default (the memory store), and through the lazy
// wrapper a gateway on PostgreSQL uses (opened on first use, a failed opening tried again).

import assert from "node:assert/strict";
import { test } from "node:test";
import { createMemoryVectorStoreStore, lazyVectorStoreStore, type VectorStoreStore } from "../../src/vectors/store.ts";
import { vectorStoreSuite } from "./store-suite.ts";

vectorStoreSuite("memory vector store store", async () => ({ store: createMemoryVectorStoreStore() }));
vectorStoreSuite("memory vector store store, opened lazily", async () => ({ store: lazyVectorStoreStore("memory", async () => createMemoryVectorStoreStore()) }));

test("a lazy store opens on its first use, once; a failed opening is tried again; closed unopened, nothing is opened", async () => {
  let opened = 0;
  let fail = true;
  const make = async (): Promise<VectorStoreStore> => {
    opened++;
    if (fail) throw new Error("database away");
    return createMemoryVectorStoreStore();
  };
  const unused = lazyVectorStoreStore("postgres", make);
  await unused.close();
  assert.equal(opened, 0);
  const lazy = lazyVectorStoreStore("postgres", make);
  assert.equal(lazy.kind, "postgres");
  await assert.rejects(lazy.getStore("vs_1"), /database away/);
  fail = false;
  assert.equal(await lazy.getStore("vs_1"), undefined);
  await Promise.all([lazy.getStore("vs_2"), lazy.listStores({ limit: 5 })]);
  assert.equal(opened, 2, "the failed opening and the one that worked");
  await lazy.close();
});
