//! [`Stage`], [`Outcome`], [`NoArgs`] and the glue behind [`export_stages!`](crate::export_stages).

use serde::de::{DeserializeOwned, Deserializer, IgnoredAny};
use serde::{Deserialize, Serialize};

use crate::Result;

/// What a finished stage reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T = serde_json::Value> {
    /// The stage did its work; the value is its result, recorded in the report.
    Success(T),
    /// The stage decided not to run; the string says why. Counts as passing.
    Skip(String),
}

impl<T> Outcome<T> {
    /// `Outcome::Skip` with this reason.
    pub fn skip(reason: impl Into<String>) -> Self {
        Outcome::Skip(reason.into())
    }
}

/// Arguments for a stage that takes none: deserialises from anything
/// (`{}`, `null`, or whatever config.yaml says) and ignores it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NoArgs;

impl<'de> Deserialize<'de> for NoArgs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| NoArgs)
    }
}

/// One stage of a step component, run as `prepare` then `execute` in one
/// fresh instance.
///
/// `Args` come from the step's `args` in config.yaml (`{}` when absent; a
/// stage with no arguments uses [`NoArgs`] or `()`). Whatever `prepare`
/// returns is serialised, handed back by the host and given to `execute` as
/// `data`.
///
/// ```no_run
/// use promwasm_guest::prelude::*;
///
/// /// Only runs in the round given by `only_round`.
/// struct CheckRound;
///
/// #[data]
/// struct Args {
///     only_round: Option<u32>,
/// }
///
/// impl Stage for CheckRound {
///     const NAME: &'static str = "check-round";
///     const DESCRIPTION: &'static str = "Succeeds in the round given by `only_round`";
///     type Args = Args;
///     type Data = u32;
///     type Output = u32;
///
///     fn prepare(_args: &Args) -> Result<u32> {
///         Ok(runner::current_round())
///     }
///
///     fn execute(args: &Args, round: u32) -> Result<Outcome<u32>> {
///         match args.only_round {
///             Some(n) if n != round => Ok(Outcome::skip(format!("only runs in round {n}"))),
///             _ => Ok(Outcome::Success(round)),
///         }
///     }
/// }
///
/// export_stages!(CheckRound);
/// ```
pub trait Stage {
    /// The stage's name, as used in config.yaml (`stage: name`).
    const NAME: &'static str;
    /// One line saying what the stage does (`promwasm inspect` lists it).
    const DESCRIPTION: &'static str;
    /// The step's `args`.
    type Args: DeserializeOwned;
    /// What `prepare` hands to `execute`.
    type Data: Serialize + DeserializeOwned;
    /// The result recorded on success.
    type Output: Serialize;

    /// Gather what `execute` needs.
    fn prepare(args: &Self::Args) -> Result<Self::Data>;

    /// Do the stage's work.
    fn execute(args: &Self::Args, data: Self::Data) -> Result<Outcome<Self::Output>>;
}

/// Export stages as this component's `stages`, `prepare` and `execute`.
///
/// Call it once per component, with every stage it offers. The host asks for
/// a stage by its [`Stage::NAME`]; an unknown name is an error that lists the
/// known ones.
///
/// ```no_run
/// use promwasm_guest::prelude::*;
///
/// /// Returns its arguments.
/// struct Echo;
///
/// impl Stage for Echo {
///     const NAME: &'static str = "echo";
///     const DESCRIPTION: &'static str = "Returns its arguments";
///     type Args = Value;
///     type Data = ();
///     type Output = Value;
///
///     fn prepare(_args: &Value) -> Result<()> {
///         Ok(())
///     }
///
///     fn execute(args: &Value, _data: ()) -> Result<Outcome> {
///         Ok(Outcome::Success(args.clone()))
///     }
/// }
///
/// export_stages!(Echo);
/// ```
#[macro_export]
macro_rules! export_stages {
    ($($stage:ty),+ $(,)?) => {
        const _: () = {
            const STAGES: &[$crate::__private::Entry] =
                &[$($crate::__private::Entry::of::<$stage>()),+];

            struct __PromwasmStages;

            impl $crate::bindings::Guest for __PromwasmStages {
                fn stages() -> ::std::vec::Vec<$crate::bindings::StageInfo> {
                    $crate::__private::stages(STAGES)
                }

                fn prepare(
                    stage: ::std::string::String,
                    args: ::std::string::String,
                ) -> ::core::result::Result<::std::string::String, ::std::string::String> {
                    $crate::__private::prepare(STAGES, &stage, &args)
                }

                fn execute(
                    stage: ::std::string::String,
                    args: ::std::string::String,
                    data: ::std::string::String,
                ) -> ::core::result::Result<$crate::bindings::Outcome, ::std::string::String> {
                    $crate::__private::execute(STAGES, &stage, &args, &data)
                }
            }

            $crate::bindings::__export_step!(__PromwasmStages with_types_in $crate::bindings);
        };
    };
}

pub(crate) mod dispatch {
    use serde::Deserialize;
    use serde_json::Value;

    use super::{Outcome, Stage};
    use crate::bindings::{self, StageInfo};

    type PrepareFn = fn(&str) -> Result<String, String>;
    type ExecuteFn = fn(&str, &str) -> Result<bindings::Outcome, String>;

    /// One exported stage, type-erased.
    pub struct Entry {
        name: &'static str,
        description: &'static str,
        prepare: PrepareFn,
        execute: ExecuteFn,
    }

