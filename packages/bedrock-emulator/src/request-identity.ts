/**
 * Who sent a request and to which Region, read from its SigV4 signature. The emulator checks no
 * signature; it reads the credential scope, `Credential=<access key>/<date>/<Region>/<service>/aws4_request`,
 * as the service's endpoint would know its own Region and the caller's account.
 */

/** The account an access key belongs to when the `accounts` setting does not name it. */
export const DEFAULT_ACCOUNT = "000000000000";

/** The Region unsigned requests are taken as (the model invocation job routes do the same). */
export const UNSIGNED_REGION = "us-east-1";

const CREDENTIAL = /Credential=([^/,\s]+)\/\d{8}\/([a-z0-9-]+)\//;

/** What the signature of a request says, when it was signed. */
export interface RequestIdentity {
  /** The Region the request was signed for; undefined for an unsigned request. */
  signedRegion: string | undefined;
  /** The Region whose quotas and outages apply: the signed one, else us-east-1. */
  region: string;
  /** The account the access key maps to (`accounts` setting), else the default account. */
  account: string;
}

/** The identity of a request from its Authorization header and the access key to account map. */
export function requestIdentity(authorization: string | undefined, accounts: ReadonlyMap<string, string>): RequestIdentity {
  const match = authorization === undefined ? null : CREDENTIAL.exec(authorization);
  const accessKey = match?.[1];
  const signedRegion = match?.[2];
  return {
    signedRegion,
    region: signedRegion ?? UNSIGNED_REGION,
    account: (accessKey === undefined ? undefined : accounts.get(accessKey)) ?? DEFAULT_ACCOUNT,
  };
}
