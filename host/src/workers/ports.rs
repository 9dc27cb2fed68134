//! Local workers' ports, checked free before any worker starts. A port that
//! another process holds would otherwise show up late and misleadingly: as a
//! worker that exits with "address in use", or worse, as a foreign server
//! answering the worker's readiness probe.

use std::fmt;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener};
use std::sync::Arc;

use crate::plan::{PortFrom, WorkerPlan};

/// A local worker whose port something else already listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenPort {
    /// Worker name.
    pub name: String,
    /// The port it would listen on.
    pub port: u16,
    /// Where that port came from, so the message says what to change.
    pub from: PortFrom,
    /// The loopback address on which binding the port failed.
    pub addr: IpAddr,
}

impl fmt::Display for TakenPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let TakenPort {
            name,
            port,
            from,
            addr,
        } = self;
        let change = match from {
            PortFrom::BasePort { .. } => format!(
                "change `base_port` in config.yaml, or give `{name}` its own `port` in workers.json"
            ),
            _ => format!("change the `port` of `{name}` in workers.json"),
        };
        write!(
            f,
            "port {port} of worker `{name}` ({from}) is already in use on {addr}: \
             another process listens there (see which: ss -ltnp 'sport = :{port}'); \
             stop it, or {change}"
        )
    }
}

/// Every worker promwasm would start whose port cannot be listened on now,
/// in workers.json order. Binds each port on both loopback addresses and lets
/// go at once: `localhost`, which readiness probes and steps use, may resolve
/// to either.
pub fn taken(workers: &[Arc<WorkerPlan>]) -> Vec<TakenPort> {
    workers
        .iter()
        .filter(|w| w.launch.is_some())
        .filter_map(|w| {
            let addr = in_use_on(w.port)?;
            Some(TakenPort {
                name: w.name.clone(),
                port: w.port,
                from: w.port_from,
                addr,
            })
        })
        .collect()
}

/// The loopback address on which `port` is in use, if any.
fn in_use_on(port: u16) -> Option<IpAddr> {
    let loopbacks = [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    // Only "in use" counts: no IPv6 on the machine, or a privileged port the
    // worker may be allowed to bind and we are not, are not our business.
    loopbacks
        .into_iter()
        .find(|&ip| TcpListener::bind((ip, port)).is_err_and(|e| e.kind() == ErrorKind::AddrInUse))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Launch, Readiness};
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::time::Duration;

    fn worker(name: &str, port: u16, from: PortFrom, local: bool) -> Arc<WorkerPlan> {
        Arc::new(WorkerPlan {
            name: name.into(),
            port,
            port_from: from,
            url: format!("http://localhost:{port}"),
            launch: local.then(|| Launch {
                command: vec!["true".into()],
                cwd: PathBuf::from("."),
            }),
            ready: Readiness::Tcp {
                timeout: Duration::from_secs(1),
            },
            env: BTreeMap::new(),
            keys: BTreeMap::new(),
            fields: serde_json::Map::new(),
            database_path: PathBuf::from("w.db"),
        })
    }

    #[test]
    fn a_listened_port_is_taken_and_named_with_where_it_came_from() {
        let held = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = held.local_addr().unwrap().port();
        let free = {
            let l = TcpListener::bind(("127.0.0.1", 0)).unwrap();
            l.local_addr().unwrap().port()
        };
        let from = PortFrom::BasePort {
            base_port: port - 1,
            index: 1,
        };
        let workers = [
            worker("free", free, PortFrom::Own, true),
            worker("w2", port, from, true),
            // Not started by promwasm: its port is meant to be in use.
            worker("remote", port, PortFrom::Url, false),
        ];
        let taken = taken(&workers);
        assert_eq!(taken.len(), 1, "{taken:?}");
        let msg = taken[0].to_string();
        for part in [
            &format!("port {port} of worker `w2`"),
            &format!("(base_port {} + index 1)", port - 1),
            "already in use on 127.0.0.1",
            "change `base_port` in config.yaml",
            &format!("ss -ltnp 'sport = :{port}'"),
        ] {
            assert!(msg.contains(part), "{part:?} not in {msg}");
        }
        drop(held);
        assert!(super::taken(&workers).is_empty(), "free once let go");
    }

    #[test]
    fn an_own_port_says_to_change_it_in_workers_json() {
        let t = TakenPort {
            name: "w1".into(),
            port: 5001,
            from: PortFrom::Own,
            addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        let msg = t.to_string();
        assert!(msg.contains("(its `port` in workers.json)"), "{msg}");
        assert!(
            msg.contains("change the `port` of `w1` in workers.json"),
            "{msg}"
        );
    }
}
