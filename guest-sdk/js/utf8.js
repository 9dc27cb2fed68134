// UTF-8 for QuickJS, which has no TextEncoder/TextDecoder: HTTP bodies and
// signed payloads cross the WIT boundary as bytes (`list<u8>`).
//
// Both behave like the WHATWG encoder and decoder (and Rust's
// `String::from_utf8_lossy`): a lone surrogate encodes as U+FFFD, and each
// maximal invalid byte sequence decodes as one U+FFFD. No imports, so
// `node --test` can check it against node's own TextEncoder/TextDecoder.

/** The UTF-8 bytes of `text`. */
export function encode(text) {
  const s = String(text);
  const out = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const low = s.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate
    if (c < 0x80) {
      out.push(c);
    } else if (c < 0x800) {
      out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    } else {
      out.push(
        0xf0 | (c >> 18),
        0x80 | ((c >> 12) & 0x3f),
        0x80 | ((c >> 6) & 0x3f),
        0x80 | (c & 0x3f),
      );
    }
  }
  return new Uint8Array(out);
}

/** The text of UTF-8 `bytes` (a Uint8Array or an array of numbers). */
export function decode(bytes) {
  let text = "";
  let units = [];
  const flush = () => {
    text += String.fromCharCode.apply(null, units);
    units = [];
  };
  for (let i = 0; i < bytes.length; ) {
    const [cp, used] = decodeOne(bytes, i);
    if (cp < 0x10000) {
      units.push(cp);
    } else {
      units.push(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
    }
    i += used;
    if (units.length >= 8192) flush();
  }
  flush();
  return text;
}

/** The code point at `bytes[i]` and how many bytes it used (U+FFFD if invalid). */
function decodeOne(bytes, i) {
  const lead = bytes[i];
  if (lead < 0x80) return [lead, 1];
  // Continuation bytes are 0x80..=0xbf, narrower after some leads: no
  // overlong forms, no surrogates, nothing past U+10FFFF.
  let need, cp;
  let lo = 0x80;
  let hi = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    need = 1;
    cp = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    need = 2;
    cp = lead & 0x0f;
    if (lead === 0xe0) lo = 0xa0;
    if (lead === 0xed) hi = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    need = 3;
    cp = lead & 0x07;
    if (lead === 0xf0) lo = 0x90;
    if (lead === 0xf4) hi = 0x8f;
  } else {
    return [0xfffd, 1];
  }
  for (let k = 1; k <= need; k++) {
    const b = bytes[i + k];
    if (b === undefined || b < lo || b > hi) return [0xfffd, k];
    cp = (cp << 6) | (b & 0x3f);
    lo = 0x80;
    hi = 0xbf;
  }
  return [cp, need + 1];
}
