// Write promwasm steps in JavaScript: the JS face of `wit/step.wit`
// (`promwasm:step@0.1.0`), as the Rust SDK `promwasm-guest` is the Rust one.
//
// A step component registers stages and re-exports the three functions the
// host calls:
//
//   import { stage, skip, runner } from "./promwasm.js";
//   export { stages, prepare, execute } from "./promwasm.js";
//
//   stage("check-round", "Skip unless the round is `only`", {
//     prepare: () => runner.currentRound(),
//     execute: ({ only }, round) => (only != null && only !== round ? skip(`only round ${only}`) : { round }),
//   });
//
// Values cross the boundary as JSON; a stage returns plain values, `throw`s
// to fail (the message is what the report shows) and `return skip("why")`
// to skip. Stages are synchronous: the host does not run the component-model
// async ABI, so build with jco's `--backend-qjs-disable-async` (README.md).

import dbImport from "promwasm:step/db@0.1.0";
import httpImport from "promwasm:step/http@0.1.0";
import logImport from "promwasm:step/log@0.1.0";
import runnerImport from "promwasm:step/runner@0.1.0";
import signingImport from "promwasm:step/signing@0.1.0";
import workerImport from "promwasm:step/worker@0.1.0";

import * as utf8 from "./utf8.js";

export { utf8 };

// ---------------------------------------------------------------------------
// Stages and the component's exports

const registry = new Map();

/**
 * Register a stage. `prepare(args)` gathers what `execute` needs (default:
 * nothing); whatever it returns comes back as `execute(args, data)`'s `data`.
 * `args` are the step's `args` from config.yaml (`{}` when absent).
 */
export function stage(name, description, { prepare = () => null, execute }) {
  if (registry.has(name)) throw new Error(`stage \`${name}\` is registered twice`);
  if (typeof execute !== "function") throw new Error(`stage \`${name}\` has no execute function`);
  registry.set(name, { name, description, prepare, execute });
}

class Skip {
  constructor(reason) {
    this.reason = String(reason);
  }
}

/** What a stage returns to skip, e.g. `return skip("only runs in round 3")`. Counts as passing. */
export function skip(reason) {
  return new Skip(reason);
}

/** Export: the registered stages, for `promwasm inspect` and the preflight check. */
export function stages() {
  return [...registry.values()].map(({ name, description }) => ({ name, description }));
}

/** Export: run a stage's `prepare`; its result as JSON. */
export function prepare(name, args) {
  return guard(() => {
    const s = find(name);
    return toJson(sync(s.prepare(parseArgs(name, args)), name));
  });
}

/** Export: run a stage's `execute`; a success (its result as JSON) or a skip. */
export function execute(name, args, data) {
  return guard(() => {
    const s = find(name);
    const result = sync(s.execute(parseArgs(name, args), parse(data, `stage \`${name}\`: data`)), name);
    if (result instanceof Skip) return { tag: "skip", val: result.reason };
    return { tag: "success", val: toJson(result) };
  });
}

function find(name) {
  const s = registry.get(name);
  if (s) return s;
  const known = [...registry.keys()].map((k) => `\`${k}\``).join(", ");
  throw new Error(`unknown stage \`${name}\`; this component has ${known}`);
}

function parseArgs(name, text) {
  return text.trim() === "" ? {} : (parse(text, `stage \`${name}\`: args`) ?? {});
}

function sync(value, name) {
  if (value && typeof value.then === "function") {
    throw new Error(
      `stage \`${name}\` returned a Promise: stages are synchronous (promwasm does not run the ` +
        "component-model async ABI); remove `async`",
    );
  }
  return value;
}

/** Run `f`; anything it throws becomes the error string the host reports. */
function guard(f) {
  try {
    return f();
  } catch (e) {
    throw message(e);
  }
}

/** The text of anything thrown: an Error's message, an import's error payload, a string. */
function message(e) {
  if (e instanceof Error && e.payload === undefined) return e.message;
  const payload = e instanceof Error ? e.payload : e;
  if (typeof payload === "string") return payload;
  return JSON.stringify(payload) ?? String(payload);
}

/** Call an import; its error, if any, as an Error whose message starts with `what`. */
function call(what, f) {
  try {
    return f();
  } catch (e) {
    throw new Error(what ? `${what}: ${message(e)}` : message(e));
  }
}

