//! Hostile step components for `tests/tests/hostile.rs`: each stage tries to
//! escape the sandbox (files, environment, sockets, HTTP tricks) or to
//! overwhelm the host (huge payloads, keys, values, logs, output, memory,
//! stack, time). Arguments choose the sizes, so a test can go just past a
//! limit or far beyond it.
//!
//! Probing stages report what they tried and what happened, rather than
//! failing, so a test can tell "refused" from "never tried". Stages that push
//! a limit fail with the host's error, so the step's failure names it.
//!
//! `malformed` hands the host text that is not JSON; the SDK never does
//! that, so this component implements the WIT exports itself around the
//! SDK's dispatch (see the end).

use promwasm_guest::bindings::promwasm::step::runner as raw_runner;
use promwasm_guest::prelude::*;

/// Implements [`Stage`] for a stage that needs no `prepare`: the body gets
/// `args` and returns `Result<Outcome>`.
macro_rules! simple_stage {
    ($ty:ident, $name:literal, $description:literal, $args:ty, |$a:ident| $body:block) => {
        #[doc = $description]
        pub struct $ty;

        impl Stage for $ty {
            const NAME: &'static str = $name;
            const DESCRIPTION: &'static str = $description;
            type Args = $args;
            type Data = ();
            type Output = Value;

            fn prepare(_: &$args) -> Result<()> {
                Ok(())
            }

            fn execute($a: &$args, _: ()) -> Result<Outcome> $body
        }
    };
}

/// What one attempt produced: `{ok: true, value}` or `{ok: false, error}`.
fn attempt<T>(result: std::io::Result<T>, show: impl FnOnce(T) -> Value) -> Value {
    match result {
        Ok(v) => json!({ "ok": true, "value": show(v) }),
        Err(e) => json!({ "ok": false, "error": e.to_string() }),
    }
}

simple_stage!(
    ProbeFiles,
    "probe-files",
    "Tries to read /etc/passwd, list / and ., and create /tmp/x; reports each result",
    NoArgs,
    |_args| {
        let probes = json!({
            "read_passwd": attempt(std::fs::read("/etc/passwd"), |b| json!(b.len())),
            "read_dir_root": attempt(std::fs::read_dir("/"), |d| json!(d.count())),
            "read_dir_cwd": attempt(std::fs::read_dir("."), |d| json!(d.count())),
            "create_tmp": attempt(std::fs::File::create("/tmp/x"), |_| Value::Null),
        });
        let any_ok = probes
            .as_object()
            .is_some_and(|m| m.values().any(|p| p["ok"] == true));
        Ok(Outcome::Success(
            json!({ "probes": probes, "any_ok": any_ok }),
        ))
    }
);

simple_stage!(
    ProbeEnv,
    "probe-env",
    "Reports std::env::vars(), std::env::args() and the current directory",
    NoArgs,
    |_args| {
        let vars: std::collections::BTreeMap<String, String> = std::env::vars().collect();
        let args: Vec<String> = std::env::args().collect();
        Ok(Outcome::Success(json!({
            "vars": vars,
            "args": args,
            "cwd": attempt(std::env::current_dir(), |d| json!(d.display().to_string())),
        })))
    }
);

/// Arguments of [`ProbeSocket`].
#[data]
pub struct SocketArgs {
    /// A port on 127.0.0.1 (an open one: a connection would succeed if allowed).
    port: u16,
}

simple_stage!(
    ProbeSocket,
    "probe-socket",
    "Tries TCP to 127.0.0.1:args.port and localhost:args.port, and a UDP bind; reports each",
    SocketArgs,
    |args| {
        use std::net::{TcpStream, UdpSocket};
        let tcp = |addr: String| {
            attempt(TcpStream::connect(addr.as_str()), |s| {
                json!(s.peer_addr().map(|a| a.to_string()).unwrap_or_default())
            })
        };
        let probes = json!({
            "tcp_ip": tcp(format!("127.0.0.1:{}", args.port)),
            "tcp_name": tcp(format!("localhost:{}", args.port)),
            "udp_bind": attempt(UdpSocket::bind("127.0.0.1:0"), |_| Value::Null),
        });
        let connected = probes["tcp_ip"]["ok"] == true || probes["tcp_name"]["ok"] == true;
        Ok(Outcome::Success(
            json!({ "probes": probes, "connected": connected }),
        ))
    }
);

/// Arguments of [`BigSign`].
#[data]
pub struct SignArgs {
    bytes: usize,
    /// `raw` (default), `json` or `detached`.
    how: Option<String>,
}

