/**
 * Scrubs secrets and personal data out of a finished log line, wherever in it they are: a
 * field, the message, an error's message or stack, a SQL parameter. pino's own `redact`
 * only knows field paths; a token pasted into an error message slips past it. This runs on
 * the serialised line, so nothing escapes by its position. Replacements contain no quote or
 * backslash, so the line stays valid JSON.
 */

/** Luhn's checksum: what card numbers satisfy (and most other long digit runs do not). */
function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

const PATTERNS: Array<[RegExp, string | ((match: string) => string)]> = [
  // Authorization header values, whatever the token.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 [redacted]'],
  // JWTs anywhere (three base64url parts, the first a JSON header).
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, '[jwt]'],
  // Paddle API keys, notification secrets and client tokens.
  [/\bpdl_(?:[a-z]+_)?(?:apikey|ntfset)_[A-Za-z0-9_]+/g, (m) => `[key ****${m.slice(-4)}]`],
  [/\b(?:test|live)_[a-f0-9]{24,}/g, (m) => `[token ****${m.slice(-4)}]`],
  // Webhook signature values (Mock-Signature v1=…, Paddle-Signature h1=…).
  [/\b([vh]1)=[0-9a-f]{16,}/gi, '$1=[redacted]'],
  // A password in a connection string.
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s"]+:)[^@\s"]+@/gi, '$1[redacted]@'],
  // E-mail addresses.
  [/[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g, '[email]'],
  // Card-like numbers: 13 to 19 digits, spaces or dashes allowed, passing Luhn's check.
  // Not after a colon: a JSON number field (a timestamp) is not a card.
  [
    /(?<![A-Za-z0-9:.])(?:\d[ -]?){12,18}\d(?![A-Za-z0-9])/g,
    (m) => (luhnValid(m.replace(/[ -]/g, '')) ? '[card]' : m),
  ],
];

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A scrubber for log lines; `secrets` (configured keys) are hidden wherever they appear. */
export function createRedactor(secrets: ReadonlyArray<string | undefined | null> = []) {
  const known = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 8);
  const exact =
    known.length > 0
      ? new RegExp(
          known
            .sort((a, b) => b.length - a.length)
            .map(escapeRegExp)
            .join('|'),
          'g',
        )
      : undefined;
  return (line: string): string => {
    let out = exact ? line.replace(exact, (m) => `[secret ****${m.slice(-4)}]`) : line;
    for (const [pattern, replacement] of PATTERNS) {
      out = out.replace(pattern, replacement as string);
    }
    return out;
  };
}
