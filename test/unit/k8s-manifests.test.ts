import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { stackPropsFromContext } from "../../deploy/cdk/context.ts";
import { shutdownBudgetS } from "../../deploy/cdk/worker-settings.ts";
import { DEFAULTS, loadConfig } from "../../src/core/config/config.ts";
import { backlogPerTaskTarget, fleetCapacity } from "../../src/app/ops/fleet-size.ts";
import { Metrics } from "../../src/core/observability/metrics.ts";

const DIR = new URL("../../deploy/k8s/", import.meta.url);
const read = (file: string) => readFileSync(new URL(file, DIR), "utf8");

/** The fields of each manifest the checks below read; everything else is left to Kubernetes. */
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  data?: Record<string, string>;
}
interface Probe {
  httpGet: { path: string; port: string };
}
interface Deployment extends Manifest {
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        serviceAccountName: string;
        terminationGracePeriodSeconds: number;
        securityContext: { runAsNonRoot: boolean };
        containers: {
          args: string[];
          ports: { name: string; containerPort: number }[];
          envFrom: unknown[];
          livenessProbe: Probe;
          readinessProbe: Probe;
        }[];
      };
    };
  };
}
interface PodDisruptionBudget extends Manifest {
  spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } };
}
interface TriggerAuthentication extends Manifest {
  spec: { podIdentity: { provider: string; roleArn?: string } };
}
interface ScaledObject extends Manifest {
  spec: {
    scaleTargetRef: { name: string };
    maxReplicaCount: number;
    triggers: { type: string; authenticationRef?: { name: string }; metadata: Record<string, string> }[];
  };
}

const kustomization = parseAllDocuments(read("kustomization.yaml"))[0]!.toJS() as { resources: string[]; namespace: string };
const manifests: Manifest[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(read(file)).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join("; ")}`);
    return d.toJS() as Manifest;
  }),
);
function one<T extends Manifest = Manifest>(kind: string): T {
  const found = manifests.filter((m) => m.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as T;
}
const defaults = loadConfig({});
const deployment = one<Deployment>("Deployment");
const pod = deployment.spec.template.spec;
const container = pod.containers[0]!;
const config = one("ConfigMap").data!;
// The same example profile the CDK app synthesizes with.
const cdkContext = (JSON.parse(read("../cdk/cdk.json")) as { context: Record<string, unknown> }).context;
const { props } = stackPropsFromContext((k) => cdkContext[k]);

describe("deploy/k8s", () => {
  it("lists every manifest of the folder in kustomization.yaml, each parsing as YAML", () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    expect(kustomization.namespace).toBe("labelq");
    expect(manifests.map((m) => m.kind).sort()).toEqual(["ConfigMap", "Deployment", "Namespace", "PodDisruptionBudget", "ScaledObject", "ServiceAccount", "TriggerAuthentication"]);
  });

  it("probes the worker's /healthz and /readyz on its HTTP port, and grants the shutdown budget before SIGKILL", () => {
    expect(container.args).toEqual(["worker"]);
    const port = container.ports.find((p) => p.name === "http")?.containerPort;
    expect(port).toBe(defaults.http.port);
    expect(config.LABELQ_HTTP_PORT).toBe(String(port));
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
    expect(pod.terminationGracePeriodSeconds).toBe(shutdownBudgetS(defaults.worker));
    expect(container.envFrom).toEqual([{ configMapRef: { name: one("ConfigMap").metadata.name } }]);
  });

  it("runs as the service account that carries the worker's IAM role (IRSA or Pod Identity)", () => {
    const sa = one("ServiceAccount");
    expect(pod.serviceAccountName).toBe(sa.metadata.name);
    expect(sa.metadata.annotations?.["eks.amazonaws.com/role-arn"]).toMatch(/^arn:aws:iam::ACCOUNT_ID:role\//);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
  });

  it("lets voluntary disruptions take one worker at a time", () => {
    const pdb = one<PodDisruptionBudget>("PodDisruptionBudget");
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
  });

  it("scales with KEDA on visible backlog per pod (authenticated by pod identity) and on the batches pods are working on, never on quota-held messages, capped at what the quota feeds", async () => {
    const scaled = one<ScaledObject>("ScaledObject");
    const auth = one<TriggerAuthentication>("TriggerAuthentication");
    expect(scaled.spec.scaleTargetRef.name).toBe(deployment.metadata.name);
    expect(auth.spec.podIdentity.provider).toBe("aws");
    expect(scaled.spec.triggers.map((t) => t.type)).toEqual(["aws-sqs-queue", "prometheus"]);
    const [trigger, working] = scaled.spec.triggers as [ScaledObject["spec"]["triggers"][number], ScaledObject["spec"]["triggers"][number]];
    expect(trigger.authenticationRef?.name).toBe(auth.metadata.name);
    expect(trigger.metadata.identityOwner).toBeUndefined();
    expect(trigger.metadata.queueURL).toBe(config.LABELQ_REQUESTS_QUEUE_URL);
    expect(trigger.metadata.awsRegion).toBe(config.AWS_REGION);
    expect(trigger.metadata.activationQueueLength).toBe("0");
    // A message held back for quota is in flight in SQS for up to hours with no pod on it: only
    // visible messages count, and the batches being worked on come from labelq's own gauge.
    const concurrency = Number(config.LABELQ_CONCURRENCY);
    expect(trigger.metadata.scaleOnInFlight).toBe("false");
    expect(Number(trigger.metadata.queueLength)).toBe(backlogPerTaskTarget({ concurrency, secondsPerBatch: props.batch.secondsPerBatch }, props.acceptableLatencyS));
    const gauge = (await new Metrics({ defaultMetrics: false }).inFlight.get()).name;
    expect(working.metadata.query).toBe(`sum(${gauge}{namespace="${kustomization.namespace}"})`);
    expect(Number(working.metadata.threshold)).toBe(concurrency);
    expect(working.metadata.activationThreshold).toBe("0");
    const quota = { rpm: Number(config.LABELQ_QUOTA_RPM), tpm: Number(config.LABELQ_QUOTA_TPM) };
    expect(quota).toEqual(props.quota);
    const { maxUsefulTasks } = fleetCapacity({ ...props.batch, quota, concurrency });
    expect(scaled.spec.maxReplicaCount).toBe(maxUsefulTasks);
    expect(config.LABELQ_EXPECTED_WORKERS).toBe(String(maxUsefulTasks));
  });

  it("names only the queues and tables deploy/iam/worker-policy.json grants", () => {
    const policy = read("../iam/worker-policy.json");
    for (const key of ["LABELQ_REQUESTS_QUEUE_URL", "LABELQ_DLQ_URL"]) {
      expect(policy).toContain(`:${path.basename(config[key]!)}"`);
    }
    expect(path.basename(config.LABELQ_RESULTS_QUEUE_URL!)).toMatch(/^labelq-results/);
    expect(config.LABELQ_CACHE_TABLE).toBe(DEFAULTS.tables.cacheTable);
    expect(config.LABELQ_BATCHES_TABLE).toBe(DEFAULTS.tables.batchesTable);
    // The policy names each table; no pattern stands in for them.
    for (const table of [config.LABELQ_CACHE_TABLE, config.LABELQ_BATCHES_TABLE]) expect(policy).toContain(`:table/${table}"`);
    expect(policy).not.toMatch(/:table\/[^"]*\*/);
  });
});
