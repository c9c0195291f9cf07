//! The credentials file: who may call, with which secret, as whom.
//!
//! ```toml
//! [[principal]]
//! access_key_id = "AKIDALICE"
//! secret_access_key = "alice-secret"
//! account = "111111111111"
//! arn = "arn:aws:iam::111111111111:user/alice"      # optional
//! session_token = "..."                              # optional
//! policies = ['''{"Version":"2012-10-17","Statement":[]}''']
//! policy_files = ["alice-policy.json"]               # optional, relative to the file
//! ```
//!
//! Everything is checked at load, so a server never starts with a file it would misread later:
//! unknown keys (a typo such as `secret_key` would otherwise leave a principal without its
//! secret), duplicate access keys, accounts that are not 12 digits, ARNs of another account.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why a credentials file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read the credentials file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the credentials file is not valid: {0}")]
    Parse(String),
    #[error("[[principal]] {index} ({access_key_id}): {problem}")]
    Invalid {
        /// 1-based position in the file.
        index: usize,
        access_key_id: String,
        problem: String,
    },
    #[error(
        "[[principal]] {index} ({access_key_id}): cannot read the policy file {path}: {source}"
    )]
    PolicyFile {
        index: usize,
        access_key_id: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("access key id {0} is listed more than once")]
    DuplicateKey(String),
}

/// One caller: an access key with its secret, the account it acts in and who it is.
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// 12 digits, validated.
    pub account: String,
    /// A user or role ARN; `arn:aws:iam::<account>:user/<access_key_id>` when the file names none.
    pub arn: String,
    /// When set, requests must carry exactly this `X-Amz-Security-Token` (temporary credentials).
    pub session_token: Option<String>,
    /// Identity policy JSON texts: the inline `policies`, then the `policy_files` read in order.
    /// Not parsed here.
    pub policies: Vec<String>,
}

// Secrets never reach a log line through `{:?}`.
impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("account", &self.account)
            .field("arn", &self.arn)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("policies", &self.policies.len())
            .finish()
    }
}

/// The principals of a credentials file, by access key id.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    principals: Vec<Principal>,
    by_key: HashMap<String, usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    principal: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    access_key_id: String,
    secret_access_key: String,
    account: String,
    arn: Option<String>,
    session_token: Option<String>,
    #[serde(default)]
    policies: Vec<String>,
    #[serde(default)]
    policy_files: Vec<PathBuf>,
}

impl Credentials {
    /// Read and check the file at `path`; policy files are relative to its directory.
    pub fn load(path: &Path) -> Result<Credentials, CredentialsError> {
        let text = std::fs::read_to_string(path).map_err(|source| CredentialsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Credentials::from_toml_str(&text, base)
    }

    /// Parse and check a credentials document; `base_dir` resolves relative `policy_files`.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Credentials, CredentialsError> {
        let doc: FileDoc =
            toml::from_str(text).map_err(|e| CredentialsError::Parse(e.to_string()))?;
        let mut creds = Credentials::default();
        for (i, entry) in doc.principal.into_iter().enumerate() {
            let principal = entry.check(i + 1, base_dir)?;
            if creds.by_key.contains_key(&principal.access_key_id) {
                return Err(CredentialsError::DuplicateKey(principal.access_key_id));
            }
            creds
                .by_key
                .insert(principal.access_key_id.clone(), creds.principals.len());
            creds.principals.push(principal);
        }
        Ok(creds)
    }

    /// The principal of an access key id.
    pub fn get(&self, access_key_id: &str) -> Option<&Principal> {
        self.by_key
            .get(access_key_id)
            .and_then(|&i| self.principals.get(i))
    }

    /// Every principal, in file order.
    pub fn principals(&self) -> impl Iterator<Item = &Principal> {
        self.principals.iter()
    }

    /// How many principals the file lists.
    pub fn len(&self) -> usize {
        self.principals.len()
    }

    /// Whether the file lists none.
    pub fn is_empty(&self) -> bool {
        self.principals.is_empty()
    }

    /// Position of an access key id (for per-principal state kept beside the list).
    pub(crate) fn index_of(&self, access_key_id: &str) -> Option<usize> {
        self.by_key.get(access_key_id).copied()
    }
}

