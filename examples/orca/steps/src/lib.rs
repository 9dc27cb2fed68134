//! Stages of the example Orca task: each talks to the current worker's server
//! (examples/orca/server) the way Koii task nodes do, with payloads signed by
//! the worker's staking key (`namespaceWrapper.payloadSigning`).
//!
//! | stage | args | what it does |
//! | --- | --- | --- |
//! | `task` | | `POST /task`, stores `task_result` |
//! | `submission` | | `POST /submission`, signs and stores `submission.<worker>` |
//! | `audit` | `target` | `POST /audit` of `submission.<target>`, stores `audit.<target>` |
//! | `tamper-task` | | `task` with a corrupted signature; fails with the server's 401 |
//! | `check-round` | `skip_unless_round` | skips except in that round |
//! | `todos-seen` | | counts and reads this task's todos in MongoDB |
//! | `post-load` | `assign` | post-load hook: assigns todos round-robin to workers |

use promwasm_guest::prelude::*;

mod koii;

/// `POST /task`: the worker does the round's work.
pub struct Task;

impl Stage for Task {
    const NAME: &'static str = "task";
    const DESCRIPTION: &'static str = "Run the round's task on the current worker";
    type Args = NoArgs;
    type Data = Value;
    type Output = Value;

    fn prepare(_: &NoArgs) -> Result<Value> {
        koii::task_body()
    }

    fn execute(_: &NoArgs, body: Value) -> Result<Outcome> {
        let result = koii::data(&koii::post("task", &body)?)?;
        runner::set("task_result", &result)?;
        Ok(Outcome::Success(result))
    }
}

/// `POST /submission`: fetch the round's result, sign it, keep it for auditors.
pub struct Submission;

impl Stage for Submission {
    const NAME: &'static str = "submission";
    const DESCRIPTION: &'static str = "Fetch the worker's submission and store it signed";
    type Args = NoArgs;
    type Data = Value;
    type Output = Value;

    fn prepare(_: &NoArgs) -> Result<Value> {
        let me = worker::current();
        let signature = koii::sign_action("fetch-submission", &me)?;
        Ok(json!({ "signature": signature, "stakingKey": me.staking_key()? }))
    }

    fn execute(_: &NoArgs, body: Value) -> Result<Outcome> {
        let me = worker::current();
        let data = koii::data(&koii::post("submission", &body)?)?;
        let submission = data
            .get("submission")
            .context("answer has no `submission`")?;
        let record = json!({
            "submission": submission,
            "signature": signing::sign_json("staking", submission, JsonStyle::Js)?,
            "stakingKey": me.staking_key()?,
        });
        runner::set(format!("submission.{}", me.name), &record)?;
        Ok(Outcome::Success(record))
    }
}

/// `POST /audit`: the current worker judges `target`'s submission.
pub struct Audit;

/// Arguments of [`Audit`].
#[data]
pub struct AuditArgs {
    /// The worker whose submission is audited.
    pub target: String,
}

impl Stage for Audit {
    const NAME: &'static str = "audit";
    const DESCRIPTION: &'static str = "Audit another worker's submission (args: target)";
    type Args = AuditArgs;
    type Data = Value;
    type Output = Value;

    fn prepare(args: &AuditArgs) -> Result<Value> {
        let me = worker::current();
        let target = &args.target;
        let stored: Value = runner::get(format!("submission.{target}"))?.with_context(|| {
            let round = runner::current_round();
            format!("no submission from {target} in round {round} — did step submission run?")
        })?;
        Ok(json!({
            "signature": koii::sign_action("audit", &me)?,
            "stakingKey": me.staking_key()?,
            "submission": stored["submission"],
            "submitterKey": stored["stakingKey"],
            "submissionSignature": stored["signature"],
        }))
    }

    fn execute(args: &AuditArgs, body: Value) -> Result<Outcome> {
        let verdict = koii::data(&koii::post("audit", &body)?)?;
        if verdict["valid"] != true {
            bail!(
                "audit of {} failed: {}",
                args.target,
                koii::text(&verdict["reason"])
            );
        }
        runner::set(format!("audit.{}", args.target), &verdict)?;
        Ok(Outcome::Success(verdict))
    }
}

/// `task` with one character of the signature changed: the server must refuse it.
pub struct TamperTask;

