import type { ToolChoiceKind } from "./converse-request.ts";

/**
 * The Bedrock emulator's own table of what Bedrock does per model. It is kept here, apart
 * from labelq's model catalogue, on purpose: if the emulator read labelq's figures it would
 * agree with labelq by construction. Every figure names where it comes from; the same
 * sources, and the figures that could not be confirmed, are listed in
 * docs/bedrock-fidelity.md.
 */

/** Which tokenizer counts a model's tokens (see tokens.ts). */
export type TokenizerKind = "llama3" | "approximate";

/** How a model takes the sampling parameters. */
export type SamplingRule =
  /** temperature and topP may be sent together. */
  | "any"
  /** temperature or topP, never both (Claude Sonnet 4.5, Haiku 4.5, Opus 4.1 and later). */
  | "temperature-or-top-p";

/** Cross-region inference profile prefixes: `<prefix>.<base model id>`. */
export type ProfilePrefix = "us" | "eu" | "apac" | "global";

export interface BedrockModel {
  name: string;
  /** The base model id, e.g. "meta.llama3-70b-instruct-v1:0". */
  baseId: string;
  /** Whether the base id can be invoked on demand; false: only through an inference profile. */
  onDemand: boolean;
  /** The inference profiles Bedrock offers for the model. */
  profiles: readonly ProfilePrefix[];
  /** Input tokens the model takes at most. */
  contextTokens: number;
  /** Highest inferenceConfig.maxTokens Bedrock accepts; also what it reserves when maxTokens is not sent. */
  maxOutputTokens: number;
  sampling: SamplingRule;
  /** toolChoice members the model takes; "none" when any toolConfig is refused. */
  toolChoices: readonly ToolChoiceKind[] | "none";
  /** Explicit prompt caching (cachePoint): the minimum cacheable prefix in tokens, or undefined when cachePoint is refused. */
  promptCacheMinTokens: number | undefined;
  /** Quota tokens one output token uses up (docs: quotas-token-burndown). */
  outputBurndown: number;
  tokenizer: TokenizerKind;
  /**
   * Whether batch inference (CreateModelInvocationJob) takes the model, by the same ids Converse
   * takes (the base id where it answers on demand, else its inference profiles). Absent: no.
   */
  batch?: boolean;
  /** The on-demand service tiers the model offers besides default (docs: service-tiers-inference). Absent: default only. */
  serviceTiers?: readonly ("priority" | "flex")[];
  /** The Regions those tiers are offered in (the same page); absent: wherever the model answers. */
  tierRegions?: readonly string[];
  /** How Service Quotas names the model in its quota names ("On-demand model inference tokens per minute for <name>"). */
  quotaName?: string;
  /** Where the figures come from (short references, expanded in docs/bedrock-fidelity.md). */
  sources: readonly string[];
}

// Short references, one per source, so the table stays readable.
const S = {
  metaParams: "docs: model-parameters-meta (max_gen_len at most 2048)",
  llama3Cap: "BerriAI/litellm#33413 (service answer: exceeds the model limit of 2048, meta.llama3-70b)",
  llama31Cap: "aws-samples/bedrock-access-gateway#41 (service answer: exceeds the model limit of 2048, Llama 3.1 70B)",
  llama4Cap: "braintrustdata/braintrust-proxy#557 (max output 8,000; not an AWS page)",
  converseFeatures: "docs: conversation-inference-supported-models-features",
  toolChoice: "docs: API_runtime_ToolChoice (tool: Claude 3 and Nova only)",
  novaToolChoice: "docs: nova/latest/userguide/tool-choice (tool, any, auto)",
  profiles: "docs: inference-profiles-support; issues quoting the on-demand ValidationException",
  sampling: "BerriAI/litellm#15070, aws-samples/bedrock-access-gateway#191, BoltAI/BoltAI#399",
  claudeCap: "Anthropic model overview (64K max output, Sonnet 4.5 and Haiku 4.5)",
  cacheMin: "docs: prompt-caching (minimum tokens per cache checkpoint); anthropics/anthropic-sdk-python#1194",
  novaCache: "docs: prompt-caching (Nova Micro/Lite/Pro); minimum not confirmed",
  novaCap: "monadierickx/swift-fm-playground parameter_cheatsheet (Nova maxTokens 5,000); not confirmed",
  burndown: "docs: quotas-token-burndown (5x output for Claude 4 models)",
  noCache: "strands-agents/harness-sdk#1807, agentgateway/agentgateway#2751 (Llama and other models: 403 AccessDeniedException)",
  batch: "docs: batch-inference-supported (Nova Micro/Lite/Pro read there; Llama 3.3, Claude 4.5 listed per that page, rows not read here)",
  context: "model cards: Llama 3 8K, Llama 3.3 128K, Claude 4.5 200K, Nova Micro 128K, Nova Lite/Pro 300K; Llama 4 not confirmed",
  tiers: "docs: service-tiers-inference (models and Regions supported by Priority and Flex)",
  quotaNames: "Service Quotas names (aws.amazon.com/startups/prompt-library/bedrock-quota-manager; Kilo-Org/aws-bedrock-o11y quota registry)",
  openai: "docs: model-parameters-openai (openai.gpt-oss-120b-1:0, context 128,000)",
  gptOssCap: "anomalyco/models.dev#1775 (Bedrock GPT-OSS output 16K, after the AWS model card); not confirmed here",
  qwen: "braintrustdata/braintrust-proxy#549/#550/#629 (qwen.qwen3-32b-v1:0, output 8K; context 32K or 128K, disputed)",
  openWeightBatch: "Service Quotas batch inference job quotas for Qwen3 32B and OpenAI GPT OSS 120b (L-09A792C8, L-3C5D1B25)",
} as const;

