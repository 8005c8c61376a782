/**
 * Tiny lexicons that make the simulated classifier's answers look plausible. They are
 * deliberately crude: the point is repeatable test data, not accuracy.
 */

const POSITIVE = [
  "love", "loved", "loving", "great", "excellent", "perfect", "super", "amazing", "awesome", "fantastic",
  "good", "best", "happy", "recommend", "wonderful", "nice",
  "génial", "genial", "parfait", "parfaite", "j'adore", "adore", "excellente", "merveilleux",
  "toll", "prima", "klasse", "liebe", "perfekt", "empfehlen", "empfehlenswert", "hervorragend", "gut",
  "excelente", "encanta", "perfecto", "bueno", "buenísimo", "ottimo", "bellissimo", "fantastico",
  "świetny", "doskonały", "polecam",
];

const NEGATIVE = [
  "broken", "broke", "terrible", "awful", "refund", "worst", "bad", "poor", "disappointed", "disappointing",
  "useless", "waste", "never again", "returned", "defective", "horrible", "hate", "scam", "late",
  "nie wieder", "kaputt", "schlecht", "enttäuscht", "enttäuschend", "furchtbar", "schrecklich", "rückerstattung",
  "cassé", "cassée", "nul", "nulle", "décevant", "décevante", "remboursement", "jamais plus",
  "roto", "rota", "malo", "mala", "pésimo", "devolución", "decepcionante",
  "rotto", "pessimo", "deludente", "rimborso",
  "zepsuty", "okropny", "fatalny", "zwrot",
];

const SARCASM = ["yeah right", "genius", "great, another", "oh great", "just what i needed", "thanks a lot", "sure, because", "oh wonderful", "what a surprise"];

const SPAM_WORDS = ["free", "click", "crypto", "bitcoin", "winner", "prize", "buy now", "promo code", "discount code", "subscribe", "giveaway", "dm me"];

const STOPWORDS: Record<string, string[]> = {
  en: ["the", "and", "is", "it", "this", "that", "not", "very", "was", "with", "my", "but", "i", "a", "to", "of", "for", "after"],
  de: ["der", "die", "das", "und", "ist", "nicht", "sehr", "ich", "mit", "nie", "ein", "eine", "aber"],
  fr: ["le", "la", "les", "et", "est", "pas", "très", "je", "avec", "c'est", "une", "mais", "des"],
  es: ["el", "la", "los", "y", "es", "no", "muy", "con", "pero", "que", "una", "está", "las"],
  it: ["il", "è", "non", "molto", "con", "che", "per", "una", "ma", "sono", "gli"],
  nl: ["de", "het", "en", "niet", "zeer", "ik", "met", "een", "maar", "erg", "is"],
  pt: ["o", "não", "muito", "com", "é", "que", "um", "uma", "mas", "os", "está"],
  pl: ["nie", "jest", "i", "bardzo", "to", "że", "się", "ale", "na", "mam"],
};

export type Polarity = "positive" | "negative" | "mixed" | "neutral";

/** What the heuristics read from one text. */
export interface TextSignals {
  polarity: Polarity;
  sarcastic: boolean;
  spammy: boolean;
  /** ISO 639-1 guess, undefined when no stopword list wins. */
  language: string | undefined;
}

// " word word " with single spaces, so phrases match on word boundaries with includes().
function normalise(text: string): string {
  return ` ${(text.toLowerCase().match(/[\p{L}\p{N}'/]+/gu) ?? []).join(" ")} `;
}

function count(words: string, lexicon: string[]): number {
  return lexicon.filter((w) => words.includes(` ${w} `)).length;
}

function guessLanguage(words: string): string | undefined {
  let best: string | undefined;
  let bestScore = 0;
  let tie = false;
  for (const [lang, list] of Object.entries(STOPWORDS)) {
    const score = count(words, list);
    if (score > bestScore) [best, bestScore, tie] = [lang, score, false];
    else if (score === bestScore && score > 0) tie = true;
  }
  return tie ? undefined : best;
}

/** Reads sentiment, sarcasm, spam and language signals from a text. */
export function readSignals(text: string): TextSignals {
  const words = normalise(text);
  const lower = text.toLowerCase();
  // "/s" only as its own token, so URLs such as https://shop... don't count.
  const sarcastic = SARCASM.some((m) => lower.includes(m)) || /(^|\s)\/s($|[\s.!?])/.test(lower);
  const pos = count(words, POSITIVE);
  const neg = count(words, NEGATIVE);
  // Sarcastic praise is a complaint.
  const polarity: Polarity = sarcastic || (neg > 0 && pos === 0) ? "negative" : pos > 0 && neg === 0 ? "positive" : pos > 0 ? "mixed" : "neutral";
  const spammy = /https?:\/\/|www\./i.test(text) || count(words, SPAM_WORDS) > 0;
  return { polarity, sarcastic, spammy, language: guessLanguage(words) };
}