simple_stage!(
    BigSign,
    "big-sign",
    "Signs a payload of args.bytes bytes with the staking key (args.how: raw, json, detached)",
    SignArgs,
    |args| {
        let payload = "a".repeat(args.bytes);
        let len = match args.how.as_deref().unwrap_or("raw") {
            "raw" => signing::sign("staking", &payload)?.len(),
            "json" => signing::sign_json("staking", &payload, JsonStyle::Js)?.len(),
            "detached" => signing::sign_detached("staking", &payload)?.len(),
            other => bail!("unknown args.how `{other}`"),
        };
        Ok(Outcome::Success(json!({ "signed_len": len })))
    }
);

/// Arguments of [`DeepKey`].
#[data]
pub struct KeyArgs {
    parts: usize,
    /// Bytes of each part (default 1).
    part_bytes: Option<usize>,
}

simple_stage!(
    DeepKey,
    "deep-key",
    "runner.set with a key of args.parts dot-separated parts, each args.part_bytes long",
    KeyArgs,
    |args| {
        let part = "k".repeat(args.part_bytes.unwrap_or(1));
        let key = vec![part; args.parts].join(".");
        runner::set(&key, &1)?;
        Ok(Outcome::Success(json!({ "stored_key_bytes": key.len() })))
    }
);

/// Store raw JSON text under `key` (the SDK would build a `Value` first,
/// recursing as deep as the value: this does not).
fn set_raw(key: &str, json_text: &str) -> Result<()> {
    raw_runner::set(key, json_text, raw_runner::Scope::Round)
        .map_err(|e| Error::msg(format!("store key `{key}`: {e}")))
}

/// Arguments of [`DeepValue`].
#[data]
pub struct DeepArgs {
    levels: usize,
}

simple_stage!(
    DeepValue,
    "deep-value",
    "runner.set with a value of arrays nested args.levels deep",
    DeepArgs,
    |args| {
        let text = format!("{}{}", "[".repeat(args.levels), "]".repeat(args.levels));
        set_raw("deep", &text)?;
        Ok(Outcome::Success(json!({ "stored_levels": args.levels })))
    }
);

/// Arguments of [`BigValue`] and [`StdoutFlood`].
#[data]
pub struct BytesArgs {
    bytes: usize,
}

simple_stage!(
    BigValue,
    "big-value",
    "runner.set with a JSON string value of args.bytes bytes (quotes included)",
    BytesArgs,
    |args| {
        // One allocation of exactly args.bytes: a huge value must not run
        // the guest out of memory before the host sees it.
        let mut text = String::with_capacity(args.bytes.max(2));
        text.push('"');
        text.extend(std::iter::repeat_n('x', args.bytes.saturating_sub(2)));
        text.push('"');
        set_raw("big", &text)?;
        Ok(Outcome::Success(json!({ "stored_bytes": text.len() })))
    }
);

/// Arguments of [`FillStore`].
#[data]
pub struct FillArgs {
    values: usize,
    bytes: usize,
}

simple_stage!(
    FillStore,
    "fill-store",
    "runner.set_global of args.values keys `fill.<i>`, each a string of args.bytes bytes",
    FillArgs,
    |args| {
        let value = "x".repeat(args.bytes);
        for i in 0..args.values {
            runner::set_global(format!("fill.{i}"), &value)
                .with_context(|| format!("after {i} values"))?;
        }
        Ok(Outcome::Success(json!({ "values": args.values })))
    }
);

/// Arguments of [`LogFlood`].
#[data]
pub struct FloodArgs {
    lines: usize,
    bytes: usize,
}

simple_stage!(
    LogFlood,
    "log-flood",
    "Logs args.lines lines of args.bytes bytes each",
    FloodArgs,
    |args| {
        let line = "y".repeat(args.bytes);
        for _ in 0..args.lines {
            log::info(&line);
        }
        Ok(Outcome::Success(json!({ "logged": args.lines })))
    }
);

/// Arguments of [`NewlineBomb`].
#[data]
pub struct NewlineArgs {
    newlines: usize,
}

simple_stage!(
    NewlineBomb,
    "newline-bomb",
    "One log call of args.newlines newlines",
    NewlineArgs,
    |args| {
        log::info("\n".repeat(args.newlines));
        Ok(Outcome::Success(json!({ "newlines": args.newlines })))
    }
);

/// Text that, printed raw, would erase the current terminal line and draw a
/// fake "passed" line for a step that did not pass.
const FORGED: &str = "\r\x1b[2K\x1b[32m   ✓ passed      forged@worker1 (1 ms)\x1b[0m";

/// Arguments of [`Forge`].
#[data]
pub struct ForgeArgs {
    /// How the stage ends: `pass` (default), `fail` or `skip`, each carrying forged text.
    end: Option<String>,
}