// Regions where Priority and Flex are offered for gpt-oss-120b and Qwen3 32B (docs: service-tiers-inference).
const OPEN_WEIGHT_TIER_REGIONS = [
  "us-east-1", "us-east-2", "us-west-2", "ap-northeast-1", "ap-south-1", "ap-southeast-3",
  "eu-central-1", "eu-north-1", "eu-south-1", "eu-west-1", "eu-west-2", "sa-east-1",
] as const;

// Nova Pro's Priority and Flex Regions (the same page; starred ones may be served from several Regions).
const NOVA_PRO_TIER_REGIONS = [
  "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-south-1",
  "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7",
  "eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1",
] as const;

const LLAMA3_SOURCES = [S.metaParams, S.llama3Cap, S.converseFeatures, S.noCache, S.context];
const CLAUDE_45_SOURCES = [S.profiles, S.sampling, S.claudeCap, S.toolChoice, S.cacheMin, S.burndown, S.context, S.batch];
const NOVA_SOURCES = [S.novaCap, S.novaToolChoice, S.novaCache, S.context, S.batch];

/** Scout and Maverick share every rule the emulator models; only their names and ids differ. */
const LLAMA4_RULES: Omit<BedrockModel, "name" | "baseId"> = {
  onDemand: false,
  profiles: ["us"],
  contextTokens: 1_000_000,
  maxOutputTokens: 8000,
  sampling: "any",
  toolChoices: ["auto"],
  promptCacheMinTokens: undefined,
  outputBurndown: 1,
  // Llama 4 has its own (larger) vocabulary; the Llama 3 tokenizer is an approximation of it.
  tokenizer: "approximate",
  // Not confirmed either way: the stricter answer, refused.
  batch: false,
  sources: [S.llama4Cap, S.toolChoice, S.profiles, S.noCache, S.context],
};

