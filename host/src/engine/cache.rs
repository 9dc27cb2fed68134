//! Compiled components cached on disk, keyed by the module's sha256 and the
//! engine's compatibility hash (wasmtime version and settings), so a second
//! run does not recompile.
//!
//! A cache entry is native code that will run, so its file name is not
//! trusted: each entry carries an HMAC-SHA256 tag over its name and bytes,
//! made with a per-user key kept in the cache folder (`key`, mode 0600; the
//! folder 0700). Anyone who can write the folder (a shared or restored CI
//! cache) but cannot read the key cannot make an entry that verifies; an
//! entry that does not verify is recompiled and replaced, never loaded.
//! The verified bytes themselves go to the engine: the file is read once.

use std::fs::{File, OpenOptions};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;

type Tag = Hmac<Sha256>;
const TAG_LEN: usize = 32;
const KEY_FILE: &str = "key";

/// The sha256 of a module, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A cache folder whose entries are authenticated with its key.
#[derive(Clone)]
pub struct Cache {
    dir: PathBuf,
    key: [u8; 32],
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Cache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Cache {
    /// Open (or create) the cache in `dir`: the folder made 0700, the key
    /// read, or created once with mode 0600. A key that others could read
    /// or that another user owns cannot vouch for anything: an error.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let meta = std::fs::metadata(dir)?;
        if meta.uid() == current_uid() && meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let key_path = dir.join(KEY_FILE);
        let key = match read_key(&key_path) {
            Ok(key) => key,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(&key_path)?,
            Err(e) => return Err(e),
        };
        Ok(Cache {
            dir: dir.to_path_buf(),
            key,
        })
    }

    /// The verified bytes of entry `name`, if there is one that verifies.
    pub fn get(&self, name: &str) -> Option<Vec<u8>> {
        let data = std::fs::read(self.dir.join(name)).ok()?;
        if data.len() < TAG_LEN {
            return None;
        }
        let (tag, bytes) = data.split_at(TAG_LEN);
        self.mac(name, bytes).verify_slice(tag).ok()?;
        Some(bytes.to_vec())
    }

    /// Store `bytes` as entry `name` (write, then rename: never half an entry).
    pub fn put(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.dir.join(name);
        let tmp = private_tmp(&path);
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(&self.mac(name, bytes).finalize().into_bytes())?;
        file.write_all(bytes)?;
        drop(file);
        std::fs::rename(&tmp, &path)
    }

    fn mac(&self, name: &str, bytes: &[u8]) -> Tag {
        // Any key length is valid for HMAC.
        let mut mac = <Tag as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        // The name is bound too: a valid entry moved to another name fails.
        mac.update(&(name.len() as u64).to_le_bytes());
        mac.update(name.as_bytes());
        mac.update(bytes);
        mac
    }
}

fn current_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

fn read_key(path: &Path) -> std::io::Result<[u8; 32]> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.uid() != current_uid() || meta.permissions().mode() & 0o077 != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} must be owned by you and readable only by you (chmod 600), or deleted",
                path.display()
            ),
        ));
    }
    let bytes = std::fs::read(path)?;
    bytes.try_into().map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is not a cache key; delete it", path.display()),
        )
    })
}

/// A temporary name next to `path` that no other process or thread uses.
fn private_tmp(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    path.with_extension(format!("tmp{}-{n}", std::process::id()))
}

/// Write a fresh key to a private temporary file, then publish it with
/// `link`, which fails if the key exists: a concurrent run either sees no
/// key or a whole one, never an empty file, and never replaces another's key.
fn create_key(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(std::io::Error::other)?;
    let tmp = private_tmp(path);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(&key)?;
        file.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => Ok(key),
        // Another run made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key(path),
        Err(e) => Err(e),
    }
}

fn entry_name(engine: &wasmtime::Engine, bytes: &[u8]) -> String {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{}-{:016x}.cwasm", sha256_hex(bytes), h.finish())
}

