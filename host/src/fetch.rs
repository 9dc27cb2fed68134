//! Step modules shared by URL: `module: {url, sha256}` is fetched once into a
//! content-addressed folder (`<sha256>.wasm`) and refused when its digest
//! differs, so a pinned module can never change under a task test. A later
//! run finds it there and does not touch the network.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::engine::sha256_hex;

/// Largest module accepted (the Python guest toolchain makes ~18 MB ones).
const MAX_BYTES: u64 = 256 << 20;
/// Give up on a download after this long.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Why a module could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No folder to keep fetched modules in.
    #[error("no cache folder for fetched modules (set PROMWASM_CACHE_DIR or pass --cache-dir)")]
    NoCacheDir,
    /// The request failed or the server did not answer 200.
    #[error("cannot download {url}: {reason}")]
    Download {
        /// The module's URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The module is larger than [`MAX_BYTES`].
    #[error("{url} is larger than {} MiB", MAX_BYTES >> 20)]
    TooLarge {
        /// The module's URL.
        url: String,
    },
    /// The bytes are not the pinned ones.
    #[error("{url} has sha256 {actual}, but the config pins {expected}")]
    Mismatch {
        /// The module's URL.
        url: String,
        /// The digest in the config.
        expected: String,
        /// The digest of what was downloaded.
        actual: String,
    },
    /// The cache folder could not be written.
    #[error("cannot store the module in {path}: {source}")]
    Store {
        /// The file being written.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The file the module with this digest is kept in, once fetched.
fn cached_path(dir: &Path, sha256: &str) -> PathBuf {
    dir.join(format!("{sha256}.wasm"))
}

/// A module pinned by digest: where it is kept, and its verified bytes.
#[derive(Debug)]
pub struct Fetched {
    /// The kept copy (names the module in messages).
    pub path: PathBuf,
    /// Its bytes, whose sha256 is the pinned one. Use these, not the file:
    /// the file could change after it was checked.
    pub bytes: Vec<u8>,
}

/// The module pinned by `sha256`, downloading it from `url` into `dir` unless already there.
pub async fn module(url: &str, sha256: &str, dir: Option<&Path>) -> Result<Fetched, FetchError> {
    let dir = dir.ok_or(FetchError::NoCacheDir)?;
    let path = cached_path(dir, sha256);
    // Re-hash what is cached: a damaged or tampered file is fetched again, not run.
    if let Ok(bytes) = tokio::fs::read(&path).await {
        if sha256_hex(&bytes) == sha256 {
            return Ok(Fetched { path, bytes });
        }
    }
    let bytes = download(url).await?;
    let actual = sha256_hex(&bytes);
    if actual != sha256 {
        return Err(FetchError::Mismatch {
            url: url.to_owned(),
            expected: sha256.to_owned(),
            actual,
        });
    }
    let store = |source| FetchError::Store {
        path: path.clone(),
        source,
    };
    tokio::fs::create_dir_all(dir).await.map_err(store)?;
    // Write then rename, so a concurrent run never sees half a module.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    tokio::fs::write(&tmp, &bytes).await.map_err(store)?;
    tokio::fs::rename(&tmp, &path).await.map_err(store)?;
    Ok(Fetched { path, bytes })
}

async fn download(url: &str) -> Result<Vec<u8>, FetchError> {
    let failed = |reason: String| FetchError::Download {
        url: url.to_owned(),
        reason,
    };
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| failed(crate::error_chain::error_chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(failed(format!("the server answered {status}")));
    }
    if response.content_length().is_some_and(|n| n > MAX_BYTES) {
        return Err(FetchError::TooLarge {
            url: url.to_owned(),
        });
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| failed(crate::error_chain::error_chain(&e)))?
    {
        if bytes.len() as u64 + chunk.len() as u64 > MAX_BYTES {
            return Err(FetchError::TooLarge {
                url: url.to_owned(),
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