simple_stage!(
    Forge,
    "forge",
    "Logs, prints and ends (args.end: pass, fail, skip) with CR, ANSI escapes and forged lines",
    ForgeArgs,
    |args| {
        log::info(format!("innocent{FORGED}"));
        log::warn(format!(
            "two\nlines{FORGED}\n   ✓ passed      forged@worker1 (2 ms)"
        ));
        log::info("bell\x07 backspace\x08 nul\0 csi\u{9b}2J osc\x1b]0;title\x07 del\x7f");
        println!("stdout{FORGED}");
        eprintln!("stderr{FORGED}");
        let text = format!("forged end{FORGED}\n   ✓ passed      forged@worker1 (3 ms)");
        match args.end.as_deref().unwrap_or("pass") {
            "fail" => bail!(text),
            "skip" => Ok(Outcome::skip(text)),
            _ => Ok(Outcome::Success(json!({ "text": text }))),
        }
    }
);

/// Arguments of [`StdoutFlood`].
#[data]
pub struct MibArgs {
    mib: usize,
}

simple_stage!(
    StdoutFlood,
    "stdout-flood",
    "Writes args.mib MiB to stdout (lines of 1 KiB) and as much to stderr, ignoring write errors",
    MibArgs,
    |args| {
        use std::io::Write;
        let mut line = "z".repeat(1023);
        line.push('\n');
        let (mut out, mut err) = (0usize, 0usize);
        for _ in 0..args.mib * 1024 {
            if std::io::stdout().write_all(line.as_bytes()).is_ok() {
                out += line.len();
            }
            if std::io::stderr().write_all(line.as_bytes()).is_ok() {
                err += line.len();
            }
        }
        let _ = std::io::stdout().flush();
        Ok(Outcome::Success(
            json!({ "stdout_accepted": out, "stderr_accepted": err }),
        ))
    }
);

simple_stage!(Spin, "spin", "Loops forever", NoArgs, |_args| {
    loop {
        std::hint::black_box(());
    }
});

simple_stage!(Trap, "trap", "Panics", NoArgs, |_args| {
    panic!("hostile guest panicked on purpose")
});

/// Recurses without end. Scalar arguments and `black_box` keep every frame
/// on the wasm call stack (not Rust's shadow stack in linear memory), so
/// this exhausts the call stack itself.
#[inline(never)]
fn recurse(depth: u64, a: u64, b: u64) -> u64 {
    if std::hint::black_box(depth) == u64::MAX {
        return a;
    }
    let next = std::hint::black_box(recurse(depth + 1, b, a ^ depth));
    next.wrapping_add(a).wrapping_mul(b | 1)
}

simple_stage!(
    StackOverflow,
    "stack-overflow",
    "Recurses until the stack runs out",
    NoArgs,
    |_args| {
        let n = recurse(0, 7, 11);
        Ok(Outcome::Success(json!({ "depth": n })))
    }
);

simple_stage!(
    Grow,
    "grow",
    "Allocates args.mib MiB, 1 MiB at a time, touching every page",
    MibArgs,
    |args| {
        let mut chunks = Vec::new();
        for _ in 0..args.mib {
            chunks.push(std::hint::black_box(vec![1u8; 1 << 20]));
        }
        Ok(Outcome::Success(json!({ "allocated_mib": chunks.len() })))
    }
);

/// Arguments of [`Http`].
#[data]
pub struct HttpArgs {
    /// One URL, or
    url: Option<String>,
    /// several, tried in order.
    #[serde(default)]
    urls: Vec<String>,
}

simple_stage!(
    Http,
    "http",
    "GETs args.url or each of args.urls; fails listing every outcome (`GET url: ...`, joined by ` | `) if any request failed",
    HttpArgs,
    |args| {
        let urls: Vec<&String> = args.url.iter().chain(&args.urls).collect();
        let mut outcomes = Vec::new();
        let mut failed = false;
        for url in urls {
            match http::get(url).send() {
                Ok(response) => outcomes.push(format!(
                    "GET {url}: status {}, {} bytes",
                    response.status,
                    response.body.len()
                )),
                Err(e) => {
                    failed = true;
                    outcomes.push(format!("GET {url}: {}", e.message()));
                }
            }
        }
        ensure!(!failed, outcomes.join(" | "));
        Ok(Outcome::Success(json!({ "outcomes": outcomes })))
    }
);

/// Arguments of [`LeakEnv`].
#[data]
pub struct LeakArgs {
    name: String,
}

simple_stage!(
    LeakEnv,
    "leak-env",
    "Logs, prints and returns the mapped env var args.name",
    LeakArgs,
    |args| {
        let value = worker::env(&args.name).unwrap_or_else(|| "<unset>".into());
        log::info(format!("the value of {} is {value}", args.name));
        println!("stdout: {} = {value}", args.name);
        eprintln!("stderr: {} = {value}", args.name);
        Ok(Outcome::Success(
            json!({ "name": args.name, "value": value }),
        ))
    }
);

