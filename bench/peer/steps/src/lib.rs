//! promwasm's side of `cargo xtask bench peer`: the same stages as
//! `bench/peer/prometheus/steps.py`, request for request and signature for
//! signature (payloads signed as `prometheus_test.utils.create_signature`
//! does: `json.dumps(sort_keys=True)`).
//!
//! | stage | args | what it does |
//! | --- | --- | --- |
//! | `task` | | signed `POST /task`, stores `task_result` |
//! | `submission` | | signed `POST /submission`, signs the answer, stores `submission.<worker>` |
//! | `audit` | `target` | signed `POST /audit` of `submission.<target>`; fails unless valid |
//! | `ready` | | its output is the wall-clock time it started (`ready_at`, seconds) |
//! | `sets` | `count` | `runner.set` `count` times; its output is how long that took |

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use promwasm_guest::http::Response;
use promwasm_guest::prelude::*;

/// The payload every signed request carries.
fn signed_action(action: &str) -> Result<Value> {
    let me = worker::current();
    let task_id: String = runner::config("task_id")?.context("config.yaml has no `task_id`")?;
    let payload = json!({
        "taskId": task_id,
        "roundNumber": runner::current_round(),
        "action": action,
        "stakingKey": me.staking_key()?,
    });
    Ok(json!({
        "signature": signing::sign_json("staking", &payload, JsonStyle::Python)?,
        "stakingKey": me.staking_key()?,
    }))
}

/// `POST` to the current worker; the `data` of its `{"success": true}` answer.
fn post(path: &str, body: &Value) -> Result<Value> {
    let response: Response = http::post(worker::current().endpoint(path))
        .json(body)
        .send()?;
    let answer: Value = response.json()?;
    ensure!(
        response.is_success() && answer["success"] == true,
        "POST /{path}: HTTP {}: {answer}",
        response.status
    );
    Ok(answer["data"].clone())
}

/// `POST /task`.
pub struct Task;

impl Stage for Task {
    const NAME: &'static str = "task";
    const DESCRIPTION: &'static str = "Signed POST /task; stores task_result";
    type Args = NoArgs;
    type Data = Value;
    type Output = Value;

    fn prepare(_: &NoArgs) -> Result<Value> {
        signed_action("task")
    }

    fn execute(_: &NoArgs, body: Value) -> Result<Outcome> {
        let result = post("task", &body)?;
        runner::set("task_result", &result)?;
        Ok(Outcome::Success(result))
    }
}

/// `POST /submission`, then the submission signed for the auditors.
pub struct Submission;

impl Stage for Submission {
    const NAME: &'static str = "submission";
    const DESCRIPTION: &'static str = "Signed POST /submission; stores it signed";
    type Args = NoArgs;
    type Data = Value;
    type Output = Value;

    fn prepare(_: &NoArgs) -> Result<Value> {
        signed_action("fetch-submission")
    }

    fn execute(_: &NoArgs, body: Value) -> Result<Outcome> {
        let me = worker::current();
        let data = post("submission", &body)?;
        let submission = data.get("submission").context("no `submission`")?;
        let record = json!({
            "submission": submission,
            "signature": signing::sign_json("staking", submission, JsonStyle::Python)?,
            "stakingKey": me.staking_key()?,
        });
        runner::set(format!("submission.{}", me.name), &record)?;
        Ok(Outcome::Success(record))
    }
}

/// `POST /audit` of another worker's submission.
pub struct Audit;

/// Arguments of [`Audit`].
#[data]
pub struct AuditArgs {
    /// The worker whose submission is audited.
    pub target: String,
}

impl Stage for Audit {
    const NAME: &'static str = "audit";
    const DESCRIPTION: &'static str = "Signed POST /audit of `target`'s submission";
    type Args = AuditArgs;
    type Data = Value;
    type Output = Value;

    fn prepare(args: &AuditArgs) -> Result<Value> {
        let stored: Value = runner::get(format!("submission.{}", args.target))?
            .with_context(|| format!("no submission from {} this round", args.target))?;
        let mut body = signed_action("audit")?;
        body["submission"] = stored["submission"].clone();
        body["submitterKey"] = stored["stakingKey"].clone();
        body["submissionSignature"] = stored["signature"].clone();
        Ok(body)
    }

    fn execute(args: &AuditArgs, body: Value) -> Result<Outcome> {
        let verdict = post("audit", &body)?;
        ensure!(
            verdict["valid"] == true,
            "audit of {}: {verdict}",
            args.target
        );
        runner::set(format!("audit.{}", args.target), &verdict)?;
        Ok(Outcome::Success(verdict))
    }
}

/// Says when it started: the workers were all ready by then.
pub struct Ready;

impl Stage for Ready {
    const NAME: &'static str = "ready";
    const DESCRIPTION: &'static str = "Output the wall-clock time this step started";
    type Args = NoArgs;
    type Data = f64;
    type Output = Value;

    fn prepare(_: &NoArgs) -> Result<f64> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
        Ok(now.as_secs_f64())
    }

    fn execute(_: &NoArgs, ready_at: f64) -> Result<Outcome> {
        Ok(Outcome::Success(json!({ "ready_at": ready_at })))
    }
}

/// `runner.set` in a loop.
pub struct Sets;

/// Arguments of [`Sets`].
#[data]
pub struct SetsArgs {
    /// How many calls.
    pub count: u32,
}

impl Stage for Sets {
    const NAME: &'static str = "sets";
    const DESCRIPTION: &'static str = "Call runner.set `count` times; output how long it took";
    type Args = SetsArgs;
    type Data = ();
    type Output = Value;

    fn prepare(_: &SetsArgs) -> Result<()> {
        Ok(())
    }

    fn execute(args: &SetsArgs, _: ()) -> Result<Outcome> {
        let start = Instant::now();
        for i in 0..args.count {
            runner::set("sets.value", &i)?;
        }
        let seconds = start.elapsed().as_secs_f64();
        Ok(Outcome::Success(
            json!({ "count": args.count, "seconds": seconds }),
        ))
    }
}

export_stages!(Task, Submission, Audit, Ready, Sets);
