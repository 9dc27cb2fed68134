//! Stages the host's tests run: one per behaviour the runner must handle
//! (results, skips, errors, traps, timeouts, memory caps, capabilities).
//!
//! Two stages, `malformed-prepare` and `malformed-execute`, hand the host
//! text that is not JSON; the SDK never does that, so this component
//! implements the WIT exports itself around the SDK's dispatch (see the end).

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

simple_stage!(Echo, "echo", "Succeeds with its args", Value, |args| {
    Ok(Outcome::Success(args.clone()))
});

/// Arguments of [`Skip`].
#[data]
pub struct SkipArgs {
    reason: Option<String>,
}

simple_stage!(Skip, "skip", "Skips with args.reason", SkipArgs, |args| {
    let reason = args.reason.as_deref().unwrap_or("skipped on purpose");
    Ok(Outcome::skip(reason))
});

/// Arguments of [`Fail`] and [`FailIf`].
#[data]
pub struct FailArgs {
    #[serde(default)]
    fail: bool,
    message: Option<String>,
}

impl FailArgs {
    fn message(&self) -> &str {
        self.message.as_deref().unwrap_or("failed on purpose")
    }
}

simple_stage!(Fail, "fail", "Fails with args.message", FailArgs, |args| {
    bail!(args.message())
});

simple_stage!(
    FailIf,
    "fail-if",
    "Fails with args.message when args.fail",
    FailArgs,
    |args| {
        ensure!(!args.fail, args.message());
        Ok(Outcome::Success(json!({ "failed": false })))
    }
);

/// Arguments of [`CountRuns`].
#[data]
pub struct CountArgs {
    name: Option<String>,
}

simple_stage!(
    CountRuns,
    "count-runs",
    "Counts its runs in global `runs.<args.name>`",
    CountArgs,
    |args| {
        let key = format!("runs.{}", args.name.as_deref().unwrap_or(CountRuns::NAME));
        let runs = runner::get::<u64>(&key)?.unwrap_or(0) + 1;
        runner::set_global(&key, &runs)?;
        runner::set("ran", &true)?;
        Ok(Outcome::Success(json!({ "runs": runs })))
    }
);

simple_stage!(Trap, "trap", "Panics", NoArgs, |_args| {
    panic!("guest panicked on purpose")
});

simple_stage!(Spin, "spin", "Loops forever", NoArgs, |_args| {
    loop {
        std::hint::black_box(());
    }
});

/// Arguments of [`Grow`].
#[data]
pub struct GrowArgs {
    mib: Option<usize>,
}

simple_stage!(
    Grow,
    "grow",
    "Allocates args.mib MiB (default 4096), 1 MiB at a time",
    GrowArgs,
    |args| {
        let mut chunks = Vec::new();
        for _ in 0..args.mib.unwrap_or(4096) {
            let chunk = vec![1u8; 1 << 20];
            chunks.push(std::hint::black_box(chunk));
        }
        Ok(Outcome::Success(json!({ "allocated_mib": chunks.len() })))
    }
);

/// Arguments of [`HttpProbe`].
#[data]
pub struct ProbeArgs {
    url: String,
}

simple_stage!(
    HttpProbe,
    "http-probe",
    "GETs args.url; reports the status or the error",
    ProbeArgs,
    |args| {
        Ok(Outcome::Success(match http::get(&args.url).send() {
            Ok(response) => json!({ "status": response.status }),
            Err(error) => json!({ "error": error.message() }),
        }))
    }
);

/// Arguments of [`Introspect`].
#[data]
pub struct IntrospectArgs {
    env: Option<String>,
    config_key: Option<String>,
    sign: Option<Value>,
}

simple_stage!(
    Introspect,
    "introspect",
    "Reports what the capabilities show",
    IntrospectArgs,
    |args| {
        let signed = match &args.sign {
            Some(payload) => json!({
                "signature": signing::sign_json("staking", payload, JsonStyle::Python)?,
                "public_key": signing::public_key("staking")?,
            }),
            None => Value::Null,
        };
        let config = match &args.config_key {
            Some(key) => runner::config::<Value>(key)?,
            None => None,
        };
        Ok(Outcome::Success(json!({
            "worker": worker::current(),
            "names": worker::names(),
            "env": args.env.as_ref().and_then(worker::env),
            "config": config,
            "run_id": runner::run_id(),
            "round": runner::current_round(),
            "signed": signed,
        })))
    }
);

/// Arguments of [`StoreGet`].
#[data]
pub struct KeyArgs {
    key: String,
}

