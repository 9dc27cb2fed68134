//! `cargo xtask bench workers`: many workers started to ready, against the
//! floor of a plain script that starts the same servers.

/// Run it.
pub fn run(_args: &[String]) -> crate::Result {
    Err("bench workers is being written (issue 11)".into())
}
