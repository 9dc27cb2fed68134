#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t json_text(const void *ptr, size_t len) {
  return (json_t){(const char *)ptr, len};
}

static const char *space(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
    p++;
  }
  return p;
}

static int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Four hex digits at `p` (at most `end`): the code unit, or -1. */
static long hex4(const char *p, const char *end) {
  if (end - p < 4) return -1;
  long unit = 0;
  for (int i = 0; i < 4; i++) {
    int digit = hex(p[i]);
    if (digit < 0) return -1;
    unit = unit * 16 + digit;
  }
  return unit;
}

/* The string starting at the quote `p`: decoded into `out` when it is not
 * NULL (room for as many bytes as the text has is enough: no escape decodes
 * longer than itself); returns the end of the string, or NULL. */
static const char *string(const char *p, const char *end, char *out, size_t *out_len) {
  size_t n = 0;
  p++; /* the opening quote */
  while (p < end) {
    unsigned char c = (unsigned char)*p++;
    if (c == '"') {
      if (out_len) *out_len = n;
      return p;
    }
    if (c < 0x20) return NULL;
    if (c != '\\') {
      if (out) out[n] = (char)c;
      n++;
      continue;
    }
    if (p == end) return NULL;
    char e = *p++;
    const char *simple = strchr("\"\\/bfnrt", e);
    if (e != 0 && simple) {
      if (out) out[n] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
      n++;
      continue;
    }
    if (e != 'u') return NULL;
    long cp = hex4(p, end);
    if (cp < 0) return NULL;
    p += 4;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return NULL; /* a lone low surrogate */
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      long low = (end - p >= 6 && p[0] == '\\' && p[1] == 'u') ? hex4(p + 2, end) : -1;
      if (low < 0xDC00 || low > 0xDFFF) return NULL; /* a high one without its pair */
      p += 6;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    unsigned char utf8[4];
    size_t k;
    if (cp < 0x80) {
      utf8[0] = (unsigned char)cp;
      k = 1;
    } else if (cp < 0x800) {
      utf8[0] = (unsigned char)(0xC0 | (cp >> 6));
      utf8[1] = (unsigned char)(0x80 | (cp & 0x3F));
      k = 2;
    } else if (cp < 0x10000) {
      utf8[0] = (unsigned char)(0xE0 | (cp >> 12));
      utf8[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
      utf8[2] = (unsigned char)(0x80 | (cp & 0x3F));
      k = 3;
    } else {
      utf8[0] = (unsigned char)(0xF0 | (cp >> 18));
      utf8[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
      utf8[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
      utf8[3] = (unsigned char)(0x80 | (cp & 0x3F));
      k = 4;
    }
    if (out) memcpy(out + n, utf8, k);
    n += k;
  }
  return NULL;
}

static const char *digits(const char *p, const char *end) {
  const char *start = p;
  while (p < end && *p >= '0' && *p <= '9') p++;
  return p > start ? p : NULL;
}

static const char *number(const char *p, const char *end) {
  if (p < end && *p == '-') p++;
  if (p < end && *p == '0') {
    p++;
  } else if (!(p = digits(p, end))) {
    return NULL;
  }
  if (p < end && *p == '.' && !(p = digits(p + 1, end))) return NULL;
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    if (!(p = digits(p, end))) return NULL;
  }
  return p;
}

static const char *literal(const char *p, const char *end, const char *word) {
  size_t n = strlen(word);
  return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

/* The end of the value at `p` (no leading whitespace), or NULL if it is not
 * JSON. Arrays and objects are checked all the way down. */
static const char *value(const char *p, const char *end, int depth) {
  if (p == end) return NULL;
  switch (*p) {
    case '"':
      return string(p, end, NULL, NULL);
    case 't':
      return literal(p, end, "true");
    case 'f':
      return literal(p, end, "false");
    case 'n':
      return literal(p, end, "null");
    case '[':
    case '{': {
      if (depth >= JSON_MAX_DEPTH) return NULL;
      bool object = *p == '{';
      char close = object ? '}' : ']';
      p = space(p + 1, end);
      if (p < end && *p == close) return p + 1;
      for (;;) {
        if (object) {
          if (p == end || *p != '"' || !(p = string(p, end, NULL, NULL))) return NULL;
          p = space(p, end);
          if (p == end || *p != ':') return NULL;
          p = space(p + 1, end);
        }
        if (!(p = value(p, end, depth + 1))) return NULL;
        p = space(p, end);
        if (p == end) return NULL;
        if (*p == close) return p + 1;
        if (*p != ',') return NULL;
        p = space(p + 1, end);
      }
    }
    default:
      return number(p, end);
  }
}

bool json_valid(json_t text) {
  const char *end = text.ptr + text.len;
  const char *p = value(space(text.ptr, end), end, 0);
  return p && space(p, end) == end;
}

char json_type(json_t v) {
  const char *p = space(v.ptr, v.ptr + v.len);
  return p < v.ptr + v.len ? *p : 0;
}

/* The value at `p` as a slice, and where it ends; false if not JSON. */
static bool slice(const char **p, const char *end, json_t *out) {
  const char *start = space(*p, end);
  const char *stop = value(start, end, 0);
  if (!stop) return false;
  *out = (json_t){start, (size_t)(stop - start)};
  *p = space(stop, end);
  return true;
}

bool json_get(json_t object, const char *key, json_t *member) {
  const char *end = object.ptr + object.len;
  const char *p = space(object.ptr, end);
  if (p == end || *p != '{') return false;
  p = space(p + 1, end);
  size_t key_len = strlen(key);
  while (p < end && *p == '"') {
    /* Decode the member's name to compare it: `"a\u0062"` is key "ab". */
    size_t name_len;
    char *name = malloc((size_t)(end - p));
    if (!name) return false;
    const char *after = string(p, end, name, &name_len);
    bool match = after && name_len == key_len && memcmp(name, key, key_len) == 0;
    free(name);
    if (!after) return false;
    p = space(after, end);
    if (p == end || *p != ':') return false;
    p++;
    json_t v;
    if (!slice(&p, end, &v)) return false;
    if (match) {
      *member = v;
      return true;
    }
    if (p == end || *p != ',') return false;
    p = space(p + 1, end);
  }
  return false;
}

bool json_each(json_t array, json_iter_t *it) {
  const char *end = array.ptr + array.len;
  const char *p = space(array.ptr, end);
  if (p == end || *p != '[') return false;
  *it = (json_iter_t){space(p + 1, end), end};
  return true;
}

bool json_next(json_iter_t *it, json_t *item) {
  if (it->at == it->end || *it->at == ']') return false;
  json_t next;
  if (!slice(&it->at, it->end, &next) || it->at == it->end) return false;
  if (*it->at == ',') {
    it->at = space(it->at + 1, it->end);
    if (it->at == it->end || *it->at == ']') return false; /* `[1,]` */
  } else if (*it->at != ']') {
    return false;
  }
  *item = next;
  return true;
}

char *json_string(json_t v, size_t *len) {
  const char *end = v.ptr + v.len;
  const char *p = space(v.ptr, end);
  if (p == end || *p != '"') return NULL;
  char *out = malloc((size_t)(end - p) + 1);
  if (!out || !string(p, end, out, len)) {
    free(out);
    return NULL;
  }
  out[*len] = 0;
  return out;
}

void json_raw(json_out_t *out, const char *text, size_t len) {
  if (out->failed) return;
  if (out->len + len + 1 > out->cap) {
    size_t cap = out->cap ? out->cap : 64;
    while (cap < out->len + len + 1) cap *= 2;
    char *grown = realloc(out->ptr, cap);
    if (!grown) {
      out->failed = true;
      return;
    }
    out->ptr = grown;
    out->cap = cap;
  }
  memcpy(out->ptr + out->len, text, len);
  out->len += len;
  out->ptr[out->len] = 0;
}

void json_lit(json_out_t *out, const char *text) {
  json_raw(out, text, strlen(text));
}

void json_quote(json_out_t *out, const char *s, size_t len) {
  json_lit(out, "\"");
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    char escaped[8];
    if (c == '"' || c == '\\') {
      snprintf(escaped, sizeof escaped, "\\%c", c);
    } else if (c < 0x20) {
      snprintf(escaped, sizeof escaped, "\\u%04x", c);
    } else {
      json_raw(out, (const char *)&s[i], 1);
      continue;
    }
    json_lit(out, escaped);
  }
  json_lit(out, "\"");
}

void json_u64(json_out_t *out, uint64_t n) {
  char text[24];
  snprintf(text, sizeof text, "%llu", (unsigned long long)n);
  json_lit(out, text);
}
