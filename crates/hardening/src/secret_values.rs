//! KG029: whether an environment variable's literal value is a secret. Values are judged, names
//! only guide:
//!
//! 1. **Known credential formats**, whatever the variable's name: a private key block (`BEGIN …
//!    PRIVATE KEY` between dashes, any case, as Polaris' `sensitiveContainerEnvVar` reads it), a JSON
//!    Web Token (three base64url parts whose first two decode to JSON objects, the first naming
//!    an `alg`), AWS access key ids, GitHub, GitLab, Slack, Hugging Face, Google API and Stripe
//!    secret keys (the formats of gitleaks' default rules, `config/gitleaks.toml`), and a URL
//!    whose user information carries a password (`scheme://user:password@host`).
//! 2. **Not a secret value**, whatever the name: empty, a reference or placeholder (`${VAR}`,
//!    `$(VAR)`, `{{ … }}`, `<your-token>`, an `UPPER_SNAKE` identifier with an underscore or equal
//!    to a word of the name, `changeme`, `your…`, a value starting like a known token format but
//!    too short for it: `nvapi-KEY`), a file path (`/etc/secret/password`, `./key.pem`), a URL
//!    without a password, a boolean.
//! 3. **A secret-like name with a literal value**: the name's words (split at `_`, `-`, `.` and
//!    case changes) contain `password`, `passwd`, `pwd`, `pass`, `secret`, `token`, `credential(s)`,
//!    `apikey`, or `key` after `api`, `access`, `secret`, `private`, `client`, `signing`,
//!    `encryption`, `master`, `auth`, `ssh`, `tls`, `account` (`AZURE_BATCH_KEY` needs the
//!    `AZURE_…_KEY` form of Polaris). Not a secret-like name: one whose last word says it holds
//!    something *about* the secret (`…_FILE`, `_PATH`, `_NAME`, `_ID`, `_REF`, `_VERSION`, `_URL`,
//!    `_HOST`, …: `PASSWORD_FILE`, `SECRET_NAME`), or a setting (`ALLOW`, `ENABLE`, `MIN`, `MAX`,
//!    `LENGTH`, `TTL`, …: `MYSQL_ALLOW_EMPTY_PASSWORD`), or a count (`MAX_TOTAL_TOKENS`: `tokens` is
//!    not `token`).
//! 4. **High entropy**, whatever the name: at least 20 characters of the base64/base64url alphabet
//!    with upper case, lower case and digits, and a Shannon entropy above 4.5 bits per character:
//!    the default limit of detect-secrets' `Base64HighEntropyString`
//!    (`detect_secrets/plugins/high_entropy_strings.py`). Shorter strings cannot reach it (20
//!    distinct characters give log2(20) = 4.32 bits), nor hexadecimal ones (at most 4 bits: digests
//!    and UUIDs are left alone).
//!
//! The finding's message names the variable and the reason, never the value.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

/// Why a value is judged a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Secret {
    /// A known credential format (its name: "a GitHub token").
    Format(&'static str),
    /// A literal under a secret-like name.
    NamedLiteral,
    /// A high-entropy string.
    HighEntropy,
}

impl Secret {
    /// How the message says it.
    pub(crate) fn describe(self) -> String {
        match self {
            Self::Format(what) => format!("holds {what}"),
            Self::NamedLiteral => "is named like a secret and set to a literal value".to_owned(),
            Self::HighEntropy => {
                format!("holds a high-entropy string (more than {ENTROPY_LIMIT} bits per character)")
            }
        }
    }
}

/// detect-secrets' default limit for base64 strings (bits per character).
pub(crate) const ENTROPY_LIMIT: f64 = 4.5;
/// The shortest string judged by entropy.
const ENTROPY_MIN_LEN: usize = 20;

