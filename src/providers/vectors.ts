// Embedding vectors as bytes: little-endian float32, the layout OpenAI's base64 encoding carries
// and the response cache stores. One pair of functions for every layer that needs it.

/** A vector as little-endian float32 bytes. */
export function toFloat32le(v: Float32Array): Uint8Array {
  const out = new Uint8Array(v.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) view.setFloat32(i * 4, v[i], true);
  return out;
}

/** Little-endian float32 bytes as a vector (a trailing partial float is ignored). */
export function fromFloat32le(b: Uint8Array): Float32Array {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Float32Array(b.byteLength >>> 2);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
