// Names from untrusted bytes, and how they are shown to people.
//
// Names (symbols, paths) are decoded as UTF-8; a byte that is not part of a
// valid UTF-8 sequence becomes a lone surrogate U+DC80..U+DCFF (Python's
// "surrogateescape"), so no byte is lost and two different names never
// decode alike. `escapeText` turns what a terminal would interpret (C0
// controls, DEL, C1 controls, lone surrogates: the bytes that were not UTF-8)
// into visible escapes: `\n`, `\t`, `\r`, `\e`, `\xNN`. It leaves backslashes
// alone, so escaping twice changes nothing.

/** bytes [start, end) of `b` as a name (UTF-8; undecodable bytes kept as U+DC80+byte). */
export function decodeName(b: Buffer, start: number, end: number): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (b[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  // latin1Slice: toString('latin1') without its argument handling (names are decoded by the thousand at start-up).
  if (ascii) return (b as Buffer & { latin1Slice(s: number, e: number): string }).latin1Slice(start, end);
  let out = '';
  let i = start;
  while (i < end) {
    const c = b[i];
    if (c < 0x80) {
      out += String.fromCharCode(c);
      i++;
      continue;
    }
    const n = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 ? (c <= 0xef ? 2 : 0) : c >= 0xc2 ? 1 : 0;
    let cp = n === 3 ? c & 0x07 : n === 2 ? c & 0x0f : c & 0x1f;
    let ok = n > 0 && i + n < end;
    for (let k = 1; ok && k <= n; k++) {
      const cc = b[i + k];
      if ((cc & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if (ok && ((n === 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n === 3 && (cp < 0x10000 || cp > 0x10ffff)))) ok = false;
    if (!ok) {
      out += String.fromCharCode(0xdc00 + c);
      i++;
      continue;
    }
    out += String.fromCodePoint(cp);
    i += n + 1;
  }
  return out;
}

const NAMED: Record<number, string> = { 0x0a: '\\n', 0x09: '\\t', 0x0d: '\\r', 0x1b: '\\e' };

// C0, DEL, C1, lone surrogates (a pair is fine), and the Unicode line/paragraph
// separators and bidi overrides a terminal or viewer might act on.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `s` with every control character and undecodable byte shown as an escape (one line, safe for a terminal). */
export function escapeText(s: string): string {
  if (typeof s !== 'string') s = String(s);
  return s.replace(UNSAFE, (ch) => {
    const c = ch.charCodeAt(0);
    if (NAMED[c]) return NAMED[c];
    if (c < 0x100) return '\\x' + c.toString(16).padStart(2, '0');
    // A byte that was not UTF-8 (decodeName), or any other lone surrogate.
    if (c >= 0xdc80 && c <= 0xdcff) return '\\x' + (c - 0xdc00).toString(16).padStart(2, '0');
    return '\\u' + c.toString(16).padStart(4, '0');
  });
}

/** C-style escapes for a string or character read from the tracee (or from a record): as typed values show them. */
export function escapeC(s: string, quote: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\' || ch === quote) out += '\\' + ch;
    else if (c === 10) out += '\\n';
    else if (c === 9) out += '\\t';
    else if (c === 13) out += '\\r';
    else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0)) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c >= 0xdc80 && c <= 0xdcff) out += '\\x' + (c - 0xdc00).toString(16); // a byte that was not UTF-8
    else if ((c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) out += '\\u' + c.toString(16);
    else out += ch;
  }
  return out;
}
