import type { TestProject } from "vitest/node";
import { type AwsTarget, startAwsTarget } from "./aws-target.ts";

declare module "vitest" {
  export interface ProvidedContext {
    awsTarget: AwsTarget;
  }
}

/** Start the integration target once for the whole run; test files connect to it over the wire. */
export default async function setup(project: TestProject) {
  const { target, stop } = await startAwsTarget(process.env);
  console.log(`integration target: ${target.description}`);
  project.provide("awsTarget", target);
  return stop;
}
