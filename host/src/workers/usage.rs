//! What each worker used: CPU time and peak memory of its process group, read
//! from `/proc` by a background thread and again on demand.
//!
//! A worker runs in its own process group (see [`crate::supervisor`]), so its
//! usage is that of every live member of the group: a `sh -c` wrapper and the
//! server it runs count together. Per member, CPU is `utime + stime` plus
//! `cutime + cstime` (the children it has waited for, which are no longer
//! members); peak memory is `VmHWM`. The figures only ever grow: the best
//! sample is kept, so a worker that has exited still reports what it used.

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::results::WorkerUsage;

/// How often the background thread samples: one pass over `/proc`, a few
/// milliseconds with hundreds of processes. The kernel keeps each process's
/// own peak and its reaped children's CPU, so what sampling can miss is only
/// a group member that comes and goes between two samples.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Samples the process groups of started workers until dropped.
pub struct Sampler {
    groups: Arc<Mutex<Vec<Group>>>,
    /// Dropping it wakes and ends the thread.
    _stop: mpsc::Sender<()>,
}

/// One worker's process group and the best figures seen for it.
#[derive(Debug, Clone)]
struct Group {
    name: String,
    /// The leader's pid, which is also the group id; `None` if never known.
    pgid: Option<u32>,
    /// Clock ticks, the most seen.
    ticks: u64,
    /// Bytes, the most seen; `None` until `VmHWM` was read once.
    peak_rss: Option<u64>,
}

impl Sampler {
    /// Start sampling the groups led by `workers` (name, leader pid), every
    /// [`SAMPLE_EVERY`].
    pub fn start(workers: impl IntoIterator<Item = (String, Option<u32>)>) -> Sampler {
        let groups: Vec<Group> = workers
            .into_iter()
            .map(|(name, pgid)| Group {
                name,
                pgid,
                ticks: 0,
                peak_rss: None,
            })
            .collect();
        let groups = Arc::new(Mutex::new(groups));
        let (stop, stopped) = mpsc::channel::<()>();
        if groups
            .lock()
            .is_ok_and(|g| g.iter().any(|g| g.pgid.is_some()))
        {
            let shared = groups.clone();
            // A plain thread, not a runtime task: it blocks on file reads, and
            // must not keep a runtime worker busy while steps run.
            let spawned = std::thread::Builder::new()
                .name("worker-usage".into())
                .spawn(move || {
                    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(SAMPLE_EVERY) {
                        sample(&shared);
                    }
                });
            // Without the thread, usage() still samples when asked.
            drop(spawned);
        }
        Sampler {
            groups,
            _stop: stop,
        }
    }

    /// Every worker's usage, sampled now and merged with what was seen before,
    /// in the order given to [`Sampler::start`].
    pub fn usage(&self) -> Vec<WorkerUsage> {
        sample(&self.groups);
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        groups
            .iter()
            .map(|g| WorkerUsage {
                name: g.name.clone(),
                cpu: ticks_to_duration(g.ticks, clock_ticks_per_second()),
                peak_rss_bytes: g.peak_rss,
            })
            .collect()
    }
}

/// One pass over `/proc`, folded into the best figures of each group.
fn sample(groups: &Mutex<Vec<Group>>) {
    let wanted: Vec<u32> = match groups.lock() {
        Ok(g) => g.iter().filter_map(|g| g.pgid).collect(),
        Err(_) => return,
    };
    if wanted.is_empty() {
        return;
    }
    let now = read_groups(&wanted);
    let mut groups = groups.lock().unwrap_or_else(|p| p.into_inner());
    for g in groups.iter_mut() {
        let Some(seen) = g.pgid.and_then(|id| now.get(&id)) else {
            continue;
        };
        // Both only grow: a member reaped by a parent outside the group takes
        // its time with it, and memory is a peak.
        g.ticks = g.ticks.max(seen.ticks);
        if let Some(rss) = seen.peak_rss {
            g.peak_rss = Some(g.peak_rss.map_or(rss, |old| old.max(rss)));
        }
    }
}

/// What the live members of one group use now.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Now {
    ticks: u64,
    peak_rss: Option<u64>,
}

/// The usage of each group in `pgids` that has a live member, from one pass
/// over `/proc`. Processes that vanish mid-pass are skipped.
fn read_groups(pgids: &[u32]) -> HashMap<u32, Now> {
    let mut found: HashMap<u32, Now> = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Some(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| parse_stat(&s))
        else {
            continue;
        };
        if !pgids.contains(&stat.pgrp) {
            continue;
        }
        let now = found.entry(stat.pgrp).or_default();
        now.ticks += stat.ticks;
        // A zombie has no memory lines; its CPU time still counts.
        if let Some(hwm) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| parse_hwm(&s))
        {
            now.peak_rss = Some(now.peak_rss.unwrap_or(0) + hwm);
        }
    }
    found
}

