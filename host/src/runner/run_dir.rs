//! One directory per run, `data_dir/runs/<run id>/`: the workers' and the
//! database server's logs, each step's log and the reports. `runs/latest`
//! points at the newest; the oldest beyond `keep_runs` are removed. A resumed
//! run keeps its run id and so its directory.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;

/// Marks a run directory as promwasm's and says when it was last used.
const STARTED: &str = "started";

/// A run's directory, created (or reopened on resume) and made `latest`.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Create or reopen `data_dir/runs/<run_id>`, point `runs/latest` at it
    /// and remove the oldest run directories beyond `keep`.
    pub fn open(data_dir: &Path, run_id: &str, keep: usize) -> anyhow::Result<Self> {
        let runs = data_dir.join("runs");
        let path = runs.join(run_id);
        for dir in [path.join("logs"), path.join("steps")] {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create the run directory {}", dir.display()))?;
        }
        let started = path.join(STARTED);
        std::fs::write(&started, format!("{}\n", unix_seconds()))
            .with_context(|| format!("cannot write {}", started.display()))?;
        point_latest(&runs, run_id)?;
        prune(&runs, run_id, keep)?;
        Ok(RunDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where processes' logs go.
    pub fn logs(&self) -> PathBuf {
        self.path.join("logs")
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Make `runs/latest` a relative symlink to `run_id`, replacing it in one
/// step (a new link renamed over the old), so readers never miss it.
fn point_latest(runs: &Path, run_id: &str) -> anyhow::Result<()> {
    let latest = runs.join("latest");
    let fresh = runs.join(format!(".latest-{}", std::process::id()));
    let _ = std::fs::remove_file(&fresh);
    std::os::unix::fs::symlink(run_id, &fresh)
        .and_then(|()| std::fs::rename(&fresh, &latest))
        .with_context(|| format!("cannot point {} at {run_id}", latest.display()))
}

/// Remove the least recently used run directories so that `keep` remain,
/// never `current`. Only directories promwasm made (with a `started` file)
/// are counted or removed.
fn prune(runs: &Path, current: &str, keep: usize) -> anyhow::Result<()> {
    let mut old: Vec<(SystemTime, PathBuf)> = std::fs::read_dir(runs)
        .with_context(|| format!("cannot list {}", runs.display()))?
        .flatten()
        .filter(|e| e.file_name() != current && e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let used = std::fs::metadata(e.path().join(STARTED))
                .ok()?
                .modified()
                .ok()?;
            Some((used, e.path()))
        })
        .collect();
    // Newest first; the current run counts as one of the kept.
    old.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
    for (_, dir) in old.into_iter().skip(keep.saturating_sub(1)) {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove the old run directory {}", dir.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(runs: &Path) -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(runs)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    }

    fn age(dir: &Path, seconds_ago: u64) {
        let when = SystemTime::now() - std::time::Duration::from_secs(seconds_ago);
        let f = std::fs::File::options()
            .write(true)
            .open(dir.join(STARTED))
            .unwrap();
        f.set_modified(when).unwrap();
    }

    #[test]
    fn a_run_gets_its_folders_and_becomes_latest() {
        let data = tempfile::tempdir().unwrap();
        let dir = RunDir::open(data.path(), "aaaa", 3).unwrap();
        assert!(dir.logs().is_dir() && dir.path().join("steps").is_dir());
        let runs = data.path().join("runs");
        assert_eq!(
            std::fs::read_link(runs.join("latest")).unwrap(),
            Path::new("aaaa")
        );
        RunDir::open(data.path(), "bbbb", 3).unwrap();
        assert_eq!(
            std::fs::read_link(runs.join("latest")).unwrap(),
            Path::new("bbbb")
        );
        assert_eq!(names(&runs), ["aaaa", "bbbb", "latest"]);
    }

    #[test]
    fn the_least_recently_used_beyond_keep_are_removed() {
        let data = tempfile::tempdir().unwrap();
        let runs = data.path().join("runs");
        for (i, id) in ["r1", "r2", "r3"].iter().enumerate() {
            RunDir::open(data.path(), id, 10).unwrap();
            age(&runs.join(id), 100 - i as u64 * 10);
        }
        // Resuming r1 makes it the most recently used.
        RunDir::open(data.path(), "r1", 10).unwrap();
        // Not promwasm's: never counted, never removed.
        std::fs::create_dir(runs.join("mine")).unwrap();
        RunDir::open(data.path(), "r4", 3).unwrap();
        assert_eq!(names(&runs), ["latest", "mine", "r1", "r3", "r4"]);
        RunDir::open(data.path(), "r5", 1).unwrap();
        assert_eq!(names(&runs), ["latest", "mine", "r5"]);
    }

    #[test]
    fn a_data_dir_that_cannot_hold_runs_is_named() {
        let data = tempfile::tempdir().unwrap();
        let file = data.path().join("file");
        std::fs::write(&file, "").unwrap();
        let err = format!("{:#}", RunDir::open(&file, "r1", 3).unwrap_err());
        assert!(
            err.contains("cannot create the run directory") && err.contains("file/runs/r1"),
            "{err}"
        );
    }
}