impl Entry {
    fn check(self, index: usize, base_dir: &Path) -> Result<Principal, CredentialsError> {
        let invalid = |problem: String| CredentialsError::Invalid {
            index,
            access_key_id: self.access_key_id.clone(),
            problem,
        };
        // The key travels inside `Credential=<key>/<date>/...`, so it cannot hold separators.
        if self.access_key_id.is_empty()
            || !self
                .access_key_id
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b',' | b'=' | b'&'))
        {
            return Err(invalid(
                "access_key_id must be non-empty visible ASCII without '/', ',', '=' or '&'".into(),
            ));
        }
        if self.secret_access_key.is_empty() {
            return Err(invalid("secret_access_key must not be empty".into()));
        }
        if self.account.len() != 12 || !self.account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!(
                "account must be 12 digits, not '{}'",
                self.account
            )));
        }
        let arn = match &self.arn {
            Some(arn) => {
                check_arn(arn, &self.account).map_err(invalid)?;
                arn.clone()
            }
            None => format!("arn:aws:iam::{}:user/{}", self.account, self.access_key_id),
        };
        if self.session_token.as_deref() == Some("") {
            return Err(invalid(
                "session_token must not be empty (leave it out instead)".into(),
            ));
        }
        let mut policies = self.policies.clone();
        for file in &self.policy_files {
            let path = base_dir.join(file);
            let text =
                std::fs::read_to_string(&path).map_err(|source| CredentialsError::PolicyFile {
                    index,
                    access_key_id: self.access_key_id.clone(),
                    path: path.clone(),
                    source,
                })?;
            policies.push(text);
        }
        Ok(Principal {
            access_key_id: self.access_key_id,
            secret_access_key: self.secret_access_key,
            account: self.account,
            arn,
            session_token: self.session_token,
            policies,
        })
    }
}