    impl Entry {
        /// The entry for stage `S`.
        pub const fn of<S: Stage>() -> Self {
            Entry {
                name: S::NAME,
                description: S::DESCRIPTION,
                prepare: prepare_stage::<S>,
                execute: execute_stage::<S>,
            }
        }
    }

    /// `stages()`: every entry's name and description.
    pub fn stages(entries: &[Entry]) -> Vec<StageInfo> {
        entries
            .iter()
            .map(|e| StageInfo {
                name: e.name.to_owned(),
                description: e.description.to_owned(),
            })
            .collect()
    }

    /// `prepare()`: dispatch by stage name.
    pub fn prepare(entries: &[Entry], stage: &str, args: &str) -> Result<String, String> {
        (find(entries, stage)?.prepare)(args)
    }

    /// `execute()`: dispatch by stage name.
    pub fn execute(
        entries: &[Entry],
        stage: &str,
        args: &str,
        data: &str,
    ) -> Result<bindings::Outcome, String> {
        (find(entries, stage)?.execute)(args, data)
    }

    fn find<'a>(entries: &'a [Entry], stage: &str) -> Result<&'a Entry, String> {
        entries.iter().find(|e| e.name == stage).ok_or_else(|| {
            let known: Vec<_> = entries.iter().map(|e| format!("`{}`", e.name)).collect();
            format!(
                "unknown stage `{stage}`; this component has {}",
                known.join(", ")
            )
        })
    }

    fn prepare_stage<S: Stage>(args: &str) -> Result<String, String> {
        let args = parse_args::<S>(args)?;
        let data = S::prepare(&args)?;
        serde_json::to_string(&data).map_err(|e| format!("stage `{}`: data: {e}", S::NAME))
    }

    fn execute_stage<S: Stage>(args: &str, data: &str) -> Result<bindings::Outcome, String> {
        let args = parse_args::<S>(args)?;
        let data =
            serde_json::from_str(data).map_err(|e| format!("stage `{}`: data: {e}", S::NAME))?;
        match S::execute(&args, data)? {
            Outcome::Success(output) => serde_json::to_string(&output)
                .map(bindings::Outcome::Success)
                .map_err(|e| format!("stage `{}`: output: {e}", S::NAME)),
            Outcome::Skip(reason) => Ok(bindings::Outcome::Skip(reason)),
        }
    }

    /// Deserialise a stage's args. Empty args (`""`, `{}`, `null`) are also
    /// tried as the other empty form, so `()` and all-optional structs both work.
    fn parse_args<S: Stage>(json: &str) -> Result<S::Args, String> {
        let error = |e: serde_json::Error| format!("stage `{}`: args: {e}", S::NAME);
        let value: Value = if json.trim().is_empty() {
            Value::Object(Default::default())
        } else {
            serde_json::from_str(json).map_err(error)?
        };
        S::Args::deserialize(&value).or_else(|e| {
            let other = match &value {
                Value::Null => Value::Object(Default::default()),
                Value::Object(map) if map.is_empty() => Value::Null,
                _ => return Err(error(e)),
            };
            S::Args::deserialize(&other).map_err(|_| error(e))
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::{NoArgs, Result};

        struct Unit;
        impl Stage for Unit {
            const NAME: &'static str = "unit";
            const DESCRIPTION: &'static str = "";
            type Args = ();
            type Data = ();
            type Output = ();
            fn prepare(_: &()) -> Result<()> {
                Ok(())
            }
            fn execute(_: &(), _: ()) -> Result<Outcome<()>> {
                Ok(Outcome::skip("nothing"))
            }
        }

        #[crate::data]
        struct Target {
            #[allow(dead_code)]
            target: String,
        }
        struct Audit;
        impl Stage for Audit {
            const NAME: &'static str = "audit";
            const DESCRIPTION: &'static str = "";
            type Args = Target;
            type Data = u32;
            type Output = u32;
            fn prepare(_: &Target) -> Result<u32> {
                Ok(7)
            }
            fn execute(_: &Target, n: u32) -> Result<Outcome<u32>> {
                crate::ensure!(n < 10, "too big: {n}");
                Ok(Outcome::Success(n))
            }
        }

        const ENTRIES: &[Entry] = &[Entry::of::<Unit>(), Entry::of::<Audit>()];

        #[test]
        fn args() {
            for empty in ["", "{}", "null"] {
                assert!(parse_args::<Unit>(empty).is_ok(), "{empty}");
            }
            assert_eq!(
                parse_args::<Audit>("{}").err().unwrap(),
                "stage `audit`: args: missing field `target`"
            );
            assert!(serde_json::from_str::<NoArgs>(r#"{"a": [1]}"#).is_ok());
        }

        #[test]
        fn dispatch() {
            assert_eq!(stages(ENTRIES).len(), 2);
            let data = prepare(ENTRIES, "audit", r#"{"target": "w1"}"#).unwrap();
            assert_eq!(data, "7");
            match execute(ENTRIES, "audit", r#"{"target": "w1"}"#, &data).unwrap() {
                bindings::Outcome::Success(out) => assert_eq!(out, "7"),
                bindings::Outcome::Skip(_) => panic!("skipped"),
            }
            assert_eq!(
                execute(ENTRIES, "audit", r#"{"target": "w1"}"#, "12")
                    .err()
                    .unwrap(),
                "too big: 12"
            );
            assert!(matches!(
                execute(ENTRIES, "unit", "{}", "null").unwrap(),
                bindings::Outcome::Skip(r) if r == "nothing"
            ));
            assert_eq!(
                prepare(ENTRIES, "nope", "{}").err().unwrap(),
                "unknown stage `nope`; this component has `unit`, `audit`"
            );
        }
    }
}
