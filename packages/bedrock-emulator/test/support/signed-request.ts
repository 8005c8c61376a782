import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import http from "node:http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { SourceData } from "@smithy/types";

/** The signer's input as bytes node:crypto takes. */
function bytes(data: SourceData): string | Uint8Array {
  if (typeof data === "string") return data;
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

/** SHA-256 (or HMAC-SHA-256 with a key) for the SDK's SigV4 signer, on node:crypto. */
class NodeSha256 {
  readonly #hash: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.#hash = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }

  update(data: SourceData): void {
    this.#hash.update(bytes(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }
}

/** An HTTP answer with its parsed JSON body. */
export interface JsonAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  json: Record<string, unknown>;
}

/**
 * A JSON 1.1 protocol call (`X-Amz-Target`), SigV4-signed for `service` in `region` by the SDK's
 * own signer, over HTTP/1.1: what @aws-sdk/client-service-quotas sends, without the client.
 */
export async function signedJsonCall(
  url: string,
  options: { service: string; region: string; target: string; body: unknown; accessKeyId?: string },
): Promise<JsonAnswer> {
  const endpoint = new URL(url);
  const body = JSON.stringify(options.body);
  const signer = new SignatureV4({
    service: options.service,
    region: options.region,
    credentials: { accessKeyId: options.accessKeyId ?? "test", secretAccessKey: "test" },
    sha256: NodeSha256,
  });
  const signed = await signer.sign({
    method: "POST",
    protocol: endpoint.protocol,
    hostname: endpoint.hostname,
    port: Number(endpoint.port),
    path: "/",
    query: {},
    headers: { host: endpoint.host, "content-type": "application/x-amz-json-1.1", "x-amz-target": options.target, "content-length": String(Buffer.byteLength(body)) },
    body,
  });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: endpoint.hostname, port: endpoint.port, method: "POST", path: "/", headers: signed.headers }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (data += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, json: JSON.parse(data) as Record<string, unknown> }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}
