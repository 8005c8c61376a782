import { GetObjectCommand, ListObjectsV2Command, type ListObjectsV2CommandOutput, NoSuchKey, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Readable } from "node:stream";
import { StoreError } from "../../core/errors/errors.ts";

/** The bulk bucket as the bulk path needs it: write input files, read output files. */
export interface ObjectStore {
  readonly bucket: string;
  /** Write an object: JSONL text, or bytes (a gzipped record map). */
  put(key: string, body: string | Uint8Array): Promise<void>;
  /** The object's text, or undefined when there is none. For small objects (a manifest): it holds the whole object. */
  get(key: string): Promise<string | undefined>;
  /**
   * The object's bytes as a stream, read as it is consumed, or undefined when there is none: how
   * job output is read, a line at a time, whatever the object's size.
   */
  stream(key: string): Promise<Readable | undefined>;
  /** Keys under a prefix. */
  list(prefix: string): Promise<string[]>;
}

/** `s3://bucket/key` */
export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** ObjectStore on S3. */
export class S3ObjectStore implements ObjectStore {
  readonly bucket: string;
  readonly #s3: S3Client;

  constructor(s3: S3Client, bucket: string) {
    this.#s3 = s3;
    this.bucket = bucket;
  }

  async put(key: string, body: string | Uint8Array): Promise<void> {
    const contentType = key.endsWith(".gz") ? "application/gzip" : "application/jsonl";
    try {
      await this.#s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }));
    } catch (cause) {
      throw new StoreError(`Could not write ${s3Uri(this.bucket, key)}: ${(cause as Error).message}`, { cause });
    }
  }

  async get(key: string): Promise<string | undefined> {
    try {
      const out = await this.#s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await out.Body?.transformToString("utf8");
    } catch (cause) {
      if (isNoSuchKey(cause)) return undefined;
      throw new StoreError(`Could not read ${s3Uri(this.bucket, key)}: ${(cause as Error).message}`, { cause });
    }
  }

  async stream(key: string): Promise<Readable | undefined> {
    let body: unknown;
    try {
      body = (await this.#s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }))).Body;
    } catch (cause) {
      if (isNoSuchKey(cause)) return undefined;
      throw new StoreError(`Could not read ${s3Uri(this.bucket, key)}: ${(cause as Error).message}`, { cause });
    }
    // In Node the SDK's body is the HTTP response itself (an IncomingMessage): bytes arrive as they are read.
    if (body instanceof Readable) return body;
    if (body === undefined) return Readable.from([]);
    throw new StoreError(`Could not read ${s3Uri(this.bucket, key)}: the S3 client returned a body that is not a Node stream`);
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    try {
      do {
        const out: ListObjectsV2CommandOutput = await this.#s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
        for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key);
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
    } catch (cause) {
      throw new StoreError(`Could not list ${s3Uri(this.bucket, prefix)}: ${(cause as Error).message}`, { cause });
    }
    return keys;
  }
}

function isNoSuchKey(cause: unknown): boolean {
  return cause instanceof NoSuchKey || (cause as { name?: string }).name === "NoSuchKey";
}
