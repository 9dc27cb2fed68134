//! `promwasm keygen`: write a Solana-style keypair file.

use std::path::PathBuf;

use super::exit;
use crate::signing;

/// Write a new Solana-style keypair file (a JSON array of 64 bytes) and print its base58 public key.
#[derive(Debug, clap::Args)]
pub struct KeygenCmd {
    /// Where to write the keypair.
    path: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
}

impl KeygenCmd {
    /// Write it.
    pub fn run(self) -> u8 {
        match signing::write_new_keypair(&self.path, self.force) {
            Ok(key) => {
                println!("{}", key.public_key_base58());
                exit::OK
            }
            Err(e) => {
                eprintln!("error: {e}");
                exit::INVALID
            }
        }
    }
}