function parse(text, what) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what}: ${e.message}`);
  }
}

function toJson(value) {
  return JSON.stringify(value === undefined ? null : value);
}

/** `text` cut to `max` characters, with `…` when cut. */
function truncate(text, max) {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

// ---------------------------------------------------------------------------
// runner: the store shared between steps and rounds, and config.yaml

export const runner = {
  /** A stored value (dot notation walks objects; this round first, then global), or `null`. */
  get(key) {
    const text = runnerImport.get(key);
    return text === null ? null : parse(text, `store key \`${key}\``);
  },
  /** Store a value for this round (`rounds.<n>.<key>`). */
  set(key, value) {
    call(`store key \`${key}\``, () => runnerImport.set(key, toJson(value), "round"));
  },
  /** Store a value for every round (`global.<key>`). */
  setGlobal(key, value) {
    call(`store key \`${key}\``, () => runnerImport.set(key, toJson(value), "global"));
  },
  /** The round being run, starting at 1. */
  currentRound: () => runnerImport.currentRound(),
  /** A value of config.yaml (e.g. `task_id`), or `null`. */
  config(key) {
    const text = runnerImport.config(key);
    return text === null ? null : parse(text, `config key \`${key}\``);
  },
  /** This run's id (the same when a run is resumed). */
  runId: () => runnerImport.runId(),
};

// ---------------------------------------------------------------------------
// worker: who the step runs as, and the others

class Worker {
  constructor(info) {
    this.name = info.name;
    /** Base URL, e.g. `http://localhost:5000`. */
    this.url = info.url;
    this.port = info.port;
    /** Base58 public keys by role (`main`, `staking`). */
    this.publicKeys = Object.fromEntries(info.publicKeys);
    /** The worker's workers.json entry (without env_vars and keypairs). */
    this.fields = parse(info.fields, `worker \`${info.name}\`: fields`);
  }

  publicKey(role) {
    const key = this.publicKeys[role];
    if (key === undefined) throw new Error(`worker \`${this.name}\` has no \`${role}\` public key`);
    return key;
  }

  stakingKey() {
    return this.publicKey("staking");
  }

  mainKey() {
    return this.publicKey("main");
  }

  /** `<url>/<path>`, e.g. `endpoint("task")` is `http://localhost:5000/task`. */
  endpoint(path) {
    return `${this.url.replace(/\/+$/, "")}/${String(path).replace(/^\/+/, "")}`;
  }
}

export const worker = {
  /** The worker this step runs as. */
  current: () => new Worker(workerImport.current()),
  /** Another worker by name; throws for an unknown name. */
  get(name) {
    const info = workerImport.get(name);
    if (info === null) throw new Error(`unknown worker \`${name}\` (workers: ${worker.names().join(", ")})`);
    return new Worker(info);
  },
  /** Every worker's name, in workers.json order. */
  names: () => workerImport.names(),
  /** An env var mapped to this worker in workers.json `env_vars`, or `null`. */
  env: (name) => workerImport.getEnv(name),
};

// ---------------------------------------------------------------------------
// signing: with the current worker's keys, which stay in the host

const bytes = (payload) => (typeof payload === "string" ? utf8.encode(payload) : payload);

export const signing = {
  /** base58(signature ‖ payload) (Koii's payloadSigning) of a string or bytes. */
  sign: (role, payload) => call(`signing with \`${role}\``, () => signingImport.sign(role, bytes(payload))),
  /**
   * Sign `value` as JSON: `"js"` signs `JSON.stringify(value)` (keys in
   * insertion order, as Koii's JS tasks do), `"python"` signs
   * `json.dumps(value, sort_keys=True)` (prometheus-test).
   */
  signJson: (role, value, style = "js") =>
    call(`signing with \`${role}\``, () => signingImport.signJson(role, toJson(value), style)),
  /** A raw 64-byte ed25519 signature (Uint8Array). */
  signDetached: (role, payload) =>
    call(`signing with \`${role}\``, () => signingImport.signDetached(role, bytes(payload))),
  /** The role's base58 public key. */
  publicKey: (role) => call(`public key \`${role}\``, () => signingImport.publicKey(role)),
};

// ---------------------------------------------------------------------------
// http: to the workers, middle_server_url and allowed_hosts only