simple_stage!(
    StoreGet,
    "store-get",
    "Succeeds with the store's value at args.key",
    KeyArgs,
    |args| { Ok(Outcome::Success(json!(runner::get::<Value>(&args.key)?))) }
);

simple_stage!(
    Stdout,
    "stdout",
    "Prints a line to stdout and one to stderr",
    NoArgs,
    |_args| {
        println!("hello from stdout");
        eprintln!("hello from stderr");
        Ok(Outcome::Success(Value::Null))
    }
);

/// Arguments of [`Flaky`].
#[data]
pub struct FlakyArgs {
    name: String,
    /// The run (from 1) that succeeds; earlier runs fail or skip.
    succeed_on: u64,
    /// Skip instead of failing before `succeed_on`.
    #[serde(default)]
    skip: bool,
}

simple_stage!(
    Flaky,
    "flaky",
    "Fails (or skips) until its args.succeed_on-th run, counted in global `tries.<args.name>`",
    FlakyArgs,
    |args| {
        let key = format!("tries.{}", args.name);
        let run = runner::get::<u64>(&key)?.unwrap_or(0) + 1;
        runner::set_global(&key, &run)?;
        // When each try ran (Unix ms, the guest's WASI wall clock): the pauses between tries.
        let at_key = format!("tries_at.{}", args.name);
        let mut at = runner::get::<Vec<u64>>(&at_key)?.unwrap_or_default();
        at.push(unix_ms());
        runner::set_global(&at_key, &at)?;
        if run >= args.succeed_on {
            Ok(Outcome::Success(json!({ "run": run })))
        } else if args.skip {
            Ok(Outcome::skip(format!("not yet (run {run})")))
        } else {
            bail!("not yet (run {run})")
        }
    }
);

/// Milliseconds since the Unix epoch.
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Arguments of [`HttpFetch`].
#[data]
pub struct FetchArgs {
    url: String,
    /// Give up after this long (default: whatever the step's deadline leaves).
    timeout_ms: Option<u32>,
}

simple_stage!(
    HttpFetch,
    "http-fetch",
    "GETs args.url; reports the status and body text, or the error",
    FetchArgs,
    |args| {
        let mut request = http::get(&args.url);
        if let Some(ms) = args.timeout_ms {
            request = request.timeout_ms(ms);
        }
        Ok(Outcome::Success(match request.send() {
            Ok(response) => json!({ "status": response.status, "body": response.text() }),
            Err(error) => json!({ "error": error.message() }),
        }))
    }
);

/// Arguments of [`DbCount`].
#[data]
pub struct DbCountArgs {
    collection: String,
    #[serde(default)]
    filter: Value,
}

simple_stage!(
    DbCount,
    "db-count",
    "Counts documents of args.collection matching args.filter (needs `db: read`)",
    DbCountArgs,
    |args| {
        let filter = match &args.filter {
            Value::Null => json!({}),
            other => other.clone(),
        };
        Ok(Outcome::Success(
            json!({ "count": db::count(&args.collection, filter)? }),
        ))
    }
);

/// Arguments of [`Record`].
#[data]
pub struct RecordArgs {
    /// Where the worker records runs (`POST {round, step, run_id}`).
    url: String,
    /// This step's name.
    step: String,
    /// Its place in the round (from 0).
    index: u64,
    /// Steps per round, all of them `record` steps.
    steps_per_round: u64,
}

simple_stage!(
    Record,
    "record",
    "POSTs {round, step, run_id} to args.url, after checking that the store holds exactly \
     what the earlier `record` steps wrote; then counts itself in round `count` and global \
     `total`, and marks round `chain.<step>` and global `done.r<round>.<step>`",
    RecordArgs,
    |args| {
        let round = runner::current_round();
        let at = format!("round {round}, step {} (index {})", args.step, args.index);
        // What every earlier step of this round, and of the rounds before, left.
        let count = runner::get::<u64>("count")?.unwrap_or(0);
        ensure!(
            count == args.index,
            "{at}: round `count` is {count}, expected {}: a step's store writes were lost or doubled",
            args.index
        );
        let expected_total = u64::from(round - 1) * args.steps_per_round + args.index;
        let total = runner::get::<u64>("total")?.unwrap_or(0);
        ensure!(
            total == expected_total,
            "{at}: global `total` is {total}, expected {expected_total}"
        );
        let done = format!("done.r{round}.{}", args.step);
        ensure!(
            runner::get::<Value>(&done)?.is_none(),
            "{at}: `{done}` is set: this step already completed, the run resumed at the wrong step"
        );
        let response = http::post(&args.url)
            .json(&json!({ "round": round, "step": args.step, "run_id": runner::run_id() }))
            .send()?
            .error_for_status()?;
        runner::set("count", &(count + 1))?;
        runner::set(
            format!("chain.{}", args.step),
            &format!("r{round}:{}", args.step),
        )?;
        runner::set_global("total", &(total + 1))?;
        runner::set_global(&done, &true)?;
        Ok(Outcome::Success(
            json!({ "round": round, "total": total + 1, "worker": response.text() }),
        ))
    }
);

