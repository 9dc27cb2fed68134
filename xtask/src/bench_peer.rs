//! `cargo xtask bench peer`: the same scenario run by promwasm and by
//! prometheus-test 0.1.10, side by side.

/// Run it.
pub fn run(_args: &[String]) -> crate::Result {
    Err("bench peer is being written (issue 11)".into())
}