/// An IAM or STS principal ARN of `account`: `arn:<partition>:iam::<account>:user/...`,
/// `role/...`, the account's root user (`arn:<partition>:iam::<account>:root`, whose access
/// keys AWS still issues), or `arn:<partition>:sts::<account>:assumed-role/...`.
fn check_arn(arn: &str, account: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, arn_account, resource] = parts.as_slice() else {
        return Err(format!(
            "arn '{arn}' is not an ARN (arn:aws:iam::<account>:user/<name>)"
        ));
    };
    let kind = resource.split('/').next().unwrap_or_default();
    let shape_ok = *prefix == "arn"
        && !partition.is_empty()
        && region.is_empty()
        && match *service {
            "iam" => {
                *resource == "root"
                    || (matches!(kind, "user" | "role") && resource.len() > kind.len() + 1)
            }
            "sts" => kind == "assumed-role" && resource.len() > kind.len() + 1,
            _ => false,
        };
    if !shape_ok {
        return Err(format!(
            "arn '{arn}' must be an IAM user, role or root ARN (arn:aws:iam::<account>:user/<name>, :role/<name> or :root) or an STS assumed-role ARN"
        ));
    }
    if *arn_account != account {
        return Err(format!(
            "arn '{arn}' names account {arn_account}, not the principal's account {account}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = r#"
[[principal]]
access_key_id = "AKIDALICE"
secret_access_key = "alice-secret"
account = "111111111111"
arn = "arn:aws:iam::111111111111:user/alice"
policies = ['''{"Version":"2012-10-17","Statement":[]}''']

[[principal]]
access_key_id = "ASIABOB"
secret_access_key = "bob-secret"
account = "222222222222"
session_token = "bob-token"
"#;

    fn parse(text: &str) -> Result<Credentials, CredentialsError> {
        Credentials::from_toml_str(text, Path::new("."))
    }

    #[test]
    fn principals_load_with_defaults() {
        let creds = parse(ALICE).unwrap();
        assert_eq!(creds.len(), 2);
        let alice = creds.get("AKIDALICE").unwrap();
        assert_eq!(alice.secret_access_key, "alice-secret");
        assert_eq!(alice.account, "111111111111");
        assert_eq!(alice.arn, "arn:aws:iam::111111111111:user/alice");
        assert_eq!(alice.session_token, None);
        assert_eq!(alice.policies.len(), 1);
        let bob = creds.get("ASIABOB").unwrap();
        assert_eq!(bob.arn, "arn:aws:iam::222222222222:user/ASIABOB");
        assert_eq!(bob.session_token.as_deref(), Some("bob-token"));
        assert!(bob.policies.is_empty());
        assert!(creds.get("nobody").is_none());
        let keys: Vec<&str> = creds
            .principals()
            .map(|p| p.access_key_id.as_str())
            .collect();
        assert_eq!(keys, ["AKIDALICE", "ASIABOB"]);
    }

    #[test]
    fn an_empty_file_has_no_principals() {
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn policy_files_are_read_relative_to_the_credentials_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.json"), r#"{"Version":"2012-10-17"}"#).unwrap();
        let path = dir.path().join("creds.toml");
        std::fs::write(
            &path,
            r#"
[[principal]]
access_key_id = "AKID"
secret_access_key = "s"
account = "123456789012"
policies = ["inline"]
policy_files = ["p.json"]
"#,
        )
        .unwrap();
        let creds = Credentials::load(&path).unwrap();
        assert_eq!(
            creds.get("AKID").unwrap().policies,
            ["inline", r#"{"Version":"2012-10-17"}"#]
        );

        std::fs::write(
            &path,
            "[[principal]]\naccess_key_id = \"AKID\"\nsecret_access_key = \"s\"\naccount = \"123456789012\"\npolicy_files = [\"missing.json\"]\n",
        )
        .unwrap();
        let e = Credentials::load(&path).unwrap_err();
        assert!(
            matches!(e, CredentialsError::PolicyFile { index: 1, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("missing.json"), "{e}");
    }

    #[test]
    fn a_missing_file_is_a_read_error_naming_it() {
        let e = Credentials::load(Path::new("/nonexistent/creds.toml")).unwrap_err();
        assert!(matches!(e, CredentialsError::Read { .. }));
        assert!(e.to_string().contains("/nonexistent/creds.toml"));
    }

    fn one(fields: &str) -> String {
        let e = parse(&format!("[[principal]]\n{fields}")).unwrap_err();
        e.to_string()
    }

    #[test]
    fn bad_entries_are_refused_with_the_reason() {
        let base = "secret_access_key = \"s\"\naccount = \"123456789012\"\n";
        assert!(one(&format!("access_key_id = \"\"\n{base}")).contains("access_key_id"));
        assert!(one(&format!("access_key_id = \"A/B\"\n{base}")).contains("'/'"));
        assert!(one(
            "access_key_id = \"A\"\nsecret_access_key = \"\"\naccount = \"123456789012\"\n"
        )
        .contains("secret_access_key must not be empty"));
        let e = one("access_key_id = \"A\"\nsecret_access_key = \"s\"\naccount = \"12345\"\n");
        assert!(e.contains("account must be 12 digits, not '12345'"), "{e}");
        let e = one(&format!(
            "access_key_id = \"A\"\n{base}arn = \"arn:aws:iam::999999999999:user/x\"\n"
        ));
        assert!(e.contains("names account 999999999999"), "{e}");
        let e = one(&format!(
            "access_key_id = \"A\"\n{base}arn = \"arn:aws:s3:::bucket\"\n"
        ));
        assert!(e.contains("must be an IAM user, role or root ARN"), "{e}");
        let root = parse(&format!(
            "[[principal]]\naccess_key_id = \"A\"\n{base}arn = \"arn:aws:iam::123456789012:root\"\n"
        ))
        .unwrap();
        assert_eq!(root.get("A").unwrap().arn, "arn:aws:iam::123456789012:root");
        let e = one(&format!(
            "access_key_id = \"A\"\n{base}arn = \"arn:aws:iam::123456789012:rooted\"\n"
        ));
        assert!(e.contains("must be an IAM user, role or root ARN"), "{e}");
        let e = one(&format!(
            "access_key_id = \"A\"\n{base}session_token = \"\"\n"
        ));
        assert!(e.contains("session_token must not be empty"), "{e}");
        // A typo is not silently ignored.
        let e = one(&format!(
            "access_key_id = \"A\"\n{base}secret_key = \"x\"\n"
        ));
        assert!(e.contains("secret_key"), "{e}");
        // Missing required field.
        let e = one("access_key_id = \"A\"\naccount = \"123456789012\"\n");
        assert!(e.contains("secret_access_key"), "{e}");
    }

    #[test]
    fn role_and_assumed_role_arns_are_accepted() {
        for arn in [
            "arn:aws:iam::123456789012:role/writer",
            "arn:aws:sts::123456789012:assumed-role/writer/session",
            "arn:aws:iam::123456789012:user/path/alice",
        ] {
            assert!(check_arn(arn, "123456789012").is_ok(), "{arn}");
        }
        assert!(check_arn("arn:aws:iam::123456789012:user/", "123456789012").is_err());
        assert!(check_arn("arn:aws:iam::123456789012:group/g", "123456789012").is_err());
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let text = "[[principal]]\naccess_key_id = \"A\"\nsecret_access_key = \"s\"\naccount = \"123456789012\"\n".repeat(2);
        assert!(matches!(
            parse(&text).unwrap_err(),
            CredentialsError::DuplicateKey(k) if k == "A"
        ));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let creds = parse(ALICE).unwrap();
        let text = format!("{:?}", creds.get("ASIABOB").unwrap());
        assert!(
            !text.contains("bob-secret") && !text.contains("bob-token"),
            "{text}"
        );
    }
}
