import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, PutCommand, QueryCommand, type QueryCommandInput, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { gunzipSync, gzipSync } from "node:zlib";
import { type LabelRequest, requestSchema } from "../../core/contracts/request.ts";
import { StoreError } from "../../core/errors/errors.ts";
import { BULK_GROUP_INDEX } from "./create-tables.ts";
import { getUnexpired, isExpired, itemOfRefusal } from "./unexpired.ts";
import { type AcceptOutcome, type BulkStore, FINAL_INTAKE_STATES, type IntakeChanges, type IntakeRecord, type JobChanges, type JobRecord, type RecordedSubmission } from "../../core/bulk/bulk-store.ts";

/**
 * DynamoDB items are at most 400 KB; a request is stored gzipped (the texts of a 100-text batch
 * take ~10-60 KB). A larger one is not taken into bulk (the router keeps it live).
 */
export const MAX_STORED_REQUEST_BYTES = 300_000;

/** The gzipped form of a request as the store keeps it. */
export function storedRequest(request: LabelRequest): Uint8Array {
  return gzipSync(JSON.stringify(request));
}

/**
 * BulkStore on one DynamoDB table with partition key `pk` (`batch#<batchId>`, `job#<jobKey>`)
 * and a sparse index `byGroup` (gpk, gsk) that lists:
 *   pending#<model>  batches waiting for a job, by receivedAt
 *   job#<jobKey>     the batches of a job
 *   handoff          batches being handed off outside any job (taken from pending)
 *   jobs             every job, by createdAt
 * Every batch that is not final has an index row, so the loop finds it again after a crash or a
 * failed send. Records expire (expiresAt, LABELQ_BATCH_RECORD_TTL_DAYS) only once final: a batch
 * or job still in progress is never removed, however long it waits or runs.
 * Every change is an update conditional on the version read, so workers running the bulk loop
 * side by side never both win a step: the loser reads again and finds the step done. The index
 * is eventually consistent on AWS (docs: HowItWorks.ReadConsistency, "All reads from GSIs and
 * streams are eventually consistent"): pending, batchesOf, handingOff and jobs may return a row
 * as it was, or miss one that just changed. Callers treat them as candidates: findIntake and
 * getJob read the table strongly consistently (ConsistentRead), and the conditional write on the
 * table decides. A job's records are never found through the index alone (see assemble-jobs.ts).
 */
