//! An error and its causes as one line: libraries such as reqwest say
//! "error sending request" and keep the useful part in the sources.

/// `e: cause: cause of cause…`.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn causes_follow_the_error() {
        let io = std::io::Error::other("refused");
        let outer = anyhow::Error::new(io).context("sending");
        let e: &(dyn std::error::Error + 'static) = outer.as_ref();
        assert_eq!(super::error_chain(e), "sending: refused");
    }
}
