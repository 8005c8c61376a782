import http2 from "node:http2";
import { BedrockRuntimeClient, ConverseCommand, type ConverseCommandInput, type ConverseCommandOutput } from "@aws-sdk/client-bedrock-runtime";
import { NodeHttp2Handler } from "@smithy/node-http-handler";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { signedJsonCall, type JsonAnswer } from "./support/signed-request.ts";
import { startBedrockEmulator, type BedrockEmulator, type BedrockEmulatorOptions } from "../src/index.ts";

// The quota pools labelq routes across: quotas per Region and per account, Regions that are
// down, service tiers, and the Service Quotas API that reports the quotas. Over the wire with
// the real runtime SDK client, and with SigV4-signed JSON 1.1 calls for Service Quotas (its
// client is not installed here). Expected names, codes and messages come from the sources in
// docs/bedrock-fidelity.md, not from the emulator's own tables.

const NOVA_LITE = "amazon.nova-lite-v1:0";
const LLAMA33 = "us.meta.llama3-3-70b-instruct-v1:0";
const HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
const QWEN3 = "qwen.qwen3-32b-v1:0";
const GPT_OSS = "openai.gpt-oss-120b-1:0";

const SYSTEM = [
  "You label short product-feedback texts.",
  "",
  "## Output format",
  'Answer with one JSON object {"r":[...]}, one object per text, "i" being the text\'s number.',
  "Use these keys:",
  '- sp (sentiment_polarity): one of "pos", "neg", "neu", "mix"',
].join("\n");

type Tier = "priority" | "default" | "flex" | "reserved";

function request(modelId: string, tier?: Tier): ConverseCommandInput {
  return {
    modelId,
    system: [{ text: SYSTEM }],
    messages: [{ role: "user", content: [{ text: '{"i":1,"t":"I love this kettle."}' }] }],
    inferenceConfig: { maxTokens: 200, temperature: 0.2 },
    ...(tier === undefined ? {} : { serviceTier: { type: tier } }),
  };
}

interface SdkError {
  name: string;
  message: string;
  $metadata: { httpStatusCode?: number; attempts?: number };
}

let emulator: BedrockEmulator;
const clients: BedrockRuntimeClient[] = [];

/** A runtime client signing for `region` with `accessKeyId`, as one pool of labelq's would. */
function client(region: string, options: { accessKeyId?: string; maxAttempts?: number; url?: string } = {}): BedrockRuntimeClient {
  const c = new BedrockRuntimeClient({
    region,
    endpoint: options.url ?? emulator.url,
    credentials: { accessKeyId: options.accessKeyId ?? "test", secretAccessKey: "test" },
    maxAttempts: options.maxAttempts ?? 1,
    requestHandler: new NodeHttp2Handler({ requestTimeout: 10_000 }),
  });
  clients.push(c);
  return c;
}

async function converse(c: BedrockRuntimeClient, input: ConverseCommandInput): Promise<ConverseCommandOutput> {
  return c.send(new ConverseCommand(input));
}

async function converseError(c: BedrockRuntimeClient, input: ConverseCommandInput): Promise<SdkError> {
  try {
    await c.send(new ConverseCommand(input));
  } catch (error) {
    return error as SdkError;
  }
  throw new Error("expected the call to fail");
}

/** An emulator of the test's own, for settings the shared one should not carry. */
async function own<T>(options: BedrockEmulatorOptions, run: (e: BedrockEmulator) => Promise<T>): Promise<T> {
  const e = await startBedrockEmulator({ port: 0, ...options });
  try {
    return await run(e);
  } finally {
    await e.close();
  }
}

function serviceQuotas(target: "ListServiceQuotas" | "GetServiceQuota", body: unknown, region = "us-east-1", accessKeyId?: string, url = emulator.url): Promise<JsonAnswer> {
  return signedJsonCall(url, { service: "servicequotas", region, target: `ServiceQuotasV20190624.${target}`, body, ...(accessKeyId === undefined ? {} : { accessKeyId }) });
}

interface Quota {
  QuotaName: string;
  QuotaCode: string;
  Value: number;
  QuotaArn: string;
  ServiceCode: string;
  Adjustable: boolean;
}

