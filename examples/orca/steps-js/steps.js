// Stages of the example Orca task in JavaScript: the same stages as the Rust
// ones in examples/orca/steps/src/lib.rs, with the same HTTP calls, signed
// payloads, store keys and results, so the same worker server accepts them.
//
// | stage         | args                | what it does                                           |
// | ------------- | ------------------- | ------------------------------------------------------ |
// | `task`        |                     | `POST /task`, stores `task_result`                     |
// | `submission`  |                     | `POST /submission`, signs and stores `submission.<worker>` |
// | `audit`       | `target`            | `POST /audit` of `submission.<target>`, stores `audit.<target>` |
// | `tamper-task` |                     | `task` with a corrupted signature; fails with the server's 401 |
// | `check-round` | `skip_unless_round` | skips except in that round                             |
// | `todos-seen`  |                     | counts and reads this task's todos in MongoDB          |
// | `post-load`   | `assign`            | post-load hook: assigns todos round-robin to workers   |
//
// Built by `cargo xtask guests` into orca_steps_js.wasm (guest-sdk/js/README.md).

import { db, log, runner, skip, stage, worker } from "../../../guest-sdk/js/promwasm.js";
import * as koii from "./koii.js";

export { execute, prepare, stages } from "../../../guest-sdk/js/promwasm.js";

stage("task", "Run the round's task on the current worker", {
  prepare: () => koii.taskBody(),
  execute(_, body) {
    const result = koii.data(koii.post("task", body));
    runner.set("task_result", result);
    return result;
  },
});

stage("submission", "Fetch the worker's submission and store it signed", {
  prepare() {
    const me = worker.current();
    return { signature: koii.signAction("fetch-submission", me), stakingKey: me.stakingKey() };
  },
  execute(_, body) {
    const me = worker.current();
    const answer = koii.data(koii.post("submission", body)) ?? {};
    if (answer.submission === undefined) throw new Error("answer has no `submission`");
    const submission = koii.sorted(answer.submission);
    const record = { submission, signature: koii.sign(submission), stakingKey: me.stakingKey() };
    runner.set(`submission.${me.name}`, record);
    return record;
  },
});

stage("audit", "Audit another worker's submission (args: target)", {
  prepare({ target }) {
    if (typeof target !== "string") throw new Error("stage `audit`: args: missing field `target`");
    const me = worker.current();
    const stored = runner.get(`submission.${target}`);
    if (stored === null) {
      const round = runner.currentRound();
      throw new Error(`no submission from ${target} in round ${round} — did step submission run?`);
    }
    return {
      signature: koii.signAction("audit", me),
      stakingKey: me.stakingKey(),
      submission: stored.submission ?? null,
      submitterKey: stored.stakingKey ?? null,
      submissionSignature: stored.signature ?? null,
    };
  },
  execute({ target }, body) {
    const verdict = koii.data(koii.post("audit", body));
    if (verdict?.valid !== true) {
      throw new Error(`audit of ${target} failed: ${koii.text(verdict?.reason)}`);
    }
    runner.set(`audit.${target}`, verdict);
    return verdict;
  },
});

stage("tamper-task", "Send `task` with a tampered signature; fails with the server's 401", {
  prepare() {
    const body = koii.taskBody();
    return { ...body, signature: koii.tamper(body.signature) };
  },
  execute(_, body) {
    const response = koii.post("task", body);
    if (response.status === 401) throw new Error(`HTTP 401: ${koii.serverError(response)}`);
    if (!response.ok) {
      throw new Error(`expected HTTP 401, got ${response.status}: ${koii.serverError(response)}`);
    }
    log.error("the server accepted a tampered signature");
    return koii.data(response);
  },
});

stage("check-round", "Skip unless the round is `skip_unless_round`", {
  prepare: () => runner.currentRound(),
  execute({ skip_unless_round: only }, round) {
    if (only != null && only !== round) return skip(`only runs in round ${only}`);
    return { round };
  },
});

stage("todos-seen", "Count this task's todos and read this round's (db: read)", {
  execute() {
    const filter = { taskId: koii.taskId() };
    const count = db.count("todos", filter);
    const todos = db.find("todos", filter, { sort: { roundNumber: 1, _id: 1 } });
    const at = koii.roundIndex(runner.currentRound(), todos.length);
    return { count, todo: at === null ? null : todos[at] };
  },
});

stage("post-load", "Assign this task's todos to workers round-robin", {
  execute({ assign }) {
    const names = assign ?? worker.names();
    if (names.length === 0) throw new Error("no workers to assign todos to");
    const todos = db.find("todos", { taskId: koii.taskId() });
    let updated = 0;
    todos.forEach((todo, i) => {
      const filter = { _id: todo._id };
      updated += db.updateMany("todos", filter, { $set: { assignedTo: names[i % names.length] } });
    });
    return { updated };
  },
});