/// Compile `bytes`, or load the cached compilation when one verifies.
pub fn compile(
    engine: &wasmtime::Engine,
    bytes: &[u8],
    cache: Option<&Cache>,
) -> wasmtime::Result<Component> {
    let Some(cache) = cache else {
        return Component::new(engine, bytes);
    };
    let name = entry_name(engine, bytes);
    if let Some(compiled) = cache.get(&name) {
        // SAFETY: these bytes verified against our key: this cache wrote them,
        // from `precompile_component` of an engine with the same compatibility
        // hash. wasmtime still checks the header and refuses a mismatch.
        if let Ok(c) = unsafe { Component::deserialize(engine, &compiled) } {
            return Ok(c);
        }
    }
    let compiled = engine.precompile_component(bytes)?;
    // The cache is an optimisation: failing to write it is not an error.
    let _ = cache.put(&name, &compiled);
    // SAFETY: these bytes were produced by `precompile_component` just above.
    unsafe { Component::deserialize(engine, &compiled) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn entries_round_trip_and_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = dir.path().join("cache");
        let cache = Cache::open(&cache_dir).unwrap();
        cache.put("a.cwasm", b"native code").unwrap();
        assert_eq!(cache.get("a.cwasm").as_deref(), Some(&b"native code"[..]));
        assert_eq!(mode(&cache_dir), 0o700);
        assert_eq!(mode(&cache_dir.join(KEY_FILE)), 0o600);
        assert_eq!(mode(&cache_dir.join("a.cwasm")), 0o600);
        // A second open uses the same key.
        let again = Cache::open(&cache_dir).unwrap();
        assert_eq!(again.get("a.cwasm").as_deref(), Some(&b"native code"[..]));
    }

    #[test]
    fn tampered_forged_or_moved_entries_do_not_verify() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        cache.put("a.cwasm", b"code of a").unwrap();
        cache.put("b.cwasm", b"code of b").unwrap();
        // A changed byte.
        let path = dir.path().join("a.cwasm");
        let mut data = std::fs::read(&path).unwrap();
        *data.last_mut().unwrap() ^= 1;
        std::fs::write(&path, &data).unwrap();
        assert_eq!(cache.get("a.cwasm"), None);
        // A valid entry under another name.
        std::fs::copy(dir.path().join("b.cwasm"), &path).unwrap();
        assert_eq!(cache.get("a.cwasm"), None);
        // An entry written by someone without the key.
        let mut forged = vec![0u8; TAG_LEN];
        forged.extend_from_slice(b"evil");
        std::fs::write(&path, forged).unwrap();
        assert_eq!(cache.get("a.cwasm"), None);
        // Another cache (another key) cannot vouch for this one's entries.
        let other = tempfile::tempdir().unwrap();
        let other = Cache::open(other.path()).unwrap();
        std::fs::copy(dir.path().join("b.cwasm"), other.dir.join("b.cwasm")).unwrap();
        assert_eq!(other.get("b.cwasm"), None);
    }

    #[test]
    fn runs_opening_a_new_cache_at_once_all_get_the_one_key() {
        // CI once saw a run read the key file another run had created but
        // not yet written. Race several openers on fresh folders.
        for _ in 0..40 {
            let dir = tempfile::tempdir().unwrap();
            let start = std::sync::Barrier::new(6);
            let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
                let openers: Vec<_> = (0..6)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            Cache::open(dir.path()).map(|c| c.key)
                        })
                    })
                    .collect();
                openers
                    .into_iter()
                    .map(|t| t.join().unwrap().unwrap())
                    .collect()
            });
            assert!(keys.iter().all(|k| *k == keys[0]));
            let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
            assert_eq!(left.len(), 1, "only the key file is left: {left:?}");
        }
    }

    #[test]
    fn a_key_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        Cache::open(dir.path()).unwrap();
        let key = dir.path().join(KEY_FILE);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Cache::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
}