/// One operation of [`StoreScript`]: `{set: [key, value]}` or `{wait: [key, value]}`.
#[data]
pub struct StoreOp {
    set: Option<(String, Value)>,
    wait: Option<(String, Value)>,
}

/// Arguments of [`StoreScript`].
#[data]
pub struct StoreScriptArgs {
    ops: Vec<StoreOp>,
}

simple_stage!(
    StoreScript,
    "store-script",
    "Runs args.ops in order: `{set: [key, value]}` sets a global key; `{wait: [key, value]}` \
     polls until the store holds that value (until the step's timeout). Steps of a group can \
     only pass a handoff when they run at once",
    StoreScriptArgs,
    |args| {
        let mut polls = 0u64;
        for op in &args.ops {
            if let Some((key, value)) = &op.set {
                log::info(format!("set {key} = {value}"));
                runner::set_global(key, value)?;
            }
            if let Some((key, value)) = &op.wait {
                log::info(format!("wait for {key} = {value}"));
                while runner::get::<Value>(key)?.as_ref() != Some(value) {
                    polls += 1;
                }
                log::info(format!("saw {key} = {value}"));
            }
        }
        Ok(Outcome::Success(json!({ "polls": polls })))
    }
);

/// The stages the SDK dispatches.
const STAGES: &[promwasm_guest::__private::Entry] = &[
    promwasm_guest::__private::Entry::of::<Echo>(),
    promwasm_guest::__private::Entry::of::<Skip>(),
    promwasm_guest::__private::Entry::of::<Fail>(),
    promwasm_guest::__private::Entry::of::<FailIf>(),
    promwasm_guest::__private::Entry::of::<CountRuns>(),
    promwasm_guest::__private::Entry::of::<Trap>(),
    promwasm_guest::__private::Entry::of::<Spin>(),
    promwasm_guest::__private::Entry::of::<Grow>(),
    promwasm_guest::__private::Entry::of::<HttpProbe>(),
    promwasm_guest::__private::Entry::of::<Introspect>(),
    promwasm_guest::__private::Entry::of::<StoreGet>(),
    promwasm_guest::__private::Entry::of::<Stdout>(),
    promwasm_guest::__private::Entry::of::<Flaky>(),
    promwasm_guest::__private::Entry::of::<HttpFetch>(),
    promwasm_guest::__private::Entry::of::<DbCount>(),
    promwasm_guest::__private::Entry::of::<Record>(),
    promwasm_guest::__private::Entry::of::<StoreScript>(),
];

/// What `malformed-prepare` hands over as its data, and `malformed-execute` as its result.
const MALFORMED: &str = r#"{"half": [1, 2"#;

/// The WIT exports: the SDK's dispatch (what `export_stages!` generates),
/// plus the two stages that break the JSON contract on purpose.
struct TestGuests;

impl promwasm_guest::bindings::Guest for TestGuests {
    fn stages() -> Vec<promwasm_guest::bindings::StageInfo> {
        let mut stages = promwasm_guest::__private::stages(STAGES);
        for (name, description) in [
            ("malformed-prepare", "prepare returns text that is not JSON"),
            (
                "malformed-execute",
                "execute succeeds with text that is not JSON",
            ),
        ] {
            stages.push(promwasm_guest::bindings::StageInfo {
                name: name.into(),
                description: description.into(),
            });
        }
        stages
    }

    fn prepare(stage: String, args: String) -> std::result::Result<String, String> {
        match stage.as_str() {
            "malformed-prepare" => Ok(MALFORMED.into()),
            "malformed-execute" => Ok("null".into()),
            _ => promwasm_guest::__private::prepare(STAGES, &stage, &args),
        }
    }

    fn execute(
        stage: String,
        args: String,
        data: String,
    ) -> std::result::Result<promwasm_guest::bindings::Outcome, String> {
        match stage.as_str() {
            "malformed-prepare" => Ok(promwasm_guest::bindings::Outcome::Success("{}".into())),
            "malformed-execute" => Ok(promwasm_guest::bindings::Outcome::Success(MALFORMED.into())),
            _ => promwasm_guest::__private::execute(STAGES, &stage, &args, &data),
        }
    }
}

promwasm_guest::bindings::__export_step!(TestGuests with_types_in promwasm_guest::bindings);
