//! Durations (`30s`, `500ms`, `2m`, or seconds as a number) and sizes
//! (`256MiB`, `64 MB`, or bytes as a number) in config files.

use std::time::Duration;

use super::tree::{Kind, Node};

/// Read a duration; the error says what forms are accepted.
pub fn duration(node: &Node) -> Result<Duration, String> {
    let bad = || {
        format!(
            "expected a duration such as `30s`, `500ms`, `2m` or a number of seconds, found {}",
            describe(node)
        )
    };
    // `try_`: a value past what a Duration holds (`1e30`, `9999999999999999h`) is an error, not a panic.
    let secs = |s: f64| Duration::try_from_secs_f64(s).map_err(|_| bad());
    match &node.kind {
        Kind::Int(i) if *i >= 0 => Ok(Duration::from_secs(*i as u64)),
        Kind::Float(f) if *f >= 0.0 => secs(*f),
        Kind::Str(s) => {
            let s = s.trim();
            let split = s
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(s.len());
            let (num, unit) = s.split_at(split);
            let n: f64 = num.parse().map_err(|_| bad())?;
            let n = match unit.trim() {
                "ms" => n / 1000.0,
                "s" | "" => n,
                "m" | "min" => n * 60.0,
                "h" => n * 3600.0,
                _ => return Err(bad()),
            };
            secs(n)
        }
        _ => Err(bad()),
    }
}

/// Read a size in bytes; the error says what forms are accepted.
pub fn size(node: &Node) -> Result<usize, String> {
    let bad = || {
        format!(
            "expected a size such as `256MiB`, `64 MB` or a number of bytes, found {}",
            describe(node)
        )
    };
    match &node.kind {
        Kind::Int(i) if *i > 0 => Ok(*i as usize),
        Kind::Str(s) => {
            let s = s.trim();
            let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let (num, unit) = s.split_at(split);
            let n: usize = num.parse().map_err(|_| bad())?;
            let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
                "" | "b" => 1,
                "kib" => 1 << 10,
                "mib" => 1 << 20,
                "gib" => 1 << 30,
                "kb" | "k" => 1_000,
                "mb" | "m" => 1_000_000,
                "gb" | "g" => 1_000_000_000,
                _ => return Err(bad()),
            };
            n.checked_mul(mult).filter(|b| *b > 0).ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}

fn describe(node: &Node) -> String {
    match &node.kind {
        Kind::Str(s) => format!("`{s}`"),
        Kind::Int(i) => i.to_string(),
        Kind::Float(f) => f.to_string(),
        _ => node.type_name().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tree::parse_yaml;
    use super::*;

    fn n(text: &str) -> Node {
        parse_yaml(text).unwrap()
    }

    #[test]
    fn durations() {
        assert_eq!(duration(&n("30")).unwrap(), Duration::from_secs(30));
        assert_eq!(duration(&n("500ms")).unwrap(), Duration::from_millis(500));
        assert_eq!(duration(&n("2m")).unwrap(), Duration::from_secs(120));
        assert_eq!(duration(&n("1.5s")).unwrap(), Duration::from_millis(1500));
        assert!(duration(&n("soon")).unwrap_err().contains("`soon`"));
    }

    #[test]
    fn durations_too_long_to_hold_are_errors_not_panics() {
        assert!(duration(&n("1e30")).is_err());
        assert!(duration(&n("99999999999999999999h")).is_err());
        assert!(duration(&n(".inf")).is_err());
        assert!(duration(&n("-1")).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(size(&n("64MiB")).unwrap(), 64 << 20);
        assert_eq!(size(&n("1 GB")).unwrap(), 1_000_000_000);
        assert_eq!(size(&n("4096")).unwrap(), 4096);
        assert!(size(&n("lots")).is_err());
        assert!(size(&n("0")).is_err());
    }
}
