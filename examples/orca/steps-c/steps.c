/* The example's `post-load` stage in C, written against the bindings that
 * wit-bindgen-c generates from wit/step.wit (`step.h`, `step.c`; `cargo
 * xtask` generates, compiles and wraps them into orca_steps_c.wasm). No SDK:
 * the WIT contract is all it knows of the host.
 *
 * `post-load` is the post_load hook of the example (config-c.yaml): it gives
 * this task's todos to the workers in `args.assign` (default: every worker),
 * round-robin, with `db.update-many`, as the Rust stage of the same name
 * does (examples/orca/steps/src/lib.rs).
 *
 * Ownership, as the generated code has it: the strings an export receives
 * are the export's to free; what it returns is allocated with malloc and
 * freed by the generated post-return function after the host has read it;
 * what an import returns is the caller's to free. */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "step.h"

/* Fail with a message: `*err` gets it, formatted like printf. */
static bool fail(step_string_t *err, const char *format, ...) {
  va_list args;
  va_start(args, format);
  int len = vsnprintf(NULL, 0, format, args);
  va_end(args);
  char *text = len < 0 ? NULL : malloc((size_t)len + 1);
  if (!text) {
    step_string_dup(err, "out of memory");
    return false;
  }
  va_start(args, format);
  vsnprintf(text, (size_t)len + 1, format, args);
  va_end(args);
  *err = (step_string_t){(uint8_t *)text, (size_t)len};
  return false;
}

/* Hand JSON text being written over as a WIT string (moved, not copied). */
static bool take(json_out_t *out, step_string_t *ret, step_string_t *err) {
  bool failed = out->failed;
  if (failed) free(out->ptr);
  else *ret = (step_string_t){(uint8_t *)out->ptr, out->len};
  *out = (json_out_t){0};
  return !failed || fail(err, "out of memory");
}

/* A stage's `args`, checked: JSON, and an object (or null, or empty). */
static bool args_object(const char *stage, step_json_t *text, json_t *args, step_string_t *err) {
  *args = json_text(text->ptr, text->len);
  if (json_type(*args) == 0) *args = json_text("{}", 2);
  if (!json_valid(*args)) return fail(err, "stage `%s`: args: not JSON", stage);
  char type = json_type(*args);
  if (type != '{' && type != 'n') return fail(err, "stage `%s`: args: expected an object", stage);
  return true;
}

/* ---- post-load ---------------------------------------------------------- */

/* `args.assign` (the worker names, in turn); absent or null: every worker. */
static bool assign_arg(json_t args, step_list_string_t *names, step_string_t *err) {
  json_t assign;
  if (!json_get(args, "assign", &assign) || json_type(assign) == 'n') {
    promwasm_step_worker_names(names);
    return true;
  }
  const char *wrong = "stage `post-load`: args: `assign` must be a list of worker names";
  json_iter_t it;
  if (!json_each(assign, &it)) return fail(err, "%s", wrong);
  *names = (step_list_string_t){calloc(assign.len, sizeof(step_string_t)), 0};
  if (!names->ptr) return fail(err, "out of memory");
  for (json_t name; json_next(&it, &name);) {
    size_t len;
    char *text = json_string(name, &len);
    if (!text) {
      if (names->len == 0) free(names->ptr);
      step_list_string_free(names);
      return fail(err, "%s", wrong);
    }
    names->ptr[names->len++] = (step_string_t){(uint8_t *)text, len};
  }
  if (names->len == 0) {
    /* step_list_string_free leaves the array of an empty list alone. */
    free(names->ptr);
    names->ptr = NULL;
  }
  return true;
}

static bool post_load_prepare(json_t args, json_out_t *data, step_string_t *err) {
  step_list_string_t names = {0};
  if (!assign_arg(args, &names, err)) return false;
  step_list_string_free(&names);
  json_lit(data, "null");
  return true;
}

/* `{"taskId": <task_id from config.yaml>}` */
static bool this_task(json_out_t *filter, step_string_t *err) {
  step_string_t key;
  step_string_set(&key, "task_id");
  promwasm_step_runner_json_t task_id;
  if (!promwasm_step_runner_config(&key, &task_id)) return fail(err, "config.yaml has no `task_id`");
  json_t id = json_text(task_id.ptr, task_id.len);
  bool text = json_valid(id) && json_type(id) == '"';
  json_lit(filter, "{\"taskId\":");
  json_raw(filter, id.ptr, id.len);
  json_lit(filter, "}");
  promwasm_step_runner_json_free(&task_id);
  return text || fail(err, "config.yaml's `task_id` is not a string");
}