class Response {
  constructor(url, { status, headers, body }) {
    this.url = url;
    this.status = status;
    /** `[name, value]` pairs, as received. */
    this.headers = headers;
    /** The body's bytes (Uint8Array). */
    this.body = body;
  }

  /** Whether the status is 2xx. */
  get ok() {
    return this.status >= 200 && this.status < 300;
  }

  /** The first header called `name` (any case), or `null`. */
  header(name) {
    const found = this.headers.find(([n]) => n.toLowerCase() === name.toLowerCase());
    return found ? found[1] : null;
  }

  /** The body as text (invalid UTF-8 becomes U+FFFD). */
  text() {
    return utf8.decode(this.body);
  }

  /** The body as JSON; throws, quoting the body, when it is not JSON. */
  json() {
    const text = this.text();
    try {
      return JSON.parse(text);
    } catch (e) {
      const quoted = JSON.stringify(truncate(text, 500));
      throw new Error(`HTTP ${this.status} from ${this.url}: unexpected body ${quoted}: ${e.message}`);
    }
  }

  /** Itself if 2xx; otherwise throws with the status and the body. */
  errorForStatus() {
    if (this.ok) return this;
    throw new Error(`HTTP ${this.status} from ${this.url}: ${truncate(this.text().trim(), 500)}`);
  }
}

const httpErrors = {
  "not-allowed": "not allowed",
  timeout: "timed out",
  "too-large": "response too large",
  transport: "request failed",
};

export const http = {
  /**
   * Send a request; any status is returned (see `errorForStatus`). Options:
   * `headers` (an object or `[name, value]` pairs), `body` (a string or
   * bytes) or `json` (a value, sent as JSON), `timeoutMs`.
   */
  request(method, url, { headers = [], body, json, timeoutMs } = {}) {
    const pairs = Array.isArray(headers) ? [...headers] : Object.entries(headers);
    if (json !== undefined) {
      body = toJson(json);
      const others = pairs.filter(([name]) => name.toLowerCase() !== "content-type");
      pairs.length = 0;
      pairs.push(...others, ["content-type", "application/json"]);
    }
    const request = {
      method: method.toUpperCase(),
      url,
      headers: pairs.map(([n, v]) => [String(n), String(v)]),
      body: body === undefined ? null : bytes(body),
      timeoutMs: timeoutMs ?? null,
    };
    try {
      return new Response(url, httpImport.send(request));
    } catch (e) {
      const error = e instanceof Error ? e.payload : undefined;
      if (error && httpErrors[error.tag]) throw new Error(`${httpErrors[error.tag]}: ${error.val}`);
      throw new Error(message(e));
    }
  },
  get: (url, options) => http.request("GET", url, options),
  post: (url, options) => http.request("POST", url, options),
};

// ---------------------------------------------------------------------------
// log: lines shown with the step, round and worker

export const log = Object.fromEntries(
  ["trace", "debug", "info", "warn", "error"].map((level) => [
    level,
    (message) => logImport.log(level, String(message)),
  ]),
);

// ---------------------------------------------------------------------------
// db: MongoDB, scoped to the configured database. Steps read with `db: read`
// in their config; the post-load hook may also write. Filters, updates and
// documents are values (MongoDB Extended JSON accepted, e.g. `{ $oid: "…" }`).

export const db = {
  /** Matching documents; options `sort` and `limit`. */
  find(collection, filter = {}, { sort, limit } = {}) {
    const what = `db find in \`${collection}\``;
    const found = call(what, () =>
      dbImport.find(collection, toJson(filter), sort === undefined ? null : toJson(sort), limit ?? null),
    );
    return parse(found, what);
  },
  /** How many documents match. */
  count: (collection, filter = {}) =>
    call(`db count in \`${collection}\``, () => dbImport.count(collection, toJson(filter))),
  /** Apply `update` (e.g. `{ $set: {…} }`) to every match; how many changed. */
  updateMany: (collection, filter, update) =>
    call(`db update in \`${collection}\``, () =>
      dbImport.updateMany(collection, toJson(filter), toJson(update)),
    ),
  /** Insert documents; how many were inserted. */
  insertMany: (collection, documents) =>
    call(`db insert into \`${collection}\``, () => dbImport.insertMany(collection, toJson(documents))),
  /** Delete every match; how many were deleted. */
  deleteMany: (collection, filter) =>
    call(`db delete in \`${collection}\``, () => dbImport.deleteMany(collection, toJson(filter))),
};
