// The model segment of Bedrock Runtime paths: a model id, inference-profile id or ARN, encoded
// as the AWS SDKs encode a path label (RFC 3986: ":" and "/" of an ARN are escaped too).

function encodeLabel(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `/model/{modelId}`. */
export function bedrockModelPath(model: string): string {
  return `/model/${encodeLabel(model)}`;
}