/** Every quota ListServiceQuotas lists, page by page as the SDK's paginator would read them. */
async function listAll(region: string, pageSize: number, accessKeyId?: string): Promise<{ quotas: Quota[]; pages: number }> {
  const quotas: Quota[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const answer = await serviceQuotas("ListServiceQuotas", { ServiceCode: "bedrock", MaxResults: pageSize, ...(token === undefined ? {} : { NextToken: token }) }, region, accessKeyId);
    expect(answer.status).toBe(200);
    quotas.push(...(answer.json.Quotas as Quota[]));
    token = answer.json.NextToken as string | undefined;
    pages += 1;
  } while (token !== undefined);
  return { quotas, pages };
}

beforeAll(async () => {
  emulator = await startBedrockEmulator({ port: 0, seed: 5 });
});

afterEach(() => {
  emulator.setQuota({});
  emulator.setUnavailableRegions([]);
  emulator.setAccounts({});
  emulator.setLenient([]);
  emulator.setMaxConcurrent(0);
  emulator.setLatency({ fixedMs: 0, perOutputTokenMs: 0 });
  emulator.reset();
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await emulator?.close();
});

describe("quota pools: Regions and accounts", () => {
  it("each Region keeps its own window, and byRegion gives a Region its own limits", async () => {
    emulator.setQuota({ rpm: 1, byRegion: { "us-west-2": { rpm: 2 } } });
    const east = client("us-east-1");
    const west = client("us-west-2");
    await converse(east, request(NOVA_LITE));
    const refused = await converseError(east, request(NOVA_LITE));
    expect(refused.name).toBe("ThrottlingException");
    expect(refused.message).toBe("Too many requests, please wait before trying again.");
    // us-east-1's full window does not throttle us-west-2, whose limit is 2.
    await converse(west, request(NOVA_LITE));
    await converse(west, request(NOVA_LITE));
    expect((await converseError(west, request(NOVA_LITE))).name).toBe("ThrottlingException");
    expect(emulator.stats()).toMatchObject({ succeeded: 3, throttled: 2 });
  });

  it("unsigned calls share us-east-1's windows", async () => {
    emulator.setQuota({ rpm: 1 });
    await converse(client("us-east-1"), request(NOVA_LITE));
    const session = http2.connect(emulator.url);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const { modelId, ...body } = request(NOVA_LITE);
        const stream = session.request({ ":method": "POST", ":path": `/model/${encodeURIComponent(modelId ?? "")}/converse`, "content-type": "application/json" });
        stream.on("response", (h) => resolve(Number(h[":status"])));
        stream.on("error", reject);
        stream.resume();
        stream.end(JSON.stringify(body));
      });
      expect(status).toBe(429);
    } finally {
      session.close();
    }
  });

  it("an access key mapped to another account (accounts) gets that account's windows and byAccount limits", async () => {
    emulator.setAccounts({ AKIDOTHER: "222222222222" });
    emulator.setQuota({ rpm: 1, byAccount: { "222222222222": { rpm: 3, byRegion: { "us-west-2": { rpm: 2 } } } } });
    const mine = client("us-east-1");
    const theirs = client("us-east-1", { accessKeyId: "AKIDOTHER" });
    const theirsWest = client("us-west-2", { accessKeyId: "AKIDOTHER" });
    await converse(mine, request(NOVA_LITE));
    expect((await converseError(mine, request(NOVA_LITE))).name).toBe("ThrottlingException");
    for (let k = 0; k < 3; k++) await converse(theirs, request(NOVA_LITE));
    expect((await converseError(theirs, request(NOVA_LITE))).name).toBe("ThrottlingException");
    // The account's own Region setting wins over its account-wide one.
    for (let k = 0; k < 2; k++) await converse(theirsWest, request(NOVA_LITE));
    expect((await converseError(theirsWest, request(NOVA_LITE))).name).toBe("ThrottlingException");
  });

  it("the quota settings are validated: a bad Region or account id is refused and changes nothing", async () => {
    expect(() => emulator.setQuota({ byRegion: { Oregon: { rpm: 1 } } })).toThrow();
    expect(() => emulator.setAccounts({ AKID: "12345" })).toThrow();
    expect(() => emulator.setUnavailableRegions(["nowhere"])).toThrow();
    for (let k = 0; k < 3; k++) expect((await converse(client("us-east-1"), request(NOVA_LITE))).stopReason).toBe("end_turn");
  });
});

