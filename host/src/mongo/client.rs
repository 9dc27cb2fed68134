//! Connecting to MongoDB with short timeouts, so a wrong `MONGO_URI` fails
//! fast with a message naming it (password masked).

use std::time::Duration;

use mongodb::bson::doc;
use mongodb::options::ClientOptions;
use mongodb::Client;

/// Why a MongoDB connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MongoError {
    /// The URI does not parse.
    #[error("invalid MongoDB URI {uri}: {source}")]
    InvalidUri {
        /// The URI, password masked.
        uri: String,
        /// The driver's complaint.
        source: mongodb::error::Error,
    },
    /// Nothing answered `ping` in time.
    #[error("cannot reach MongoDB at {uri} within {timeout:?}: {reason}")]
    Unreachable {
        /// The URI, password masked.
        uri: String,
        /// How long we tried.
        timeout: Duration,
        /// The driver's last error, condensed.
        reason: String,
    },
}

/// Connect and ping with short timeouts so an unreachable URI fails within a few seconds with a clear message naming the URI (with any password masked).
pub async fn connect(uri: &str, timeout: Duration) -> Result<Client, MongoError> {
    let masked = mask_uri(uri);
    // Parsing can do DNS (mongodb+srv), so it is under the deadline too.
    let attempt = async {
        let mut options =
            ClientOptions::parse(uri)
                .await
                .map_err(|source| MongoError::InvalidUri {
                    uri: masked.clone(),
                    source,
                })?;
        options.server_selection_timeout = Some(timeout);
        options.connect_timeout = Some(timeout);
        if options.app_name.is_none() {
            options.app_name = Some("promwasm".to_owned());
        }
        let unreachable = |e: mongodb::error::Error| MongoError::Unreachable {
            uri: masked.clone(),
            timeout,
            reason: condense(&e.to_string()),
        };
        let client = Client::with_options(options).map_err(unreachable)?;
        client
            .database("admin")
            .run_command(doc! { "ping": 1 })
            .await
            .map_err(unreachable)?;
        Ok(client)
    };
    // Slack over `timeout` so the driver's own, more specific error usually wins.
    match tokio::time::timeout(timeout + Duration::from_secs(1), attempt).await {
        Ok(result) => result,
        Err(_) => Err(MongoError::Unreachable {
            uri: masked.clone(),
            timeout,
            reason: "timed out".to_owned(),
        }),
    }
}

/// `uri` with the password (if any) replaced by `****`, safe to print.
pub fn mask_uri(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    // Userinfo ends at the last '@' before the query, so an unescaped '@' or '/'
    // in a password is still masked.
    let before_query = rest.find('?').map_or(rest, |q| &rest[..q]);
    let Some(at) = before_query.rfind('@') else {
        return uri.to_owned();
    };
    let Some((user, _password)) = rest[..at].split_once(':') else {
        return uri.to_owned();
    };
    format!("{scheme}://{user}:****{}", &rest[at..])
}

/// The driver's server-selection errors dump the whole topology; keep the first useful part.
fn condense(message: &str) -> String {
    const MAX: usize = 400;
    let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.len() <= MAX {
        return one_line;
    }
    let mut end = MAX;
    while !one_line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &one_line[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords() {
        assert_eq!(
            mask_uri("mongodb://alice:s3cret@db.example:27017/app?authSource=admin"),
            "mongodb://alice:****@db.example:27017/app?authSource=admin"
        );
        assert_eq!(
            mask_uri("mongodb+srv://bob:p@ss/w@cluster0.example/"),
            "mongodb+srv://bob:****@cluster0.example/"
        );
        assert_eq!(mask_uri("mongodb://carol@h:1"), "mongodb://carol@h:1");
        assert_eq!(
            mask_uri("mongodb://127.0.0.1:27017"),
            "mongodb://127.0.0.1:27017"
        );
        assert_eq!(mask_uri("not a uri"), "not a uri");
        assert_eq!(mask_uri("mongodb://h:1/db?x=a@b"), "mongodb://h:1/db?x=a@b");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn unreachable_uri_fails_fast_and_names_it() {
        // Grab a port, then free it, so nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let uri = format!("mongodb://user:hunter2@127.0.0.1:{port}/?directConnection=true");
        let started = std::time::Instant::now();
        let err = connect(&uri, Duration::from_secs(2)).await.unwrap_err();
        let elapsed = started.elapsed();
        let msg = err.to_string();
        assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
        assert!(matches!(err, MongoError::Unreachable { .. }), "{msg}");
        assert!(
            msg.contains(&format!("mongodb://user:****@127.0.0.1:{port}")),
            "{msg}"
        );
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn invalid_uri_is_named() {
        let err = connect("http://nope", Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(err, MongoError::InvalidUri { .. }), "{err}");
        assert!(err.to_string().contains("http://nope"), "{err}");
    }
}