/// Known formats: (what, pattern). Patterns after gitleaks' default rules.
const FORMATS: &[(&str, &str)] = &[
    // PEM has five dashes; Polaris' sensitiveContainerEnvVar accepts any number (`-BEGIN\s+.*PRIVATE KEY-`).
    ("a private key", r"(?i)-BEGIN\s[ A-Z0-9_-]{0,100}PRIVATE KEY( BLOCK)?-"),
    ("an AWS access key id", r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b"),
    ("a GitHub token", r"\b(?:gh[pousr]_[0-9A-Za-z]{36}|github_pat_[0-9A-Za-z_]{82})\b"),
    ("a GitLab token", r"\bgl(?:pat|ptt|dt|rt)-[0-9A-Za-z_-]{20,}"),
    ("a Slack token", r"\bxox[abposr]-[0-9A-Za-z-]{10,}"),
    ("a Slack webhook URL", r"https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9+/]{43,}"),
    ("a Hugging Face token", r"\bhf_[A-Za-z]{34}\b"),
    ("a Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    ("a Stripe secret key", r"\b[rs]k_(?:live|test|prod)_[0-9A-Za-z]{10,99}\b"),
    ("an OpenAI key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}\b"),
    ("an Anthropic key", r"\bsk-ant-(?:api|admin)[0-9]{2}-[A-Za-z0-9_-]{80,}"),
    ("an NVIDIA API key", r"\bnvapi-[A-Za-z0-9_-]{60,}"),
];

/// Prefixes of the known formats: a value starting with one but matching no format is a
/// placeholder written in the format's shape (`nvapi-NVKEY`, `ghp_xxx`).
const FORMAT_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "hf_",
    "AIza",
    "sk_live_",
    "nvapi-",
    "sk-ant-",
    "AKIA",
];

static PATTERNS: LazyLock<Vec<(&'static str, Regex)>> =
    LazyLock::new(|| FORMATS.iter().filter_map(|(what, p)| Regex::new(p).ok().map(|r| (*what, r))).collect());

static JWT: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*").ok());

/// Whether a literal environment value is a secret, and why (see the module documentation).
pub(crate) fn judge(name: &str, value: &str) -> Option<Secret> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if let Some(what) = known_format(v) {
        return Some(Secret::Format(what));
    }
    if is_placeholder(name, v) || is_path(v) || is_url(v) || is_boolean(v) {
        return None;
    }
    if secret_like_name(name) {
        return Some(Secret::NamedLiteral);
    }
    high_entropy(v).then_some(Secret::HighEntropy)
}

/// The known credential format the value holds, if any.
fn known_format(v: &str) -> Option<&'static str> {
    if let Some(what) = PATTERNS.iter().find(|(_, re)| re.is_match(v)).map(|(what, _)| *what) {
        return Some(what);
    }
    if JWT.as_ref().and_then(|re| re.find(v)).is_some_and(|m| is_jwt(m.as_str())) {
        return Some("a JSON Web Token");
    }
    url_password(v).filter(|p| !is_placeholder("", p)).map(|_| "a URL with a password")
}

/// Whether three dot-separated base64url parts are a JWT: the header and the claims decode to
/// JSON objects, the header naming its `alg`.
fn is_jwt(token: &str) -> bool {
    use base64::Engine as _;
    let mut parts = token.split('.');
    let decode = |p: Option<&str>| -> Option<serde_json::Value> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p?.trim_end_matches('=')).ok()?;
        serde_json::from_slice::<serde_json::Value>(&bytes).ok().filter(serde_json::Value::is_object)
    };
    let (Some(header), Some(_claims)) = (decode(parts.next()), decode(parts.next())) else { return false };
    header.get("alg").is_some_and(serde_json::Value::is_string)
}

