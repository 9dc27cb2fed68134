/* The little JSON a stage needs: read values out of the JSON text the host
 * hands over, and write JSON text back. Not a general library: values are
 * slices of the original text (nothing is built in memory), objects are
 * searched by key, arrays walked in order, and strings decoded on request.
 *
 * Reading is strict: json_valid() checks a whole document against RFC 8259
 * (nesting up to JSON_MAX_DEPTH); check what the host hands over with it
 * first. The other readers never read past a value's end, and stop (false
 * or NULL) at anything that is not JSON rather than guess. */
#ifndef ORCA_STEPS_C_JSON_H
#define ORCA_STEPS_C_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 128

/* A JSON value: a slice of some JSON text, not NUL-terminated. */
typedef struct {
  const char *ptr;
  size_t len;
} json_t;

/* `len` bytes at `ptr` as JSON text. */
json_t json_text(const void *ptr, size_t len);

/* Whether `text` is exactly one JSON value (whitespace around it allowed). */
bool json_valid(json_t text);

/* The first character of the value, which tells its type: '{', '[', '"',
 * 't'/'f' (booleans), 'n' (null), '-' or a digit (numbers); 0 when empty. */
char json_type(json_t value);

/* Member `key` of object `object`: true, and `*member` set, if it has one. */
bool json_get(json_t object, const char *key, json_t *member);

/* Walking an array: `json_each(array, &it)`, then `json_next(&it, &item)`
 * until it returns false (the end, or text that is not JSON). */
typedef struct {
  const char *at;
  const char *end;
} json_iter_t;

bool json_each(json_t array, json_iter_t *it);
bool json_next(json_iter_t *it, json_t *item);

/* A string value decoded (escapes resolved) into a new buffer for free(),
 * NUL-terminated, its length in `*len` (it may hold NULs of its own); NULL
 * if `value` is not a string, or on no memory. */
char *json_string(json_t value, size_t *len);

/* JSON text being written; `failed` says memory ran out on the way. */
typedef struct {
  char *ptr;
  size_t len;
  size_t cap;
  bool failed;
} json_out_t;

/* Append JSON text as it is (a literal, or a value read above). */
void json_raw(json_out_t *out, const char *text, size_t len);
void json_lit(json_out_t *out, const char *text);
/* Append `len` bytes of UTF-8 as a JSON string, quoted and escaped. */
void json_quote(json_out_t *out, const char *s, size_t len);
void json_u64(json_out_t *out, uint64_t n);

#endif
