import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { S3Location } from "./job-request.ts";
import type { InputObject } from "./input-records.ts";

/** What a job does with S3: list and read its input, write its output (as the job's service role would). */
export interface JobStorage {
  list(bucket: string, prefix: string): Promise<InputObject[]>;
  read(bucket: string, key: string): Promise<string>;
  write(bucket: string, key: string, body: string): Promise<void>;
}

/** JobStorage over a real S3 client (in the local stack, fauxqs path-style). */
export function s3JobStorage(client: S3Client): JobStorage {
  return {
    async list(bucket, prefix) {
      const objects: InputObject[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        for (const o of page.Contents ?? []) if (o.Key !== undefined) objects.push({ key: o.Key, size: o.Size ?? 0 });
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      return objects;
    },
    async read(bucket, key) {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return (await object.Body?.transformToString("utf8")) ?? "";
    },
    async write(bucket, key, body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: "application/jsonl" }));
    },
  };
}

/** <output s3Uri>/<jobId>/<name> (docs: batch-inference-results). */
export function outputKey(output: S3Location, jobId: string, name: string): string {
  const base = output.key.replace(/\/+$/, "");
  return `${base === "" ? "" : `${base}/`}${jobId}/${name}`;
}
