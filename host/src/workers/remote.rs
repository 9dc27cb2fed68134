//! Workers promwasm did not start (`url` in workers.json), watched while the
//! run goes on: there is no process to wait on, so each is probed in the
//! background the way it was found ready, and one that stops answering fails
//! the run through [`WorkerSet::check_alive`](super::WorkerSet::check_alive)
//! instead of leaving steps to time out against it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::AbortHandle;

use super::{Probe, WorkerError};

/// Time between probes of one remote worker.
pub const PROBE_EVERY: Duration = Duration::from_millis(500);
/// Probes in a row that must fail before the worker counts as gone: one
/// refused connect or slow answer is not enough.
pub const FAILURES: u32 = 3;

/// The probe tasks and what they found; dropping it stops the probes.
#[derive(Default)]
pub struct RemoteWatch {
    watched: Vec<Watched>,
    tasks: Vec<AbortHandle>,
}

struct Watched {
    name: String,
    probe: Arc<Probe>,
    health: Arc<Mutex<Health>>,
}

/// Probes that failed in a row, and the last one's error.
#[derive(Debug, Default)]
struct Health {
    failures: u32,
    last_error: String,
}

impl RemoteWatch {
    /// Start probing each worker in `remote` (name, probe) every [`PROBE_EVERY`].
    /// Call from the async runtime.
    pub fn start(remote: Vec<(String, Arc<Probe>)>, client: Option<reqwest::Client>) -> Self {
        let mut watch = RemoteWatch::default();
        for (name, probe) in remote {
            let health = Arc::new(Mutex::new(Health::default()));
            let task = tokio::spawn(watch_one(probe.clone(), client.clone(), health.clone()));
            watch.tasks.push(task.abort_handle());
            watch.watched.push(Watched {
                name,
                probe,
                health,
            });
        }
        watch
    }

    /// Fail if a remote worker has missed [`FAILURES`] probes in a row.
    pub fn check(&self) -> Result<(), WorkerError> {
        for w in &self.watched {
            let health = w.health.lock().unwrap_or_else(|p| p.into_inner());
            if health.failures >= FAILURES {
                return Err(WorkerError::StoppedAnswering {
                    name: w.name.clone(),
                    addr: w.probe.address(),
                    probe: w.probe.describe(),
                    failures: health.failures,
                    last: health.last_error.clone(),
                });
            }
        }
        Ok(())
    }
}

impl Drop for RemoteWatch {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn watch_one(probe: Arc<Probe>, client: Option<reqwest::Client>, health: Arc<Mutex<Health>>) {
    let mut every = tokio::time::interval(PROBE_EVERY);
    // A stalled runtime must not fire a burst of probes that counts as many failures.
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate, and the worker has just been found ready.
    every.tick().await;
    loop {
        every.tick().await;
        let answered = probe.once(client.as_ref()).await;
        let mut h = health.lock().unwrap_or_else(|p| p.into_inner());
        match answered {
            Ok(()) => h.failures = 0,
            Err(e) => {
                h.failures += 1;
                h.last_error = e;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{PortFrom, Readiness, WorkerPlan};
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    fn remote_probe(port: u16) -> Arc<Probe> {
        Arc::new(Probe::of(&WorkerPlan {
            name: "ext".into(),
            port,
            port_from: PortFrom::Url,
            url: format!("http://127.0.0.1:{port}"),
            launch: None,
            ready: Readiness::Tcp {
                timeout: Duration::from_secs(1),
            },
            env: BTreeMap::new(),
            keys: BTreeMap::new(),
            fields: serde_json::Map::new(),
            database_path: PathBuf::from("ext.db"),
        }))
    }

    /// A listener on a free port that counts the connections it accepts.
    async fn counting_listener() -> (u16, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(AtomicUsize::new(0));
        let count = seen.clone();
        let server = tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        (port, seen, server)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_server_that_goes_away_is_reported_after_three_failed_probes() {
        let (port, seen, server) = counting_listener().await;
        let watch = RemoteWatch::start(vec![("ext".into(), remote_probe(port))], None);
        tokio::time::sleep(PROBE_EVERY * 3).await;
        assert!(watch.check().is_ok());
        assert!(seen.load(Ordering::SeqCst) >= 2, "probed in the background");

        // Gone: the listener is closed, connects are refused.
        server.abort();
        let _ = server.await;
        let gone = Instant::now();
        let err = loop {
            if let Err(e) = watch.check() {
                break e;
            }
            assert!(gone.elapsed() < Duration::from_secs(10), "never reported");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(
            gone.elapsed() >= PROBE_EVERY * (FAILURES - 1),
            "one failure is not enough: {:?}",
            gone.elapsed()
        );
        let msg = err.to_string();
        for part in [
            &format!("worker `ext` at 127.0.0.1:{port} stopped answering"),
            "3 probes in a row failed",
            &format!("TCP connect to 127.0.0.1:{port}"),
            "promwasm does not manage it",
        ] {
            assert!(msg.contains(part), "{part:?} not in {msg}");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn dropping_the_watch_stops_the_probes() {
        let (port, seen, _server) = counting_listener().await;
        let watch = RemoteWatch::start(vec![("ext".into(), remote_probe(port))], None);
        tokio::time::sleep(PROBE_EVERY * 2 + PROBE_EVERY / 2).await;
        drop(watch);
        // Let an in-flight probe land, then nothing more may come.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let after_drop = seen.load(Ordering::SeqCst);
        assert!(after_drop >= 1, "it did probe");
        tokio::time::sleep(PROBE_EVERY * 3).await;
        assert_eq!(seen.load(Ordering::SeqCst), after_drop);
    }
}
