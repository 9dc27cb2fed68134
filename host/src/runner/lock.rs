//! One run per data folder at a time: two runs sharing `test_state.json`,
//! the worker databases and the logs would overwrite each other's progress.
//! An advisory `flock` on `data_dir/.promwasm.lock`, released by the kernel
//! when the run ends however it ends (even SIGKILL), so there is never a
//! stale lock to clean up.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::Path;

use anyhow::{bail, Context};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// The lock file's name in `data_dir`.
pub const LOCK_FILE: &str = ".promwasm.lock";

/// Held for the whole run; dropping it unlocks.
pub struct RunLock {
    _held: Flock<File>,
}

impl RunLock {
    /// Lock `data_dir` for this process, or say which process holds it.
    pub fn acquire(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create the data folder {}", data_dir.display()))?;
        let path = data_dir.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let mut held = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(held) => held,
            Err((mut file, Errno::EWOULDBLOCK)) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => String::new(),
                    pid => format!(" (pid {pid})"),
                };
                bail!(
                    "another promwasm run{holder} is using {}; wait for it to end or stop it \
                     (two runs would overwrite each other's state)",
                    data_dir.display()
                );
            }
            Err((_, e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        };
        // Who holds it, for the message another run shows.
        let _ = held.set_len(0);
        let _ = held.rewind();
        let _ = write!(held, "{}", std::process::id());
        Ok(RunLock { _held: held })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder_and_a_dropped_one_frees_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = RunLock::acquire(&data).unwrap();
        // flock locks belong to the open file, so a second open in this
        // process conflicts as another process's would.
        let err = RunLock::acquire(&data).err().unwrap().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id()))
                && err.contains("another promwasm run"),
            "{err}"
        );
        drop(first);
        RunLock::acquire(&data).unwrap();
    }
}