/// The fields of `/proc/<pid>/stat` we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    pgrp: u32,
    /// utime + stime + cutime + cstime, in clock ticks.
    ticks: u64,
}

fn parse_stat(stat: &str) -> Option<Stat> {
    // The command name (field 2) may hold spaces and parentheses: the fields
    // we want come after its last ')'. Then: state(3) ppid(4) pgrp(5) ...
    // utime(14) stime(15) cutime(16) cstime(17).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<i64>().ok());
    let pgrp = u32::try_from(field(5)?).ok()?;
    let ticks = [14, 15, 16, 17]
        .into_iter()
        .map(|n| field(n).map(|t| t.max(0) as u64))
        .sum::<Option<u64>>()?;
    Some(Stat { pgrp, ticks })
}

/// `VmHWM` of `/proc/<pid>/status`, in bytes.
fn parse_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    let kb: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kb * 1024)
}

fn clock_ticks_per_second() -> u64 {
    use nix::unistd::{sysconf, SysconfVar};
    // Linux reports /proc times in USER_HZ, 100 on every architecture we run on.
    sysconf(SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

fn ticks_to_duration(ticks: u64, per_second: u64) -> Duration {
    Duration::from_secs(ticks / per_second)
        + Duration::from_nanos((ticks % per_second) * 1_000_000_000 / per_second)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    use std::time::Instant;

    const ALLOCATED: u64 = 64 << 20;

    /// Touches 64 MiB, burns CPU for a while, says so, then sleeps.
    const HUNGRY: &str = "
import sys, time
block = bytearray(64 << 20)
for i in range(0, len(block), 4096):
    block[i] = 1
end = time.process_time() + 0.3
while time.process_time() < end:
    pass
print('done', flush=True)
time.sleep(60)
";

    /// `program args…` in its own process group, as the supervisor starts
    /// workers; returns once it printed its first line.
    fn spawn_group(program: &str, args: &[&str]) -> std::process::Child {
        let mut child = Command::new(program)
            .args(args)
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert_eq!(line.trim(), "done");
        child
    }

    fn kill_group(child: &mut std::process::Child) {
        let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        child.wait().unwrap();
    }

    #[test]
    fn cpu_and_peak_memory_of_a_real_process_are_kept_after_it_exits() {
        let mut child = spawn_group("python3", &["-c", HUNGRY]);
        let sampler = Sampler::start([("hungry".to_string(), Some(child.id()))]);
        let [u] = sampler.usage().try_into().unwrap();
        assert_eq!(u.name, "hungry");
        assert!(u.cpu >= Duration::from_millis(200), "{u:?}");
        assert!(u.peak_rss_bytes.unwrap() > ALLOCATED, "{u:?}");

        // Once it is gone (and reaped), the last good sample stays.
        kill_group(&mut child);
        let [after] = sampler.usage().try_into().unwrap();
        assert!(after.cpu >= u.cpu, "{after:?} after {u:?}");
        assert_eq!(after.peak_rss_bytes, u.peak_rss_bytes);
    }

    #[test]
    fn the_whole_group_counts_and_the_background_thread_samples() {
        // The leader is a shell; the hungry process is its child in the group.
        let script = format!("python3 -c \"{}\" & wait", HUNGRY.replace('"', "\\\""));
        let mut child = spawn_group("sh", &["-c", &script]);
        let sampler = Sampler::start([
            ("group".to_string(), Some(child.id())),
            ("never started".to_string(), None),
        ]);
        // Not asking: the background thread alone records it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while sampler.groups.lock().unwrap()[0].peak_rss.is_none() {
            assert!(Instant::now() < deadline, "no background sample");
            std::thread::sleep(Duration::from_millis(50));
        }
        let usage = sampler.usage();
        kill_group(&mut child);
        assert!(usage[0].cpu >= Duration::from_millis(200), "{usage:?}");
        assert!(usage[0].peak_rss_bytes.unwrap() > ALLOCATED, "{usage:?}");
        assert_eq!(usage[1].name, "never started");
        assert_eq!(
            (usage[1].cpu, usage[1].peak_rss_bytes),
            (Duration::ZERO, None)
        );
    }

    #[test]
    fn stat_and_status_are_parsed_around_odd_command_names() {
        let stat = "4242 (a (b) c) S 1 4240 4240 0 -1 4194560 100 0 0 0 150 25 7 3 20 0 1 0";
        assert_eq!(
            parse_stat(stat),
            Some(Stat {
                pgrp: 4240,
                ticks: 150 + 25 + 7 + 3
            })
        );
        assert_eq!(parse_stat("garbage"), None);
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(parse_hwm(status), Some(2048 * 1024));
        assert_eq!(parse_hwm("Name:\tzombie\nState:\tZ (zombie)\n"), None);
        assert_eq!(ticks_to_duration(250, 100), Duration::from_millis(2500));
    }
}
