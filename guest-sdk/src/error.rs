//! [`Error`], [`Result`], [`Context`], [`bail!`](crate::bail) and [`ensure!`](crate::ensure).

use std::fmt;

/// What a failing stage reports: a readable message, shown in the step's report.
///
/// It prints like any Rust error (`{}` and `{:?}` both show the message),
/// and `?` converts into it from every standard error type (`serde_json`
/// errors, I/O errors, ...) and from `String` and `&str` messages — the
/// same conversions as `Box<dyn std::error::Error>`. Like `anyhow::Error`,
/// it does not itself implement `std::error::Error`: that is what lets the
/// conversion cover every error type.
///
/// ```
/// use promwasm_guest::{Error, Result};
///
/// fn parse(text: &str) -> Result<u32> {
///     let n: u32 = serde_json::from_str(text)?;
///     if n == 0 {
///         return Err("zero is not allowed".into());
///     }
///     Ok(n)
/// }
///
/// assert_eq!(parse("7").unwrap(), 7);
/// assert_eq!(parse("0").unwrap_err().to_string(), "zero is not allowed");
/// assert_eq!(format!("{:?}", parse("0").unwrap_err()), "zero is not allowed");
/// assert!(parse("x").unwrap_err().message().contains("expected value"));
/// ```
pub struct Error {
    message: String,
}

/// `Result<T, Error>`, the return type of stages and SDK calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with this message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Error {
            message: message.to_string(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The message, owned.
    pub fn into_message(self) -> String {
        self.message
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: Into<Box<dyn std::error::Error + Send + Sync>>> From<E> for Error {
    fn from(error: E) -> Self {
        Error::msg(error.into())
    }
}

impl From<Error> for String {
    fn from(error: Error) -> Self {
        error.message
    }
}

/// Adds context to errors and turns `None` into an error.
///
/// ```
/// use promwasm_guest::{Context, Result};
///
/// fn port(text: &str) -> Result<u16> {
///     text.parse::<u16>().context("bad port")
/// }
///
/// assert_eq!(port("x").unwrap_err().message(), "bad port: invalid digit found in string");
/// let missing: Option<u8> = None;
/// assert_eq!(missing.context("no value").unwrap_err().message(), "no value");
/// ```
pub trait Context<T> {
    /// Prefix the error (`"<context>: <error>"`), or make one from `None`.
    fn context(self, context: impl fmt::Display) -> Result<T>;

    /// Like [`context`](Context::context), building the text only on error.
    fn with_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for Result<T, E> {
    fn context(self, context: impl fmt::Display) -> Result<T> {
        self.with_context(|| context)
    }

    fn with_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| Error::msg(format!("{}: {}", context(), e.into().message)))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, context: impl fmt::Display) -> Result<T> {
        self.ok_or_else(|| Error::msg(context))
    }

    fn with_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.ok_or_else(|| Error::msg(context()))
    }
}

/// Return early with an [`Error`] built like `format!` (or from one value:
/// a message, an error, an [`Error`]).
///
/// ```
/// use promwasm_guest::{bail, Result};
///
/// fn check(round: u32) -> Result<()> {
///     if round > 3 {
///         bail!("round {round} is past the end");
///     }
///     Ok(())
/// }
///
/// assert_eq!(check(4).unwrap_err().message(), "round 4 is past the end");
/// ```
#[macro_export]
macro_rules! bail {
    ($msg:literal $(,)?) => {
        return ::core::result::Result::Err(::core::convert::From::from(
            $crate::Error::msg(::std::format!($msg)),
        ))
    };
    ($err:expr $(,)?) => {
        return ::core::result::Result::Err(::core::convert::From::from($crate::Error::from($err)))
    };
    ($fmt:expr, $($arg:tt)*) => {
        return ::core::result::Result::Err(::core::convert::From::from(
            $crate::Error::msg(::std::format!($fmt, $($arg)*)),
        ))
    };
}

/// Return early with an [`Error`] unless a condition holds.
///
/// Without a message the error names the condition.
///
/// ```
/// use promwasm_guest::{ensure, Result};
///
/// fn check(valid: bool, reason: &str) -> Result<()> {
///     ensure!(valid, "audit failed: {reason}");
///     ensure!(!reason.is_empty());
///     Ok(())
/// }
///
/// assert_eq!(check(false, "bad").unwrap_err().message(), "audit failed: bad");
/// assert_eq!(check(true, "").unwrap_err().message(), "condition failed: !reason.is_empty()");
/// ```
#[macro_export]
macro_rules! ensure {
    ($cond:expr $(,)?) => {
        if !$cond {
            $crate::bail!(::core::concat!("condition failed: ", ::core::stringify!($cond)));
        }
    };
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            $crate::bail!($($arg)+);
        }
    };
}