export class DynamoBulkStore implements BulkStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #ttlS: number;
  readonly #now: () => number;

  constructor(db: DynamoDBDocumentClient, table: string, options: { recordTtlDays: number; now?: () => number }) {
    this.#db = db;
    this.#table = table;
    this.#ttlS = options.recordTtlDays * 86_400;
    this.#now = options.now ?? Date.now;
  }

  async accept(intake: Omit<IntakeRecord, "state" | "version" | "updatedAt">): Promise<AcceptOutcome> {
    const now = this.#now();
    const { request, ...rest } = intake;
    let refused: ConditionalCheckFailedException;
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            pk: intakeKey(intake.batchId),
            kind: "intake",
            ...rest,
            body: storedRequest(request),
            state: "pending",
            version: 1,
            updatedAt: new Date(now).toISOString(),
            gpk: `pending#${intake.model}`,
            gsk: intake.receivedAt,
          },
          ConditionExpression: "attribute_not_exists(pk) OR expiresAt < :nowS",
          ExpressionAttributeValues: { ":nowS": Math.floor(now / 1000) },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return { kind: "accepted" };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw storeError("accept", intake.batchId, error);
      refused = error;
    }
    // DynamoDB returns the stored record with the refusal; a store that does not (dynalite) costs a read.
    const carried = itemOfRefusal(refused);
    const existing = carried ? toIntake(carried) : await this.findIntake(intake.batchId);
    if (!existing) return this.accept(intake);
    if (existing.payloadHash !== intake.payloadHash) return { kind: "conflict", storedPayloadHash: existing.payloadHash };
    return { kind: "duplicate", state: existing.state };
  }

  async findIntake(batchId: string): Promise<IntakeRecord | undefined> {
    const item = await this.#get(intakeKey(batchId), batchId);
    return item ? toIntake(item) : undefined;
  }

  async pending(model: string): Promise<IntakeRecord[]> {
    return (await this.#query(`pending#${model}`, true)).map(toIntake).filter((r) => r.state === "pending");
  }

  async batchesOf(jobKey: string): Promise<IntakeRecord[]> {
    return (await this.#query(`job#${jobKey}`, true)).map(toIntake);
  }

  async handingOff(): Promise<IntakeRecord[]> {
    return (await this.#query("handoff", true)).map(toIntake).filter((r) => r.state === "handing-off");
  }

  async updateIntake(current: IntakeRecord, changes: IntakeChanges): Promise<IntakeRecord | undefined> {
    const next: IntakeRecord = { ...current, ...changes, version: current.version + 1, updatedAt: new Date(this.#now()).toISOString() };
    // The index row follows the state: waiting per model, listed under its job, or being handed off
    // from pending; only a final batch outside any job has none.
    const final = FINAL_INTAKE_STATES.includes(next.state);
    const group =
      next.state === "pending"
        ? { gpk: `pending#${next.model}`, gsk: next.receivedAt }
        : next.jobKey
          ? { gpk: `job#${next.jobKey}`, gsk: next.batchId }
          : !final
            ? { gpk: "handoff", gsk: next.batchId }
            : { gpk: undefined, gsk: undefined };
    const expiresAt = final ? this.#expiresAt() : undefined;
    const ok = await this.#update(intakeKey(current.batchId), current.version, { ...changes, ...group, expiresAt, updatedAt: next.updatedAt }, current.batchId);
    return ok ? next : undefined;
  }

  async createJob(job: Omit<JobRecord, "version" | "updatedAt">): Promise<void> {
    const now = this.#now();
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            pk: jobKeyOf(job.jobKey),
            kind: "job",
            ...job,
            version: 1,
            updatedAt: new Date(now).toISOString(),
            gpk: "jobs",
            gsk: job.createdAt,
            ...(job.state === "done" ? { expiresAt: this.#expiresAt() } : {}),
          },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
    } catch (error) {
      throw storeError("create job", job.jobKey, error);
    }
  }

  async getJob(jobKey: string): Promise<JobRecord | undefined> {
    const item = await this.#get(jobKeyOf(jobKey), jobKey);
    return item ? toJob(item) : undefined;
  }

  async jobs(): Promise<JobRecord[]> {
    return (await this.#query("jobs", false)).map(toJob);
  }

  async updateJob(current: JobRecord, changes: JobChanges): Promise<JobRecord | undefined> {
    const next: JobRecord = { ...current, ...changes, version: current.version + 1, updatedAt: new Date(this.#now()).toISOString() };
    const expiresAt = next.state === "done" ? this.#expiresAt() : undefined;
    const ok = await this.#update(jobKeyOf(current.jobKey), current.version, { ...changes, expiresAt, updatedAt: next.updatedAt }, current.jobKey);
    return ok ? next : undefined;
  }

  /** When a record that just became final expires. */
  #expiresAt(): number {
    return Math.floor(this.#now() / 1000) + this.#ttlS;
  }

  async #update(pk: string, version: number, changes: Record<string, unknown>, what: string): Promise<boolean> {
    const names: Record<string, string> = { "#v": "version" };
    const values: Record<string, unknown> = { ":v": version, ":next": version + 1 };
    const sets = ["#v = :next"];
    const removes: string[] = [];
    for (const [k, [field, value]] of Object.entries(changes).entries()) {
      names[`#f${k}`] = field;
      if (value === undefined) removes.push(`#f${k}`);
      else {
        values[`:f${k}`] = value;
        sets.push(`#f${k} = :f${k}`);
      }
    }
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk },
          UpdateExpression: `SET ${sets.join(", ")}${removes.length > 0 ? ` REMOVE ${removes.join(", ")}` : ""}`,
          ConditionExpression: "#v = :v",
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw storeError("update", what, error);
    }
  }

  async #get(pk: string, what: string): Promise<Record<string, unknown> | undefined> {
    try {
      return await getUnexpired(this.#db, this.#table, { pk }, this.#now());
    } catch (error) {
      throw storeError("read", what, error);
    }
  }

  async #query(group: string, ascending: boolean): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: QueryCommandInput["ExclusiveStartKey"];
    try {
      do {
        const out = await this.#db.send(
          new QueryCommand({
            TableName: this.#table,
            IndexName: BULK_GROUP_INDEX,
            KeyConditionExpression: "gpk = :g",
            ExpressionAttributeValues: { ":g": group },
            ScanIndexForward: ascending,
            ExclusiveStartKey: start,
          }),
        );
        items.push(...(out.Items ?? []));
        start = out.LastEvaluatedKey;
      } while (start);
    } catch (error) {
      throw storeError("query", group, error);
    }
    const now = this.#now();
    return items.filter((item) => !isExpired(item, now));
  }
}

function intakeKey(batchId: string): string {
  return `batch#${batchId}`;
}

function jobKeyOf(jobKey: string): string {
  return `job#${jobKey}`;
}

/** An intake item as an IntakeRecord; handOffCode, like reason, is absent on items written before it was kept. */
function toIntake(item: Record<string, unknown>): IntakeRecord {
  const { pk: _pk, kind: _kind, gpk: _gpk, gsk: _gsk, expiresAt: _e, body, ...rest } = item;
  if (!(body instanceof Uint8Array)) throw new StoreError(`Bulk intake record ${String(item.pk)} has no request body`);
  // Written by this store from a validated request; parsed again so that a corrupt record is caught here.
  const request = requestSchema({ maxItems: 1_000, maxTextChars: 100_000, maxBodyBytes: 1_048_576 }).parse(JSON.parse(gunzipSync(body).toString("utf8")));
  return { ...(rest as Omit<IntakeRecord, "request">), request };
}

/**
 * A job item as a JobRecord. `submission` (a map: roleArn, bucket, timeoutHours) is absent on items
 * written before it was recorded, and stays absent (the job is submitted with the configuration's);
 * one present but incomplete is refused rather than submitted with a part of it.
 */
function toJob(item: Record<string, unknown>): JobRecord {
  const { pk: _pk, kind: _kind, gpk: _gpk, gsk: _gsk, expiresAt: _e, submission, ...rest } = item;
  const job = rest as unknown as JobRecord;
  if (submission === undefined) return job;
  if (!isRecordedSubmission(submission)) throw new StoreError(`Bulk job record ${String(item.pk)} has an unreadable submission: ${JSON.stringify(submission)}`);
  return { ...job, submission: { roleArn: submission.roleArn, bucket: submission.bucket, timeoutHours: submission.timeoutHours } };
}

function isRecordedSubmission(value: unknown): value is RecordedSubmission {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.roleArn === "string" && typeof v.bucket === "string" && typeof v.timeoutHours === "number";
}

function storeError(what: string, key: string, cause: unknown): StoreError {
  return new StoreError(`Bulk record ${what} failed for ${key}: ${(cause as Error).message}`, { cause });
}
