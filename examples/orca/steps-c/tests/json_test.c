/* json.c on its own, compiled natively (tests/tests/lang_c.rs runs it with
 * the machine's cc and sanitizers): what it accepts, refuses and decodes.
 * Prints `N passed, N failed` and exits non-zero on any failure. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json.h"

static int passed, failed;

static void check(bool ok, const char *what, int line) {
  if (ok) {
    passed++;
  } else {
    failed++;
    fprintf(stderr, "json_test.c:%d: %s\n", line, what);
  }
}
#define CHECK(x) check((x), #x, __LINE__)

static json_t j(const char *text) { return json_text(text, strlen(text)); }

static bool valid(const char *text) { return json_valid(j(text)); }

/* Member `key` of `object` is exactly `expected` (NULL: there is none). */
static bool member(const char *object, const char *key, const char *expected) {
  json_t v;
  if (!json_get(j(object), key, &v)) return expected == NULL;
  return expected && v.len == strlen(expected) && memcmp(v.ptr, expected, v.len) == 0;
}

/* The string value `text` decodes to `expected` (`len` bytes). */
static bool decodes(const char *text, const char *expected, size_t len) {
  size_t n;
  char *s = json_string(j(text), &n);
  bool ok = s && n == len && memcmp(s, expected, len) == 0 && s[n] == 0;
  free(s);
  return ok;
}

int main(void) {
  /* RFC 8259 documents, and near misses. */
  const char *good[] = {"0", "-0", "12.5e-3", "1E+2", "true", "false", "null", "\"\"",
                        " [ ] ", "{}", "[1,[2,{\"a\":[]}],\"x\"]", "{\"a\":{\"b\":null}}",
                        "\"\\u00e9\\ud83d\\ude00\\n\\\"\\\\\\/\""};
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) CHECK(valid(good[i]));
  const char *bad[] = {"",      " ",       "01",      "1.",      ".5",      "-",
                       "1e",    "+1",      "tru",     "nul",     "\"abc",   "\"\\x\"",
                       "[1,]",  "[1 2]",   "{\"a\"}", "{a:1}",   "{\"a\":1,}", "[",
                       "]",     "1 2",     "\"\\ud800\"", "\"\\udc00\"", "\"\\u12\"",
                       "\"a\nb\"", "{\"a\":1 \"b\":2}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    if (valid(bad[i])) fprintf(stderr, "accepted: %s\n", bad[i]);
    CHECK(!valid(bad[i]));
  }

  /* Nesting: up to JSON_MAX_DEPTH levels, not one more. */
  char deep[2 * (JSON_MAX_DEPTH + 1) + 1];
  memset(deep, '[', JSON_MAX_DEPTH);
  memset(deep + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
  deep[2 * JSON_MAX_DEPTH] = 0;
  CHECK(json_valid(json_text(deep, 2 * JSON_MAX_DEPTH)));
  memset(deep, '[', JSON_MAX_DEPTH + 1);
  memset(deep + JSON_MAX_DEPTH + 1, ']', JSON_MAX_DEPTH + 1);
  CHECK(!json_valid(json_text(deep, 2 * (JSON_MAX_DEPTH + 1))));

  /* Only `len` bytes are read: a value cut short is not JSON. */
  CHECK(!json_valid(json_text("[1,2]", 4)));
  CHECK(json_valid(json_text("12345", 2)));

  /* Types, by first character. */
  CHECK(json_type(j("  {}")) == '{');
  CHECK(json_type(j("-1")) == '-');
  CHECK(json_type(j("   ")) == 0);

  /* Members: by decoded name, values as slices, nested ones skipped whole. */
  const char *todo = "{ \"title\": \"a}b\", \"_id\" : {\"$oid\":\"6b04\"}, \"n\":[1,{\"_id\":2}] }";
  CHECK(member(todo, "_id", "{\"$oid\":\"6b04\"}"));
  CHECK(member(todo, "title", "\"a}b\""));
  CHECK(member(todo, "n", "[1,{\"_id\":2}]"));
  CHECK(member(todo, "$oid", NULL));
  CHECK(member("{\"a\\u0062\":1}", "ab", "1"));
  CHECK(member("{}", "a", NULL));
  CHECK(member("[\"a\"]", "a", NULL));

  /* Arrays: every item in order; the end, or a malformed rest, stops. */
  json_iter_t it;
  json_t item;
  CHECK(json_each(j("[ \"w1\" , {\"x\":[1]} ,3 ]"), &it));
  CHECK(json_next(&it, &item) && decodes("\"w1\"", "w1", 2));
  CHECK(json_next(&it, &item) && item.len == 9 && memcmp(item.ptr, "{\"x\":[1]}", 9) == 0);
  CHECK(json_next(&it, &item) && json_type(item) == '3');
  CHECK(!json_next(&it, &item));
  CHECK(json_each(j("[]"), &it) && !json_next(&it, &item));
  CHECK(!json_each(j("{}"), &it));
  CHECK(json_each(j("[1 2]"), &it) && !json_next(&it, &item));

  /* Strings: escapes and surrogate pairs decoded to UTF-8; NULs kept. */
  CHECK(decodes("\"plain\"", "plain", 5));
  CHECK(decodes("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8));
  CHECK(decodes("\"\\u00e9\\u20ac\"", "\xc3\xa9\xe2\x82\xac", 5));
  CHECK(decodes("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4));
  CHECK(decodes("\"a\\u0000b\"", "a\0b", 3));
  CHECK(decodes("\"caf\xc3\xa9\"", "caf\xc3\xa9", 5));
  size_t n;
  CHECK(json_string(j("12"), &n) == NULL);
  CHECK(json_string(j("\"\\ud83d\""), &n) == NULL);

  /* Writing: quoting escapes what JSON requires and round-trips. */
  json_out_t out = {0};
  json_lit(&out, "{\"k\":");
  json_quote(&out, "a\"b\\c\n\x01\0z", 9);
  json_lit(&out, ",\"n\":");
  json_u64(&out, 18446744073709551615ull);
  json_lit(&out, "}");
  CHECK(!out.failed);
  CHECK(strcmp(out.ptr, "{\"k\":\"a\\\"b\\\\c\\u000a\\u0001\\u0000z\",\"n\":18446744073709551615}") == 0);
  CHECK(json_valid(json_text(out.ptr, out.len)));
  json_t k;
  CHECK(json_get(json_text(out.ptr, out.len), "k", &k) && decodes("\"a\\\"b\\\\c\\n\\u0001\\u0000z\"", "a\"b\\c\n\x01\0z", 9));
  CHECK(json_get(json_text(out.ptr, out.len), "k", &k));
  char *back = json_string(k, &n);
  CHECK(back && n == 9 && memcmp(back, "a\"b\\c\n\x01\0z", 9) == 0);
  free(back);
  free(out.ptr);

  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