/// The password of a URL's user information (`scheme://user:password@host/...`).
fn url_password(v: &str) -> Option<&str> {
    let (scheme, rest) = v.split_once("://")?;
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)) {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

/// Whether a value is a reference or a placeholder rather than a value (see the module
/// documentation). `name` is the variable's name (`""` when judging a URL's password).
fn is_placeholder(name: &str, v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    if v.contains("${") || v.contains("$(") || v.contains("{{") || (v.starts_with('<') && v.ends_with('>')) {
        return true;
    }
    if v.len() > 2 && v.starts_with('%') && v.ends_with('%') {
        return true;
    }
    const WORDS: &[&str] = &[
        "changeme",
        "change-me",
        "change_me",
        "replaceme",
        "replace-me",
        "replace_me",
        "redacted",
        "placeholder",
        "todo",
        "tbd",
    ];
    if WORDS.contains(&lower.as_str()) || lower.starts_with("your") || lower.chars().all(|c| c == 'x' || c == '*') {
        return true;
    }
    let upper_snake = v.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && v.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    if upper_snake && (v.contains('_') || words(name).iter().any(|w| w.eq_ignore_ascii_case(v))) {
        return true;
    }
    FORMAT_PREFIXES.iter().any(|p| v.starts_with(p))
}

/// A file path: absolute, relative to `.`/`..`/`~`, or a Windows drive path.
fn is_path(v: &str) -> bool {
    let b = v.as_bytes();
    v.starts_with('/')
        || v.starts_with("./")
        || v.starts_with("../")
        || v.starts_with("~/")
        || (b.len() > 2
            && b.first().is_some_and(u8::is_ascii_alphabetic)
            && b.get(1) == Some(&b':')
            && b.get(2) == Some(&b'\\'))
}

/// A URL (any password in it was judged as a format first).
fn is_url(v: &str) -> bool {
    v.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    })
}

fn is_boolean(v: &str) -> bool {
    ["true", "false", "yes", "no", "on", "off"].iter().any(|b| v.eq_ignore_ascii_case(b))
}

/// The words of a variable name: split at `_`, `-`, `.` and lower-to-upper case changes, lower
/// case.
pub(crate) fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in name.split(['_', '-', '.', ' ']) {
        let mut word = String::new();
        let mut prev_lower = false;
        for c in part.chars() {
            if c.is_ascii_uppercase() && prev_lower && !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            word.push(c.to_ascii_lowercase());
        }
        if !word.is_empty() {
            out.push(word);
        }
    }
    out
}

/// Whether a variable's name says it holds a secret (see the module documentation).
pub(crate) fn secret_like_name(name: &str) -> bool {
    let w = words(name);
    let Some(last) = w.last() else { return false };
    const ABOUT: &[&str] = &[
        "file",
        "files",
        "path",
        "dir",
        "directory",
        "name",
        "names",
        "id",
        "ids",
        "ref",
        "reference",
        "version",
        "arn",
        "url",
        "uri",
        "endpoint",
        "host",
        "hostname",
        "location",
        "mount",
        "type",
        "field",
        "prefix",
        "suffix",
        "header",
        "source",
        "provider",
        "store",
        "vault",
        "namespace",
        "label",
        "selector",
        "format",
        "algorithm",
        "mode",
        "env",
        "var",
        "variable",
        "hash",
        "digest",
        "sha",
    ];
    const SETTING: &[&str] = &[
        "allow",
        "allowed",
        "enable",
        "enabled",
        "disable",
        "disabled",
        "use",
        "required",
        "require",
        "skip",
        "min",
        "max",
        "length",
        "len",
        "ttl",
        "expiry",
        "expiration",
        "expires",
        "timeout",
        "rotation",
        "interval",
        "policy",
        "strength",
        "complexity",
        "count",
        "lifetime",
        "period",
        "duration",
        "size",
        "empty",
        "random",
    ];
    if ABOUT.contains(&last.as_str()) || w.iter().any(|x| SETTING.contains(&x.as_str())) {
        return false;
    }
    const SECRET: &[&str] = &[
        "password",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "secret",
        "token",
        "credential",
        "credentials",
        "apikey",
        "privatekey",
        "accesskey",
        "secretkey",
    ];
    const KEY_OF: &[&str] = &[
        "api",
        "access",
        "secret",
        "private",
        "client",
        "signing",
        "encryption",
        "master",
        "auth",
        "ssh",
        "tls",
        "account",
        "license",
        "service",
        "session",
        "cookie",
        "hmac",
        "shared",
        "storage",
        "batch",
    ];
    if w.iter().any(|x| SECRET.contains(&x.as_str())) {
        return true;
    }
    // `…_KEY` after a word that makes it a secret key, and the forms other tools name.
    let key_of = w.windows(2).any(|p| matches!(p, [a, k] if k == "key" && KEY_OF.contains(&a.as_str())));
    let azure_key = w.first().is_some_and(|f| f == "azure") && last == "key" && w.len() > 2;
    let oci_key_content = w.ends_with(&["key".to_owned(), "content".to_owned()]);
    key_of || azure_key || oci_key_content
}