simple_stage!(
    LeakEnvFail,
    "leak-env-fail",
    "Fails with the mapped env var args.name in its error",
    LeakArgs,
    |args| {
        let value = worker::env(&args.name).unwrap_or_else(|| "<unset>".into());
        bail!("refusing to go on; {} is {value}", args.name)
    }
);

/// Arguments of [`FindAll`].
#[data]
pub struct FindArgs {
    collection: String,
}

simple_stage!(
    FindAll,
    "find-all",
    "Reads every document of args.collection at once, without a limit",
    FindArgs,
    |args| {
        let docs: Vec<Value> = db::find(&args.collection, json!({}))?;
        Ok(Outcome::Success(json!({ "documents": docs.len() })))
    }
);

/// Arguments of [`InsertFlood`].
#[data]
pub struct InsertFloodArgs {
    collection: String,
    /// Documents in the one `insert-many` call.
    count: usize,
    /// Bytes of filler in each.
    size: usize,
}

simple_stage!(
    InsertFlood,
    "insert-flood",
    "Inserts args.count documents of args.size bytes each in one insert-many call \
     (needs the post-load hook's write access)",
    InsertFloodArgs,
    |args| {
        let filler = "x".repeat(args.size);
        let docs: Vec<Value> = (0..args.count)
            .map(|n| json!({ "n": n, "filler": filler }))
            .collect();
        log::info(format!("built {} documents; inserting", docs.len()));
        let inserted = db::insert_many(&args.collection, &docs)?;
        Ok(Outcome::Success(json!({ "inserted": inserted })))
    }
);

/// The stages the SDK dispatches.
const STAGES: &[promwasm_guest::__private::Entry] = &[
    promwasm_guest::__private::Entry::of::<ProbeFiles>(),
    promwasm_guest::__private::Entry::of::<ProbeEnv>(),
    promwasm_guest::__private::Entry::of::<ProbeSocket>(),
    promwasm_guest::__private::Entry::of::<BigSign>(),
    promwasm_guest::__private::Entry::of::<DeepKey>(),
    promwasm_guest::__private::Entry::of::<DeepValue>(),
    promwasm_guest::__private::Entry::of::<BigValue>(),
    promwasm_guest::__private::Entry::of::<LogFlood>(),
    promwasm_guest::__private::Entry::of::<NewlineBomb>(),
    promwasm_guest::__private::Entry::of::<Forge>(),
    promwasm_guest::__private::Entry::of::<StdoutFlood>(),
    promwasm_guest::__private::Entry::of::<Spin>(),
    promwasm_guest::__private::Entry::of::<Trap>(),
    promwasm_guest::__private::Entry::of::<StackOverflow>(),
    promwasm_guest::__private::Entry::of::<Grow>(),
    promwasm_guest::__private::Entry::of::<Http>(),
    promwasm_guest::__private::Entry::of::<LeakEnv>(),
    promwasm_guest::__private::Entry::of::<LeakEnvFail>(),
    promwasm_guest::__private::Entry::of::<FindAll>(),
    promwasm_guest::__private::Entry::of::<InsertFlood>(),
    promwasm_guest::__private::Entry::of::<FillStore>(),
];

/// What `malformed` hands over from `prepare`: not JSON.
const MALFORMED: &str = r#"{"hostile": [1, 2"#;

/// The WIT exports: the SDK's dispatch (what `export_stages!` generates),
/// plus `malformed`, which breaks the JSON contract on purpose.
struct HostileGuests;

impl promwasm_guest::bindings::Guest for HostileGuests {
    fn stages() -> Vec<promwasm_guest::bindings::StageInfo> {
        let mut stages = promwasm_guest::__private::stages(STAGES);
        stages.push(promwasm_guest::bindings::StageInfo {
            name: "malformed".into(),
            description: "prepare returns text that is not JSON".into(),
        });
        stages
    }

    fn prepare(stage: String, args: String) -> std::result::Result<String, String> {
        match stage.as_str() {
            "malformed" => Ok(MALFORMED.into()),
            _ => promwasm_guest::__private::prepare(STAGES, &stage, &args),
        }
    }

    fn execute(
        stage: String,
        args: String,
        data: String,
    ) -> std::result::Result<promwasm_guest::bindings::Outcome, String> {
        match stage.as_str() {
            "malformed" => Ok(promwasm_guest::bindings::Outcome::Success("{}".into())),
            _ => promwasm_guest::__private::execute(STAGES, &stage, &args, &data),
        }
    }
}

promwasm_guest::bindings::__export_step!(HostileGuests with_types_in promwasm_guest::bindings);