describe("quota pools: a Region that is down", () => {
  it("answers every call signed for it with 503 ServiceUnavailableException (retried by the SDK); other Regions answer", async () => {
    emulator.setUnavailableRegions(["eu-west-1"]);
    const eu = client("eu-west-1", { maxAttempts: 2 });
    const error = await converseError(eu, request(NOVA_LITE));
    expect(error.name).toBe("ServiceUnavailableException");
    expect(error.$metadata.httpStatusCode).toBe(503);
    expect(error.$metadata.attempts).toBe(2);
    expect(error.message).toContain("eu-west-1");
    expect((await converse(client("eu-west-2"), request(NOVA_LITE))).stopReason).toBe("end_turn");
    // Service Quotas of that Region is down too; the control routes are not.
    const quotas = await serviceQuotas("ListServiceQuotas", { ServiceCode: "bedrock" }, "eu-west-1");
    expect(quotas.status).toBe(503);
    expect(quotas.headers["x-amzn-errortype"]).toMatch(/^ServiceUnavailableException/);
    expect(emulator.stats()).toMatchObject({ calls: 3, succeeded: 1, errors: { ServiceUnavailableException: 2 } });
    emulator.setUnavailableRegions([]);
    expect((await converse(eu, request(NOVA_LITE))).stopReason).toBe("end_turn");
  });

  it("is set at start (unavailableRegions) and over HTTP (PUT /_emulator/faults)", async () => {
    await own({ unavailableRegions: ["us-west-2"] }, async (e) => {
      expect((await converseError(client("us-west-2", { url: e.url }), request(NOVA_LITE))).name).toBe("ServiceUnavailableException");
      const res = await fetch(`${e.url}/_emulator/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ unavailableRegions: [] }) });
      expect(res.status).toBe(200);
      expect((await converse(client("us-west-2", { url: e.url }), request(NOVA_LITE))).stopReason).toBe("end_turn");
    });
  });
});

describe("service tiers", () => {
  it("default is served on every model; flex and priority where the model offers them; the response names the tier", async () => {
    const east = client("us-east-1");
    for (const modelId of [NOVA_LITE, LLAMA33, HAIKU, QWEN3]) {
      expect((await converse(east, request(modelId, "default"))).serviceTier, modelId).toEqual({ type: "default" });
    }
    for (const modelId of [QWEN3, GPT_OSS, "amazon.nova-pro-v1:0"]) {
      for (const tier of ["flex", "priority"] as const) expect((await converse(east, request(modelId, tier))).serviceTier, `${modelId} ${tier}`).toEqual({ type: tier });
    }
    // No tier asked for: the response carries none.
    expect((await converse(east, request(QWEN3))).serviceTier).toBeUndefined();
  });

  it("a tier the model does not offer is a ValidationException, not retried", async () => {
    const east = client("us-east-1", { maxAttempts: 3 });
    for (const [modelId, tier] of [[LLAMA33, "flex"], [HAIKU, "priority"], [NOVA_LITE, "flex"]] as const) {
      const error = await converseError(east, request(modelId, tier));
      expect(error.name, `${modelId} ${tier}`).toBe("ValidationException");
      expect(error.message).toBe("The provided service tier is not supported for this model");
      expect(error.$metadata.attempts).toBe(1);
    }
    // reserved needs a capacity reservation, which the emulator never has.
    expect((await converseError(east, request(HAIKU, "reserved"))).message).toBe("Reservation not found.");
    // A value outside the enum.
    expect((await converseError(east, { ...request(QWEN3), serviceTier: { type: "cheapest" as Tier } })).message).toBe("service tier provided is invalid");
  });

  it("flex and priority only in the Regions that offer them; default everywhere", async () => {
    const canada = client("ca-central-1");
    expect((await converseError(canada, request(QWEN3, "flex"))).message).toBe("The provided service tier is not supported for this model");
    expect((await converse(canada, request(QWEN3, "default"))).stopReason).toBe("end_turn");
    expect((await converse(client("eu-west-1"), request(QWEN3, "flex"))).serviceTier).toEqual({ type: "flex" });
  });

  it("service-tier lenient: every tier is served", async () => {
    emulator.setLenient(["service-tier"]);
    expect((await converse(client("us-east-1"), request(LLAMA33, "flex"))).serviceTier).toEqual({ type: "flex" });
  });

  it("the on-demand quota is shared across tiers", async () => {
    emulator.setQuota({ rpm: 3, flexShedAt: 1 });
    const east = client("us-east-1");
    await converse(east, request(QWEN3, "priority"));
    await converse(east, request(QWEN3, "flex"));
    await converse(east, request(QWEN3));
    for (const tier of ["default", "priority", "flex"] as const) expect((await converseError(east, request(QWEN3, tier))).name, tier).toBe("ThrottlingException");
  });

  it("under load flex sheds first: flex is throttled once the window passes flexShedAt of the limit (default 0.8); other tiers go on", async () => {
    const east = client("us-east-1");
    // rpm 5 at the default 0.8: flex is admitted while the minute, with it, holds at most 4 calls.
    emulator.setQuota({ rpm: 5 });
    for (let k = 0; k < 4; k++) await converse(east, request(GPT_OSS, "flex"));
    const shed = await converseError(east, request(GPT_OSS, "flex"));
    expect(shed.name).toBe("ThrottlingException");
    expect(shed.message).toBe("Too many requests, please wait before trying again.");
    expect((await converse(east, request(GPT_OSS, "priority"))).stopReason).toBe("end_turn");
    expect((await converseError(east, request(GPT_OSS))).name).toBe("ThrottlingException");

    // tpm too, at a share the test sets (half). A call reserves input + maxTokens and settles to
    // input + output (burn-down 1): flex gets settled + reserved, room for two flex calls, not three.
    emulator.reset();
    emulator.setQuota({});
    const usage = (await converse(east, request(GPT_OSS))).usage;
    const settled = usage?.totalTokens ?? 0;
    const reserved = (usage?.inputTokens ?? 0) + 200;
    expect(settled).toBeLessThan(reserved);
    emulator.reset();
    emulator.setQuota({ tpm: 2 * (settled + reserved), flexShedAt: 0.5 });
    await converse(east, request(GPT_OSS, "flex"));
    await converse(east, request(GPT_OSS, "flex"));
    expect((await converseError(east, request(GPT_OSS, "flex"))).message).toBe("Too many tokens, please wait before trying again.");
    await converse(east, request(GPT_OSS));
    await converse(east, request(GPT_OSS));
  });

  it("under load flex sheds first: flex gets flexShedAt of the concurrency cap", async () => {
    await own({ maxConcurrent: 2, quota: { flexShedAt: 0.5 }, latency: { fixedMs: 300, perOutputTokenMs: 0 } }, async (e) => {
      const c = client("us-east-1", { url: e.url });
      const flex = await Promise.allSettled([converse(c, request(QWEN3, "flex")), converse(c, request(QWEN3, "flex"))]);
      const refused = flex.flatMap((r) => (r.status === "rejected" ? [r.reason as SdkError] : []));
      expect(refused).toHaveLength(1);
      expect(refused[0]?.name).toBe("ServiceUnavailableException");
      expect(refused[0]?.message).toBe("Too many connections, please wait before trying again.");
      const standard = await Promise.allSettled([converse(c, request(QWEN3)), converse(c, request(QWEN3))]);
      expect(standard.filter((r) => r.status === "fulfilled")).toHaveLength(2);
    });
  });
});

describe("Service Quotas API (ServiceCode bedrock)", () => {
  // Names and codes as Service Quotas gives them (sources in docs/bedrock-fidelity.md).
  const QWEN_TPM = { name: "On-demand model inference tokens per minute for Qwen3 32B V1", code: "L-B7C52139" };
  const QWEN_RPM = { name: "On-demand model inference requests per minute for Qwen3 32B V1", code: "L-E880C759" };
  const LLAMA33_TPM = { name: "Cross-region model inference tokens per minute for Meta Llama 3.3 70B Instruct", code: "L-0E7AA8B7" };
  const SONNET_GLOBAL_TPM = { name: "Global cross-region model inference tokens per minute for Anthropic Claude Sonnet 4.5 V1", code: "L-27C57EE8" };
  const HAIKU_TPD = { name: "Model invocation max tokens per day for Anthropic Claude Haiku 4.5 (doubled for cross-region calls)", code: "L-6120CF2D" };
  const NOVA_MICRO_ON_DEMAND_TPM = { name: "On-demand model inference tokens per minute for Amazon Nova Micro", code: "L-CFA4FA0D" };

  it("ListServiceQuotas answers the quotas the emulator enforces in the signed Region, by Service Quotas' names and codes, page by page", async () => {
    emulator.setQuota({ rpm: 100, tpm: 50_000, tpd: 9_000_000, byRegion: { "us-west-2": { tpm: 200_000 } } });
    const { quotas, pages } = await listAll("us-west-2", 10);
    expect(pages).toBeGreaterThan(1);
    const byName = new Map(quotas.map((q) => [q.QuotaName, q]));
    for (const { name, code } of [QWEN_TPM, LLAMA33_TPM, SONNET_GLOBAL_TPM, NOVA_MICRO_ON_DEMAND_TPM]) {
      expect(byName.get(name), name).toMatchObject({ QuotaCode: code, Value: 200_000, ServiceCode: "bedrock" });
    }
    expect(byName.get(QWEN_RPM.name)).toMatchObject({ QuotaCode: QWEN_RPM.code, Value: 100 });
    expect(byName.get(HAIKU_TPD.name)).toMatchObject({ QuotaCode: HAIKU_TPD.code, Value: 9_000_000 });
    expect(byName.get(QWEN_TPM.name)?.QuotaArn).toBe(`arn:aws:servicequotas:us-west-2:000000000000:bedrock/${QWEN_TPM.code}`);
    // Quota codes are unique, and in Service Quotas' form.
    expect(new Set(quotas.map((q) => q.QuotaCode)).size).toBe(quotas.length);
    for (const q of quotas) expect(q.QuotaCode).toMatch(/^L-[0-9A-F]{8}$/);
    // One page of 100 holds the same list; us-east-1 reads its own value.
    expect((await listAll("us-west-2", 100)).quotas).toEqual(quotas);
    const east = new Map((await listAll("us-east-1", 100)).quotas.map((q) => [q.QuotaName, q.Value]));
    expect(east.get(QWEN_TPM.name)).toBe(50_000);
  });

  it("a limit the emulator does not enforce is not listed", async () => {
    emulator.setQuota({ tpm: 1000 });
    const { quotas } = await listAll("us-east-1", 100);
    expect(quotas.length).toBeGreaterThan(0);
    expect(quotas.every((q) => q.QuotaName.includes("tokens per minute"))).toBe(true);
    emulator.setQuota({});
    expect((await listAll("us-east-1", 100)).quotas).toEqual([]);
  });

  it("GetServiceQuota answers one quota for the caller's account and Region; unknown codes and services are NoSuchResourceException", async () => {
    emulator.setAccounts({ AKIDOTHER: "222222222222" });
    emulator.setQuota({ tpm: 50_000, byAccount: { "222222222222": { tpm: 70_000 } } });
    const mine = await serviceQuotas("GetServiceQuota", { ServiceCode: "bedrock", QuotaCode: QWEN_TPM.code }, "eu-west-1");
    expect(mine.status).toBe(200);
    expect(mine.json.Quota).toMatchObject({ QuotaName: QWEN_TPM.name, Value: 50_000 });
    const theirs = await serviceQuotas("GetServiceQuota", { ServiceCode: "bedrock", QuotaCode: QWEN_TPM.code }, "eu-west-1", "AKIDOTHER");
    expect(theirs.json.Quota).toMatchObject({ Value: 70_000, QuotaArn: `arn:aws:servicequotas:eu-west-1:222222222222:bedrock/${QWEN_TPM.code}` });
    for (const body of [{ ServiceCode: "bedrock", QuotaCode: QWEN_RPM.code }, { ServiceCode: "ec2", QuotaCode: "L-1216C47A" }]) {
      const missing = await serviceQuotas("GetServiceQuota", body);
      expect(missing.status).toBe(400);
      expect(missing.headers["x-amzn-errortype"]).toBe("NoSuchResourceException");
      expect(missing.json.__type).toBe("NoSuchResourceException");
    }
    const badToken = await serviceQuotas("ListServiceQuotas", { ServiceCode: "bedrock", NextToken: "nonsense" });
    expect(badToken.json.__type).toBe("InvalidPaginationTokenException");
    expect(emulator.stats().calls).toBe(0);
  });
});