export const BEDROCK_MODELS: readonly BedrockModel[] = [
  {
    name: "Llama 3 70B Instruct",
    baseId: "meta.llama3-70b-instruct-v1:0",
    quotaName: "Meta Llama 3 70B Instruct",
    onDemand: true,
    profiles: [],
    contextTokens: 8_192,
    maxOutputTokens: 2048,
    sampling: "any",
    // The Converse feature table lists no tool use for Llama 3: any toolConfig is refused.
    toolChoices: "none",
    promptCacheMinTokens: undefined,
    outputBurndown: 1,
    tokenizer: "llama3",
    // Not in the batch inference model list (Llama 3.1 and later are).
    batch: false,
    sources: LLAMA3_SOURCES,
  },
  {
    name: "Llama 3.3 70B Instruct",
    baseId: "meta.llama3-3-70b-instruct-v1:0",
    quotaName: "Meta Llama 3.3 70B Instruct",
    onDemand: false,
    profiles: ["us"],
    // 2048 as for Llama 3 and 3.1 on Converse; 8K is reported elsewhere (see the fidelity doc).
    contextTokens: 128_000,
    maxOutputTokens: 2048,
    sampling: "any",
    // Tools, but no forced call: toolChoice tool is Claude 3 and Nova only.
    toolChoices: ["auto"],
    promptCacheMinTokens: undefined,
    outputBurndown: 1,
    tokenizer: "llama3",
    batch: true,
    sources: [...LLAMA3_SOURCES, S.llama31Cap, S.toolChoice, S.profiles, S.batch],
  },
  { ...LLAMA4_RULES, name: "Llama 4 Scout 17B Instruct", baseId: "meta.llama4-scout-17b-instruct-v1:0", quotaName: "Meta Llama 4 Scout V1" },
  { ...LLAMA4_RULES, name: "Llama 4 Maverick 17B Instruct", baseId: "meta.llama4-maverick-17b-instruct-v1:0", quotaName: "Meta Llama 4 Maverick V1" },
  {
    name: "Claude Sonnet 4.5",
    baseId: "anthropic.claude-sonnet-4-5-20250929-v1:0",
    quotaName: "Anthropic Claude Sonnet 4.5 V1",
    onDemand: false,
    profiles: ["us", "eu", "apac", "global"],
    contextTokens: 200_000,
    maxOutputTokens: 64_000,
    sampling: "temperature-or-top-p",
    toolChoices: ["auto", "any", "tool"],
    promptCacheMinTokens: 1024,
    outputBurndown: 5,
    tokenizer: "approximate",
    batch: true,
    sources: CLAUDE_45_SOURCES,
  },
  {
    name: "Claude Haiku 4.5",
    baseId: "anthropic.claude-haiku-4-5-20251001-v1:0",
    quotaName: "Anthropic Claude Haiku 4.5",
    onDemand: false,
    profiles: ["us", "eu", "apac", "global"],
    contextTokens: 200_000,
    maxOutputTokens: 64_000,
    sampling: "temperature-or-top-p",
    toolChoices: ["auto", "any", "tool"],
    promptCacheMinTokens: 4096,
    outputBurndown: 5,
    tokenizer: "approximate",
    batch: true,
    sources: CLAUDE_45_SOURCES,
  },
  {
    name: "Amazon Nova Micro",
    baseId: "amazon.nova-micro-v1:0",
    quotaName: "Amazon Nova Micro",
    onDemand: true,
    profiles: ["us", "eu", "apac"],
    contextTokens: 128_000,
    maxOutputTokens: 5000,
    sampling: "any",
    toolChoices: ["auto", "any", "tool"],
    promptCacheMinTokens: 1000,
    outputBurndown: 1,
    tokenizer: "approximate",
    batch: true,
    sources: NOVA_SOURCES,
  },
  {
    name: "Amazon Nova Lite",
    baseId: "amazon.nova-lite-v1:0",
    quotaName: "Amazon Nova Lite",
    onDemand: true,
    profiles: ["us", "eu", "apac"],
    contextTokens: 300_000,
    maxOutputTokens: 5000,
    sampling: "any",
    toolChoices: ["auto", "any", "tool"],
    promptCacheMinTokens: 1000,
    outputBurndown: 1,
    tokenizer: "approximate",
    batch: true,
    sources: NOVA_SOURCES,
  },
  {
    name: "Amazon Nova Pro",
    baseId: "amazon.nova-pro-v1:0",
    quotaName: "Amazon Nova Pro",
    serviceTiers: ["priority", "flex"],
    tierRegions: NOVA_PRO_TIER_REGIONS,
    onDemand: true,
    profiles: ["us", "eu", "apac"],
    contextTokens: 300_000,
    maxOutputTokens: 5000,
    sampling: "any",
    toolChoices: ["auto", "any", "tool"],
    promptCacheMinTokens: 1000,
    outputBurndown: 1,
    tokenizer: "approximate",
    batch: true,
    sources: [...NOVA_SOURCES, S.tiers],
  },
  {
    name: "Qwen3 32B",
    baseId: "qwen.qwen3-32b-v1:0",
    quotaName: "Qwen3 32B V1",
    serviceTiers: ["priority", "flex"],
    tierRegions: OPEN_WEIGHT_TIER_REGIONS,
    // In-Region only: Service Quotas lists on-demand quotas for it and no cross-Region ones.
    onDemand: true,
    profiles: [],
    // 32,768 (Qwen3's native context) rather than the 128K also reported: the stricter figure.
    contextTokens: 32_768,
    maxOutputTokens: 8192,
    sampling: "any",
    // Tools, but no forced call: toolChoice tool is Claude 3 and Nova only.
    toolChoices: ["auto"],
    promptCacheMinTokens: undefined,
    outputBurndown: 1,
    tokenizer: "approximate",
    batch: true,
    sources: [S.qwen, S.tiers, S.quotaNames, S.toolChoice, S.noCache, S.openWeightBatch],
  },
  {
    name: "gpt-oss-120b",
    baseId: "openai.gpt-oss-120b-1:0",
    quotaName: "OpenAI GPT OSS 120B",
    serviceTiers: ["priority", "flex"],
    tierRegions: OPEN_WEIGHT_TIER_REGIONS,
    onDemand: true,
    profiles: [],
    contextTokens: 128_000,
    maxOutputTokens: 16_384,
    sampling: "any",
    toolChoices: ["auto"],
    promptCacheMinTokens: undefined,
    outputBurndown: 1,
    tokenizer: "approximate",
    batch: true,
    sources: [S.openai, S.gptOssCap, S.tiers, S.quotaNames, S.toolChoice, S.noCache, S.openWeightBatch],
  },
];

/** What a model id in a request names: the model, and the inference profile it went through, if any. */
export interface ModelLookup {
  model: BedrockModel;
  /** The profile prefix, or undefined for a base model id. */
  profile: string | undefined;
}

const byBaseId = new Map(BEDROCK_MODELS.map((m) => [m.baseId, m]));
const PROFILE_PREFIX = /^([a-z]{2,6})\.(.+)$/;

/** The model behind a model id or inference profile id, or undefined when Bedrock would not know it. */
export function lookUpModel(modelId: string): ModelLookup | undefined {
  const base = byBaseId.get(modelId);
  if (base !== undefined) return { model: base, profile: undefined };
  const match = PROFILE_PREFIX.exec(modelId);
  if (match?.[1] === undefined || match[2] === undefined) return undefined;
  const model = byBaseId.get(match[2]);
  if (model === undefined) return undefined;
  return { model, profile: match[1] };
}
