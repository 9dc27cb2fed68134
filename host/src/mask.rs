//! Secrets kept out of everything promwasm writes: the console, log files
//! and reports. What counts as secret is settled from the plan (keypair
//! material; mapped env values whose names say they are secret); each
//! occurrence becomes `***`.

use std::borrow::Cow;

use crate::plan::Plan;

/// Shorter values are not masked: they would hide ordinary text.
pub const MIN_SECRET_LEN: usize = 6;
/// A mapped env var whose name contains one of these holds a secret.
const SECRET_NAME_PARTS: &[&str] = &[
    "SECRET",
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "PRIVATE",
    "CREDENTIAL",
    "API_KEY",
    "APIKEY",
    "AUTH",
];
const MASK: &str = "***";

/// Replaces known secrets in text.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    // Longest first, so a secret containing another is masked whole.
    secrets: Vec<String>,
}

impl Masker {
    /// A masker for `secrets` (those shorter than [`MIN_SECRET_LEN`] are ignored).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Masker { secrets }
    }

    /// The plan's secrets: every worker's keypair material, the values of
    /// mapped env vars whose name (in the server or in the environment)
    /// says secret, and the values a `.env` file marks `# secret`.
    pub fn from_plan(plan: &Plan) -> Self {
        let mut secrets = plan.secrets.clone();
        for w in &plan.workers {
            for key in w.keys.values() {
                secrets.extend(key.secret_forms());
            }
            for (name, value) in &w.env {
                if is_secret_name(name) {
                    secrets.push(value.clone());
                }
            }
        }
        Self::new(secrets)
    }

    /// `text` with every secret replaced.
    pub fn mask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if !self.secrets.iter().any(|s| text.contains(s.as_str())) {
            return Cow::Borrowed(text);
        }
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        Cow::Owned(out)
    }

    /// Mask `text` in place.
    pub fn mask_in_place(&self, text: &mut String) {
        if let Cow::Owned(masked) = self.mask(text) {
            *text = masked;
        }
    }

    /// Whether there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
}

/// Whether an env var of this name holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_NAME_PARTS.iter().any(|p| upper.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_longest_first() {
        let m = Masker::new([
            "hunter2hunter2".to_string(),
            "hunter2".to_string(),
            "abc".to_string(),
        ]);
        assert_eq!(
            m.mask("pw=hunter2hunter2 and hunter2, abc"),
            "pw=*** and ***, abc"
        );
        assert!(matches!(m.mask("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn names_that_say_secret() {
        for n in [
            "GITHUB_TOKEN",
            "db_password",
            "ANTHROPIC_API_KEY",
            "MY_SECRET",
            "BASIC_AUTH",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in ["TASK_ID", "MONGO_DB", "PORT", "WORKER_NAME"] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn keypair_material_in_any_form_is_masked() {
        let key = crate::signing::Keypair::generate().unwrap();
        let m = Masker::new(key.secret_forms());
        for form in key.secret_forms() {
            assert_eq!(m.mask(&format!("leak: {form}!")), "leak: ***!", "{form}");
        }
        let public = key.public_key_base58();
        assert_eq!(m.mask(&public), public, "public keys stay readable");
    }
}