static bool post_load_execute(json_t args, json_t data, step_outcome_t *ret, step_string_t *err) {
  (void)data; /* prepare hands over nothing */
  step_list_string_t names = {0};
  if (!assign_arg(args, &names, err)) return false;
  bool ok = false;
  step_string_t todos, filter = {0}, found = {0};
  step_string_set(&todos, "todos");
  json_out_t text = {0};
  uint64_t updated = 0;

  if (names.len == 0) {
    fail(err, "no workers to assign todos to");
    goto done;
  }
  if (!this_task(&text, err) || !take(&text, &filter, err)) goto done;
  if (!promwasm_step_db_find(&todos, &filter, NULL, NULL, &found, err)) goto done;
  json_t list = json_text(found.ptr, found.len);
  json_iter_t it;
  if (!json_valid(list) || !json_each(list, &it)) {
    fail(err, "db.find answered with something other than a JSON array");
    goto done;
  }
  size_t i = 0;
  for (json_t todo; json_next(&it, &todo); i++) {
    json_t id;
    if (!json_get(todo, "_id", &id)) {
      fail(err, "todo %zu of %.*s has no `_id`", i + 1, (int)filter.len, (const char *)filter.ptr);
      goto done;
    }
    /* update-many {"_id": <its _id>} {"$set": {"assignedTo": <name>}} */
    const step_string_t *name = &names.ptr[i % names.len];
    step_string_t one = {0}, set = {0};
    json_lit(&text, "{\"_id\":");
    json_raw(&text, id.ptr, id.len);
    json_lit(&text, "}");
    bool built = take(&text, &one, err);
    json_lit(&text, "{\"$set\":{\"assignedTo\":");
    json_quote(&text, (const char *)name->ptr, name->len);
    json_lit(&text, "}}");
    built = built && take(&text, &set, err);
    uint64_t changed = 0;
    bool assigned = built && promwasm_step_db_update_many(&todos, &one, &set, &changed, err);
    step_string_free(&one);
    step_string_free(&set);
    if (!assigned) goto done;
    updated += changed;
  }

  json_lit(&text, "{\"updated\":");
  json_u64(&text, updated);
  json_lit(&text, "}");
  ret->tag = PROMWASM_STEP_TYPES_OUTCOME_SUCCESS;
  ok = take(&text, &ret->val.success, err);
done:
  free(text.ptr);
  step_string_free(&filter);
  step_string_free(&found);
  step_list_string_free(&names);
  return ok;
}

/* ---- the exports -------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *description;
  bool (*prepare)(json_t args, json_out_t *data, step_string_t *err);
  bool (*execute)(json_t args, json_t data, step_outcome_t *ret, step_string_t *err);
} stage_t;

static const stage_t STAGES[] = {
    {"post-load", "Assign this task's todos to workers round-robin", post_load_prepare,
     post_load_execute},
};
static const size_t STAGE_COUNT = sizeof STAGES / sizeof STAGES[0];

static const stage_t *find_stage(const step_string_t *name, step_string_t *err) {
  for (size_t i = 0; i < STAGE_COUNT; i++) {
    if (strlen(STAGES[i].name) == name->len && memcmp(STAGES[i].name, name->ptr, name->len) == 0) {
      return &STAGES[i];
    }
  }
  json_out_t known = {0};
  for (size_t i = 0; i < STAGE_COUNT; i++) {
    json_lit(&known, i ? ", `" : "`");
    json_lit(&known, STAGES[i].name);
    json_lit(&known, "`");
  }
  fail(err, "unknown stage `%.*s`; this component has %s", (int)name->len,
       (const char *)name->ptr, known.failed ? "others" : known.ptr);
  free(known.ptr);
  return NULL;
}

void exports_step_stages(step_list_stage_info_t *ret) {
  ret->ptr = calloc(STAGE_COUNT, sizeof *ret->ptr);
  ret->len = ret->ptr ? STAGE_COUNT : 0;
  for (size_t i = 0; i < ret->len; i++) {
    step_string_dup(&ret->ptr[i].name, STAGES[i].name);
    step_string_dup(&ret->ptr[i].description, STAGES[i].description);
  }
}

bool exports_step_prepare(step_string_t *stage, step_json_t *args, step_json_t *ret,
                          step_string_t *err) {
  const stage_t *s = find_stage(stage, err);
  json_t checked;
  json_out_t data = {0};
  bool ok = s && args_object(s->name, args, &checked, err) && s->prepare(checked, &data, err) &&
            take(&data, ret, err);
  free(data.ptr);
  step_string_free(stage);
  step_json_free(args);
  return ok;
}

bool exports_step_execute(step_string_t *stage, step_json_t *args, step_json_t *data,
                          step_outcome_t *ret, step_string_t *err) {
  const stage_t *s = find_stage(stage, err);
  json_t checked;
  json_t prepared = json_text(data->ptr, data->len);
  bool ok = s && args_object(s->name, args, &checked, err);
  ok = ok && (json_valid(prepared) || fail(err, "stage `%s`: data: not JSON", s->name));
  ok = ok && s->execute(checked, prepared, ret, err);
  step_string_free(stage);
  step_json_free(args);
  step_json_free(data);
  return ok;
}
