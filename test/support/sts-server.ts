import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A minimal STS for tests: answers AssumeRole (query protocol, form-encoded POST, XML answer as
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html shows) with the access
 * key the test gave each role, and refuses a role it does not know with AccessDenied. Neither the
 * embedded stack (fauxqs) nor the Bedrock emulator serves STS.
 */
export interface StsServer {
  url: string;
  /** Each AssumeRole call received: the role and session name asked for. */
  calls: { roleArn: string; sessionName: string }[];
  close(): Promise<void>;
}

/** Start the STS on a free port; `roles` maps a role ARN to the access key its credentials carry. */
export async function startStsServer(roles: Record<string, string>): Promise<StsServer> {
  const calls: StsServer["calls"] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      const roleArn = form.get("RoleArn") ?? "";
      const sessionName = form.get("RoleSessionName") ?? "";
      if (form.get("Action") !== "AssumeRole") return xml(res, 400, error("InvalidAction", `unknown action ${form.get("Action") ?? ""}`));
      calls.push({ roleArn, sessionName });
      const accessKeyId = roles[roleArn];
      if (accessKeyId === undefined) return xml(res, 403, error("AccessDenied", `not authorized to perform sts:AssumeRole on ${roleArn}`));
      const expiration = new Date(Date.now() + 3_600_000).toISOString();
      xml(
        res,
        200,
        `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>` +
          `<AssumedRoleUser><Arn>${roleArn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/")}/${sessionName}</Arn><AssumedRoleId>AROATEST:${sessionName}</AssumedRoleId></AssumedRoleUser>` +
          `<Credentials><AccessKeyId>${accessKeyId}</AccessKeyId><SecretAccessKey>secret-${accessKeyId}</SecretAccessKey><SessionToken>token-${accessKeyId}</SessionToken><Expiration>${expiration}</Expiration></Credentials>` +
          `</AssumeRoleResult><ResponseMetadata><RequestId>sts-test</RequestId></ResponseMetadata></AssumeRoleResponse>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function error(code: string, message: string): string {
  return `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>sts-test</RequestId></ErrorResponse>`;
}

function xml(res: import("node:http").ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "text/xml", "x-amzn-requestid": "sts-test" });
  res.end(body);
}