/// Whether a value is a high-entropy base64-alphabet string (see the module documentation).
fn high_entropy(v: &str) -> bool {
    v.len() >= ENTROPY_MIN_LEN
        && v.chars().all(|c| c.is_ascii_alphanumeric() || "+/=_-".contains(c))
        && v.chars().any(|c| c.is_ascii_uppercase())
        && v.chars().any(|c| c.is_ascii_lowercase())
        && v.chars().any(|c| c.is_ascii_digit())
        && shannon_entropy(v) > ENTROPY_LIMIT
}

/// Shannon entropy of the string's characters, in bits per character.
pub(crate) fn shannon_entropy(v: &str) -> f64 {
    let mut counts: HashMap<char, usize> = HashMap::new();
    let mut n = 0usize;
    for c in v.chars() {
        *counts.entry(c).or_default() += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let total = n as f64;
    counts
        .values()
        .map(|&k| {
            #[allow(clippy::cast_precision_loss)]
            let p = k as f64 / total;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test values are built at run time so that no credential-shaped literal sits in the source.
    fn rep(s: &str, n: usize) -> String {
        s.repeat(n)
    }

    /// A fake but well-formed token body: `n` characters cycling through the alphabet.
    fn body(n: usize) -> String {
        let alphabet = "aB3dE5gH7jK9mN1pQ2sT4vW6yZ8cF0hL";
        alphabet.chars().cycle().take(n).collect()
    }

    #[test]
    fn false_alarms_of_names_alone() {
        for (name, value) in [
            ("PASSWORD_FILE", "/etc/secret/password"),
            ("GOOGLE_APPLICATION_CREDENTIALS", "/var/secrets/google/key.json"),
            ("TLS_KEY", "/etc/tls/tls.key"),
            ("VAULT_TOKEN_URL", "https://vault.example.com/v1/auth/token"),
            ("DB_PASSWORD", "${DB_PASSWORD}"),
            ("DATA_SOURCE_PASS", "$(POSTGRES_PASSWORD)"),
            ("API_TOKEN", "{{ .Values.token }}"),
            ("HF_TOKEN", "<your-token>"),
            ("HF_TOKEN", "HF_TOKEN"),
            ("ETCD_DISCOVERY_TOKEN", "INSERT_ETCD_DISCOVERY_TOKEN"),
            ("COOKIE_SECRET", "SECRET"),
            ("SECRET_NAME", "db-credentials"),
            ("SECRET_ID", "bq-readonly-key"),
            ("SECRET_VERSION", "latest"),
            ("MAX_TOTAL_TOKENS", "2048"),
            ("MYSQL_ALLOW_EMPTY_PASSWORD", "1"),
            ("NGC_API_KEY", "nvapi-NVKEY"),
            ("ROOT_PASSWORD", "changeme"),
            ("ADMIN_PASSWORD", "yourpassword"),
            ("AWS_SECRET_ACCESS_KEY", "xxx"),
            ("REQUIRE_TOKEN", "true"),
            ("GREETING", "hello world"),
            ("MODEL_ID", "meta-llama/Llama-3.1-8B-Instruct"),
            ("GIT_COMMIT", "3f2a9c1d4e5b6a7f8091a2b3c4d5e6f708192a3b"),
            ("TRACE_ID", "123e4567-e89b-12d3-a456-426614174000"),
        ] {
            assert_eq!(judge(name, value), None, "{name}={value}");
        }
    }

    #[test]
    fn literals_under_secret_names() {
        for (name, value) in [
            ("MYSQL_ROOT_PASSWORD", "migration"),
            ("password", "abc123"),
            ("my_password", "abc123"),
            ("AWS_SECRET_ACCESS_KEY", "abc123def"),
            ("AZURE_BATCH_KEY", "abc"),
            ("OCI_CLI_KEY_CONTENT", "abc"),
            ("MINIO_SECRET_KEY", "minio123"),
            ("DB_PASS", "hunter2"),
            ("clientSecret", "s3cr3t-value"),
            ("GF_SECURITY_ADMIN_PASSWORD", "admin"),
            ("MYSQL_PASSWORD", "1234"),
        ] {
            assert_eq!(judge(name, value), Some(Secret::NamedLiteral), "{name}={value}");
        }
    }

    #[test]
    fn known_formats_whatever_the_name() {
        let github = format!("gh{}_{}", 'p', body(36));
        let gitlab = format!("gl{}-{}", "pat", body(20));
        let aws = format!("AK{}{}", "IA", rep("QZ2X", 4));
        let slack = format!("xo{}-{}-{}", "xb", rep("1", 12), body(24));
        let key = format!("-----BEGIN {}PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----", "RSA ");
        let short_dashes = format!("---BEGIN {}PRIVATE KEY---\nxxxxx\n", "OPENSSH ");
        let url = format!("postgres://app:{}@db:5432/app", "s3cr3t");
        for (value, what) in [
            (github.as_str(), "a GitHub token"),
            (gitlab.as_str(), "a GitLab token"),
            (aws.as_str(), "an AWS access key id"),
            (slack.as_str(), "a Slack token"),
            (key.as_str(), "a private key"),
            (short_dashes.as_str(), "a private key"),
            (url.as_str(), "a URL with a password"),
        ] {
            assert_eq!(judge("UPSTREAM", value), Some(Secret::Format(what)), "{value}");
        }
        // A JSON Web Token: {"alg":"HS256","typ":"JWT"}.{"sub":"1234567890"}.signature
        use base64::Engine as _;
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let jwt = format!("{}.{}.{}", enc(r#"{"alg":"HS256","typ":"JWT"}"#), enc(r#"{"sub":"1234567890"}"#), body(43));
        assert_eq!(judge("CONFIG", &jwt), Some(Secret::Format("a JSON Web Token")));
        // Three base64 parts that are not JSON are not a JWT.
        let not_jwt = format!("eyJ{}.eyJ{}.{}", body(20), body(20), body(10));
        assert_ne!(judge("CONFIG", &not_jwt), Some(Secret::Format("a JSON Web Token")));
        // A placeholder password in a URL is not one.
        assert_eq!(judge("DATABASE_URL", "postgres://app:${DB_PASSWORD}@db/app"), None);
        assert_eq!(judge("DATABASE_URL", "postgres://db:5432/app"), None);
    }

    #[test]
    fn entropy_threshold() {
        // 40 characters of a random-looking base64 alphabet: above 4.5 bits per character.
        let random = "q8Zr3Lw0Xb7Nf2Vd9Kp4Ys1Hm6Tg5Jc0Ua8Re3W";
        assert!(shannon_entropy(random) > ENTROPY_LIMIT, "{}", shannon_entropy(random));
        assert_eq!(judge("UPSTREAM_CONFIG", random), Some(Secret::HighEntropy));
        // Low entropy, or no digits, or an alphabet outside base64: left alone.
        for v in
            ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1A", "QwErTyUiOpAsDfGhJkLzXcVbNm", "hubble-relay.kube-system.svc:443"]
        {
            assert_eq!(judge("SETTING", v), None, "{v}");
        }
        // 20 distinct characters cannot exceed log2(20) bits.
        assert!(shannon_entropy("abcdefghijKLMNOPQR12") < ENTROPY_LIMIT);
    }

    #[test]
    fn name_words() {
        assert_eq!(words("MYSQL_ROOT_PASSWORD"), ["mysql", "root", "password"]);
        assert_eq!(words("clientSecretValue"), ["client", "secret", "value"]);
        assert_eq!(words("oauth2-proxy.cookie_secret"), ["oauth2", "proxy", "cookie", "secret"]);
        for n in
            ["DB_PASSWORD", "aws_secret_access_key", "azure_batch_key", "oci_cli_key_content", "GITHUB_TOKEN", "apiKey"]
        {
            assert!(secret_like_name(n), "{n}");
        }
        for n in [
            "greeting",
            "user_name",
            "KEYCLOAK_URL",
            "MONKEY",
            "PASSWORD_FILE",
            "MAX_TOTAL_TOKENS",
            "SECRET_NAME",
            "KEY",
        ] {
            assert!(!secret_like_name(n), "{n}");
        }
    }
}
