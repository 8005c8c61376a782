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
});