impl Stage for TamperTask {
    const NAME: &'static str = "tamper-task";
    const DESCRIPTION: &'static str =
        "Send `task` with a tampered signature; fails with the server's 401";
    type Args = NoArgs;
    type Data = Value;
    type Output = Value;

    fn prepare(_: &NoArgs) -> Result<Value> {
        let mut body = koii::task_body()?;
        body["signature"] = koii::tamper(koii::text(&body["signature"])).into();
        Ok(body)
    }

    fn execute(_: &NoArgs, body: Value) -> Result<Outcome> {
        let response = koii::post("task", &body)?;
        match response.status {
            401 => bail!("HTTP 401: {}", koii::server_error(&response)),
            200..=299 => {
                log_error!("the server accepted a tampered signature");
                Ok(Outcome::Success(koii::data(&response)?))
            }
            status => bail!(
                "expected HTTP 401, got {status}: {}",
                koii::server_error(&response)
            ),
        }
    }
}

/// Skips unless it is round `skip_unless_round`.
pub struct CheckRound;

/// Arguments of [`CheckRound`].
#[data]
pub struct CheckRoundArgs {
    /// The only round in which the stage runs (every round when absent).
    pub skip_unless_round: Option<u32>,
}

impl Stage for CheckRound {
    const NAME: &'static str = "check-round";
    const DESCRIPTION: &'static str = "Skip unless the round is `skip_unless_round`";
    type Args = CheckRoundArgs;
    type Data = u32;
    type Output = Value;

    fn prepare(_: &CheckRoundArgs) -> Result<u32> {
        Ok(runner::current_round())
    }

    fn execute(args: &CheckRoundArgs, round: u32) -> Result<Outcome> {
        match args.skip_unless_round {
            Some(n) if n != round => Ok(Outcome::skip(format!("only runs in round {n}"))),
            _ => Ok(Outcome::Success(json!({ "round": round }))),
        }
    }
}

/// Reads this task's todos from MongoDB (needs `db: read`).
pub struct TodosSeen;

impl Stage for TodosSeen {
    const NAME: &'static str = "todos-seen";
    const DESCRIPTION: &'static str = "Count this task's todos and read this round's (db: read)";
    type Args = NoArgs;
    type Data = ();
    type Output = Value;

    fn prepare(_: &NoArgs) -> Result<()> {
        Ok(())
    }

    fn execute(_: &NoArgs, _: ()) -> Result<Outcome> {
        let filter = json!({ "taskId": koii::task_id()? });
        let count = db::count("todos", filter.clone())?;
        // One key: a `Value` object orders its keys alphabetically, so a
        // second key (`_id`) would become the first sort key.
        let sort = json!({ "roundNumber": 1 });
        let todos: Vec<Value> = db::find_with("todos", filter, Some(sort), None)?;
        let todo = koii::round_index(runner::current_round(), todos.len()).map(|i| &todos[i]);
        Ok(Outcome::Success(json!({ "count": count, "todo": todo })))
    }
}

/// Post-load hook: assigns this task's todos to workers, round-robin.
pub struct PostLoad;

/// Arguments of [`PostLoad`].
#[data]
pub struct PostLoadArgs {
    /// Workers to assign todos to, in turn (default: all workers).
    pub assign: Option<Vec<String>>,
}

impl Stage for PostLoad {
    const NAME: &'static str = "post-load";
    const DESCRIPTION: &'static str = "Assign this task's todos to workers round-robin";
    type Args = PostLoadArgs;
    type Data = ();
    type Output = Value;

    fn prepare(_: &PostLoadArgs) -> Result<()> {
        Ok(())
    }

    fn execute(args: &PostLoadArgs, _: ()) -> Result<Outcome> {
        let names = args.assign.clone().unwrap_or_else(worker::names);
        ensure!(!names.is_empty(), "no workers to assign todos to");
        let todos: Vec<Value> = db::find("todos", json!({ "taskId": koii::task_id()? }))?;
        let mut updated = 0;
        for (todo, name) in todos.iter().zip(names.iter().cycle()) {
            let filter = json!({ "_id": todo["_id"] });
            updated += db::update_many("todos", filter, json!({ "$set": { "assignedTo": name } }))?;
        }
        Ok(Outcome::Success(json!({ "updated": updated })))
    }
}

export_stages!(Task, Submission, Audit, TamperTask, CheckRound, TodosSeen, PostLoad);
