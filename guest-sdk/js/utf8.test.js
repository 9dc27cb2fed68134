// `node --test guest-sdk/js/`: utf8.js against node's TextEncoder/TextDecoder.

import { test } from "node:test";
import assert from "node:assert/strict";

import { decode, encode } from "./utf8.js";

const samples = [
  "",
  "plain ascii",
  "é ß ñ",
  "日本語",
  "emoji 🎉 and 𝄞",
  "lone \ud800 high",
  "lone \udc00 low",
  "reversed \udc00\ud800 pair",
  "ends high \ud83d",
  "\u0000\u007f\u0080\u07ff\u0800\uffff",
];

test("encode matches TextEncoder", () => {
  const encoder = new TextEncoder();
  for (const s of samples) {
    assert.deepEqual(encode(s), encoder.encode(s), JSON.stringify(s));
  }
});

test("decode matches TextDecoder on valid and invalid bytes", () => {
  const decoder = new TextDecoder();
  const cases = [
    ...samples.map((s) => new TextEncoder().encode(s)),
    [0xff],
    [0xc0, 0x80], // overlong
    [0xe0, 0x80, 0x80], // overlong
    [0xed, 0xa0, 0x80], // a surrogate
    [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
    [0xe6, 0x97], // truncated
    [0x61, 0xf0, 0x9f, 0x8e, 0x62], // truncated in the middle
    [0x80, 0x80, 0x41],
  ];
  for (const bytes of cases) {
    const b = Uint8Array.from(bytes);
    assert.equal(decode(b), decoder.decode(b), `[${bytes}]`);
  }
});

test("decode matches TextDecoder on random bytes", () => {
  const decoder = new TextDecoder();
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256;
  for (let n = 0; n < 2000; n++) {
    const b = Uint8Array.from({ length: n % 40 }, next);
    assert.equal(decode(b), decoder.decode(b), `[${b}]`);
  }
});

test("decode handles long input in chunks", () => {
  const s = "ab€🎉".repeat(10000);
  assert.equal(decode(encode(s)), s);
});
