import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { stackPropsFromContext } from "../../deploy/cdk/context.ts";

const cdkJson = JSON.parse(readFileSync(new URL("../../deploy/cdk/cdk.json", import.meta.url), "utf8")) as { context: Record<string, unknown> };

describe("stackPropsFromContext", () => {
  it("reads the example context in deploy/cdk/cdk.json", () => {
    const { stackName, props } = stackPropsFromContext((k) => cdkJson.context[k]);
    expect(stackName).toBe("Labelq");
    expect(props.quota).toEqual({ rpm: 200, tpm: 600_000 });
    expect(props.compute).toBe("ecs");
    expect(props.env).toBeUndefined();
  });

  it("takes -c overrides as strings and names every bad key", () => {
    const ctx: Record<string, unknown> = { ...cdkJson.context, fifo: "true", quotaRpm: "300", compute: "k8s", redisUrl: "http://x" };
    expect(() => stackPropsFromContext((k) => ctx[k])).toThrow(/compute="k8s"[\s\S]*redisUrl="http:\/\/x": expected a redis/);
    const ok = stackPropsFromContext((k) => ({ ...ctx, compute: "lambda", redisUrl: undefined })[k]);
    expect(ok.props.fifo).toBe(true);
    expect(ok.props.quota.rpm).toBe(300);
  });

  it("takes the quota share and the batch's output and reserved tokens, refusing a share outside (0, 1]", () => {
    const ctx: Record<string, unknown> = { ...cdkJson.context, quotaShare: "0.5", outputTokensPerBatch: "3000", reservedTokensPerBatch: "14000" };
    const { props } = stackPropsFromContext((k) => ctx[k]);
    expect(props.quotaShare).toBe(0.5);
    expect(props.batch).toMatchObject({ outputTokensPerBatch: 3_000, reservedTokensPerBatch: 14_000 });
    expect(() => stackPropsFromContext((k) => ({ ...ctx, quotaShare: "0" })[k])).toThrow(/quotaShare="0"/);
    expect(() => stackPropsFromContext((k) => ({ ...ctx, quotaShare: "1.5" })[k])).toThrow(/quotaShare="1.5"/);
  });
});
