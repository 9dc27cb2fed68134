//! HTTP endpoints of the worker, shaped like an Orca task's worker server.
//!
//! Every endpoint that carries authority takes a Koii-signed payload and binds
//! its fields to the request (action, staking key, task, round) before doing
//! anything, so a signature made for one endpoint or round cannot be replayed
//! against another. Errors are always JSON `{"success": false, "error": ...}`
//! with a reason specific enough to debug an end-to-end run from the log alone.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::store::{AuditRecord, Store};
use crate::todos::{self, TodoSource};
use crate::verify::{self, VerifyError};

/// What every handler needs; cheap to clone (all shared).
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub todos: Arc<TodoSource>,
    /// Goes into results and log lines so multi-worker runs are readable.
    pub worker_name: Arc<str>,
    /// When set, signed payloads must name this task.
    pub task_id: Option<Arc<str>>,
}

/// The worker's router, with per-request logging.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/state", get(get_state))
        .route("/task", post(task))
        .route("/submission", post(submission))
        .route("/audit", post(audit))
        .fallback(not_found)
        .layer(middleware::from_fn(log_requests))
        .with_state(state)
}

/// An error response: status plus the reason sent as `error`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

/// The reason of an error response, attached so the logging middleware can
/// print it to stderr together with the method and path.
#[derive(Clone)]
struct ErrorReason(String);

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn internal(context: &str, error: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{context}: {error}"),
        )
    }
}

impl From<VerifyError> for ApiError {
    fn from(e: VerifyError) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({"success": false, "error": self.message}));
        let mut response = (self.status, body).into_response();
        response.extensions_mut().insert(ErrorReason(self.message));
        response
    }
}

type ApiResult = Result<Response, ApiError>;

fn ok(data: Value) -> ApiResult {
    Ok(Json(json!({"success": true, "data": data})).into_response())
}

/// One stdout line per request; error reasons also go to stderr.
async fn log_requests(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status();
    let ms = started.elapsed().as_millis();
    // No name prefix: promwasm labels each line with the worker's name.
    println!("{method} {path} {} {ms}ms", status.as_u16());
    if let Some(ErrorReason(reason)) = response.extensions().get::<ErrorReason>() {
        eprintln!("error: {method} {path} {}: {reason}", status.as_u16());
    }
    response
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route for {method} {}", uri.path()),
    )
}

async fn healthz() -> Json<Value> {
    Json(json!({"ok": true}))
}

async fn get_state(State(state): State<AppState>) -> Json<crate::store::State> {
    Json(state.store.snapshot())
}

/// Parses a JSON body ourselves so malformed input gets a JSON 400 with
/// serde's precise message instead of axum's plain-text rejection.
fn parse_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = body.map_err(|e| ApiError::new(e.status(), format!("cannot read body: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
}

/// A verified payload's task and round.
#[derive(Debug)]
struct Authorized {
    task_id: String,
    round: u64,
    payload: Value,
}

impl AppState {
    /// Verifies `signature` with `staking_key` and binds the payload to this
    /// request: right `action`, same `stakingKey`, this worker's task (when
    /// `TASK_ID` is configured) and a usable `roundNumber`.
    fn authorize(
        &self,
        signature: &str,
        staking_key: &str,
        action: &str,
    ) -> Result<Authorized, VerifyError> {
        let payload = verify::verify_payload(signature, staking_key)?;
        verify::expect_field(&payload, "action", &json!(action))?;
        verify::expect_field(&payload, "stakingKey", &json!(staking_key))?;
        let task_id = match (&self.task_id, payload.get("taskId")) {
            (Some(ours), _) => {
                verify::expect_field(&payload, "taskId", &json!(ours.as_ref()))?;
                ours.to_string()
            }
            (None, Some(Value::String(theirs))) => theirs.clone(),
            (None, other) => return Err(mismatch("taskId", "a string", other)),
        };
        let round = match payload.get("roundNumber") {
            Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64().unwrap_or_default(),
            other => return Err(mismatch("roundNumber", "a non-negative integer", other)),
        };
        Ok(Authorized {
            task_id,
            round,
            payload,
        })
    }

    async fn todo_for(&self, task_id: &str, round: u64) -> Result<todos::Todo, ApiError> {
        self.todos
            .todo_for_round(task_id, round)
            .await
            .map_err(|e| {
                ApiError::internal(
                    &format!("todo lookup for round {round} failed"),
                    format_args!("{e:#}"),
                )
            })
    }

    /// Runs a store write on the blocking pool (it fsyncs).
    async fn save(
        &self,
        write: impl FnOnce(&Store) -> anyhow::Result<()> + Send + 'static,
    ) -> Result<(), ApiError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || write(&store))
            .await
            .map_err(|e| ApiError::internal("state write panicked", e))?
            .map_err(|e| ApiError::internal("cannot save state", format_args!("{e:#}")))
    }
}

fn mismatch(field: &str, expected: &str, found: Option<&Value>) -> VerifyError {
    VerifyError::FieldMismatch {
        field: field.to_string(),
        expected: expected.to_string(),
        found: found.map_or_else(|| "nothing".to_string(), Value::to_string),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskBody {
    signature: String,
    staking_key: String,
    pub_key: String,
}

/// Does the round's work and keeps the result for the submission phase.
async fn task(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> ApiResult {
    let body: TaskBody = parse_body(body)?;
    let auth = state.authorize(&body.signature, &body.staking_key, "task")?;
    verify::expect_field(&auth.payload, "pubKey", &json!(body.pub_key))?;

    let todo = state.todo_for(&auth.task_id, auth.round).await?;
    let result = todos::result_for(&auth.task_id, auth.round, &todo, &state.worker_name);
    let stored = result.clone();
    let round = auth.round;
    state.save(move |s| s.put_round(round, stored)).await?;
    ok(result)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubmissionBody {
    signature: String,
    staking_key: String,
}

/// Hands over the stored result of a round (Orca's fetch-submission).
async fn submission(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let body: SubmissionBody = parse_body(body)?;
    let auth = state.authorize(&body.signature, &body.staking_key, "fetch-submission")?;
    match state.store.round(auth.round) {
        Some(result) => ok(json!({"roundNumber": auth.round, "submission": result})),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no submission for round {}", auth.round),
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuditBody {
    signature: String,
    staking_key: String,
    /// Missing becomes `null`, which then fails the signed-copy comparison.
    submission: Value,
    submitter_key: String,
    submission_signature: String,
}

/// Judges another worker's submission by recomputing it.
///
/// A bad *submitter* signature is a verdict (`valid: false`), not a 401: the
/// auditor's own request is authorised, it is the submission that is bad.
async fn audit(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> ApiResult {
    let body: AuditBody = parse_body(body)?;
    let auth = state.authorize(&body.signature, &body.staking_key, "audit")?;

    let (valid, reason) = match check_submission(&state, &auth, &body).await? {
        Ok(()) => (true, "ok".to_string()),
        Err(reason) => (false, reason),
    };

    let record = AuditRecord {
        round_number: auth.round,
        auditor: body.staking_key.clone(),
        submitter_key: body.submitter_key.clone(),
        valid,
        reason: reason.clone(),
    };
    state.save(move |s| s.push_audit(record)).await?;
    ok(json!({"valid": valid, "reason": reason}))
}

/// `Ok(Err(reason))` is an invalid submission; the outer `Err` means the
/// audit itself could not be done (e.g. the todo lookup failed).
async fn check_submission(
    state: &AppState,
    auth: &Authorized,
    body: &AuditBody,
) -> Result<Result<(), String>, ApiError> {
    let signed = match verify::verify_payload(&body.submission_signature, &body.submitter_key) {
        Ok(signed) => signed,
        Err(e) => return Ok(Err(format!("submission signature: {e}"))),
    };
    if signed != body.submission {
        return Ok(Err(
            "submission differs from what submitterKey signed".to_string()
        ));
    }
    let claimed_round = body.submission.get("roundNumber");
    if claimed_round != Some(&json!(auth.round)) {
        return Ok(Err(format!(
            "submission roundNumber {} is not the audited round {}",
            claimed_round.map_or_else(|| "missing".to_string(), Value::to_string),
            auth.round
        )));
    }

    let todo = state.todo_for(&auth.task_id, auth.round).await?;
    let claimed_todo = body.submission.get("todo");
    if claimed_todo != Some(&json!(todo.title)) {
        return Ok(Err(format!(
            "todo mismatch: expected {:?}, found {}",
            todo.title,
            claimed_todo.map_or_else(|| "nothing".to_string(), Value::to_string)
        )));
    }
    let expected = todos::digest(&auth.task_id, auth.round, &todo.title);
    let claimed_digest = body.submission.get("digest");
    if claimed_digest != Some(&json!(expected)) {
        return Ok(Err(format!(
            "digest mismatch: expected {expected}, found {}",
            claimed_digest.map_or_else(|| "nothing".to_string(), Value::to_string)
        )));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::sign_payload;
    use crate::verify::tests::key;

    fn state(task_id: Option<&str>) -> AppState {
        AppState {
            store: Arc::new(Store::open("/nonexistent/never-written.json").unwrap()),
            todos: Arc::new(TodoSource::new(None, None)),
            worker_name: "w".into(),
            task_id: task_id.map(Into::into),
        }
    }

    #[test]
    fn authorize_binds_action_task_and_round() {
        let (sk, pk) = key(9);
        let sign = |p: Value| sign_payload(&sk, &p);
        let good = json!({"taskId": "T", "roundNumber": 4, "action": "audit", "stakingKey": pk});

        let auth = state(Some("T"))
            .authorize(&sign(good.clone()), &pk, "audit")
            .unwrap();
        assert_eq!((auth.task_id.as_str(), auth.round), ("T", 4));
        // Without TASK_ID the payload's task is used.
        let auth = state(None)
            .authorize(&sign(good.clone()), &pk, "audit")
            .unwrap();
        assert_eq!(auth.task_id, "T");

        let err = state(Some("T"))
            .authorize(&sign(good.clone()), &pk, "task")
            .unwrap_err();
        assert!(err.to_string().contains("field action mismatch"), "{err}");
        let err = state(Some("U"))
            .authorize(&sign(good.clone()), &pk, "audit")
            .unwrap_err();
        assert!(err.to_string().contains("field taskId mismatch"), "{err}");

        let mut neg = good.clone();
        neg["roundNumber"] = json!(-1);
        let err = state(None).authorize(&sign(neg), &pk, "audit").unwrap_err();
        assert!(
            err.to_string().contains("field roundNumber mismatch"),
            "{err}"
        );

        let mut no_task = good;
        no_task.as_object_mut().unwrap().remove("taskId");
        let err = state(None)
            .authorize(&sign(no_task), &pk, "audit")
            .unwrap_err();
        assert!(err.to_string().contains("field taskId mismatch"), "{err}");
    }

    #[test]
    fn malformed_bodies_are_400() {
        let err = parse_body::<TaskBody>(Ok(Bytes::from_static(b"{oops"))).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        let err =
            parse_body::<TaskBody>(Ok(Bytes::from_static(b"{\"signature\":\"x\"}"))).unwrap_err();
        assert!(err.message.contains("missing field"), "{}", err.message);
    }
}
