//! `--token-auth-file` (static tokens) and the deprecated `--basic-auth-file` (passwords).
//!
//! Both are CSV read as Go's `encoding/csv` with a variable number of fields (RFC 4180 quoting,
//! `""` escapes, quoted fields may span lines, blank lines skipped). Token rows are
//! `token,user,uid[,"group1,group2"]`; password rows `password,user,uid[,"groups"]`. The fourth
//! column is split on `,` exactly as upstream (no trimming). Fewer than three columns is an error
//! naming the file and line; an empty token is skipped and a duplicate token replaces the earlier
//! row, each with a warning. Secrets are compared in constant time against every row.

use super::{Outcome, UserInfo, secret_matches};

/// A CSV parse error or a row with too few columns, naming `file:line`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    /// The file name as given.
    pub file: String,
    /// 1-based line where the offending record starts (or the syntax error is).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for FileError {}

/// One CSV record and the line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// 1-based line of the record's first character.
    pub line: usize,
    /// The fields.
    pub fields: Vec<String>,
}

/// Parses CSV as Go's `encoding/csv.Reader` with `FieldsPerRecord = -1` and no lazy quotes.
///
/// # Errors
/// A bare `"` in an unquoted field, an extraneous `"` after a quoted field, or an unterminated
/// quoted field; the error's line is where the problem is.
pub fn parse_csv(file: &str, text: &str) -> Result<Vec<Record>, FileError> {
    let err = |line: usize, message: &str| FileError { file: file.to_owned(), line, message: message.to_owned() };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        // Skip blank lines.
        if chars.peek() == Some(&'\n') || chars.peek() == Some(&'\r') {
            let c = chars.next();
            if c == Some('\r') && chars.peek() == Some(&'\n') {
                chars.next();
            }
            line += 1;
            continue;
        }
        let start = line;
        let mut fields = Vec::new();
        loop {
            let mut field = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                let quote_line = line;
                loop {
                    match chars.next() {
                        None => return Err(err(quote_line, "extraneous or missing \" in quoted-field")),
                        Some('"') => {
                            if chars.peek() == Some(&'"') {
                                chars.next();
                                field.push('"');
                            } else {
                                break;
                            }
                        }
                        Some('\r') if chars.peek() == Some(&'\n') => {}
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            field.push(c);
                        }
                    }
                }
                match chars.peek() {
                    None | Some(',' | '\n' | '\r') => {}
                    Some(_) => return Err(err(line, "extraneous or missing \" in quoted-field")),
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' || c == '\n' || c == '\r' {
                        break;
                    }
                    if c == '"' {
                        return Err(err(line, "bare \" in non-quoted-field"));
                    }
                    field.push(c);
                    chars.next();
                }
            }
            fields.push(field);
            match chars.next() {
                Some(',') => {}
                Some('\r') => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    line += 1;
                    break;
                }
                Some('\n') => {
                    line += 1;
                    break;
                }
                _ => break,
            }
        }
        records.push(Record { line: start, fields });
    }
    Ok(records)
}

#[derive(Clone, Debug)]
struct Entry {
    secret: String,
    user: UserInfo,
}

/// The parsed `--token-auth-file`.
#[derive(Clone, Debug, Default)]
pub struct TokenFile {
    entries: Vec<Entry>,
    /// Warnings raised while parsing (empty or duplicate tokens).
    pub warnings: Vec<String>,
}

fn parse_rows(file: &str, text: &str, what: &str, first: &str) -> Result<(Vec<Entry>, Vec<String>), FileError> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut warnings = Vec::new();
    for (i, rec) in parse_csv(file, text)?.into_iter().enumerate() {
        let n = i + 1;
        let [secret, name, uid, rest @ ..] = rec.fields.as_slice() else {
            return Err(FileError {
                file: file.to_owned(),
                line: rec.line,
                message: format!(
                    "{what} file '{file}' must have at least 3 columns ({first}, user name, user uid), found {}",
                    rec.fields.len()
                ),
            });
        };
        if secret.is_empty() {
            warnings.push(format!(
                "{file}:{}: empty {first} has been found in {what} file '{file}', record number '{n}'",
                rec.line
            ));
            continue;
        }
        let groups: Vec<String> = rest.first().map(|g| g.split(',').map(str::to_owned).collect()).unwrap_or_default();
        let mut user = UserInfo::new(name.as_str(), groups);
        user.uid.clone_from(uid);
        let key = if what == "password" { name } else { secret };
        if let Some(old) =
            entries.iter_mut().find(|e| if what == "password" { &e.user.name == key } else { &e.secret == key })
        {
            warnings.push(format!(
                "{file}:{}: duplicate {} has been found in {what} file '{file}', record number '{n}'",
                rec.line,
                if what == "password" { "user" } else { first }
            ));
            *old = Entry { secret: secret.clone(), user };
        } else {
            entries.push(Entry { secret: secret.clone(), user });
        }
    }
    Ok((entries, warnings))
}

impl TokenFile {
    /// Parses the contents `text` of the token file `file` (the name is used only in messages).
    ///
    /// # Errors
    /// CSV syntax errors and rows with fewer than three columns, with `file:line`.
    pub fn parse(file: &str, text: &str) -> Result<Self, FileError> {
        let (entries, warnings) = parse_rows(file, text, "token", "token")?;
        Ok(Self { entries, warnings })
    }

    /// How many tokens the file defines.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file defines no token.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Authenticates a bearer token: compared in constant time against every row.
    #[must_use]
    pub fn authenticate(&self, token: &str) -> Outcome {
        let mut found = None;
        for e in &self.entries {
            if secret_matches(e.secret.as_bytes(), token.as_bytes()) {
                found = Some(e);
            }
        }
        match found {
            Some(e) => Outcome::Authenticated(e.user.clone()),
            None => Outcome::NotRecognized("the token is not in the token file".to_owned()),
        }
    }
}

/// The deprecation warning printed whenever a basic-auth file is used.
pub const BASIC_AUTH_DEPRECATION: &str = "--basic-auth-file is deprecated: kube-apiserver removed basic authentication \
     in v1.19; use client certificates, service-account or OIDC tokens instead";

/// The parsed `--basic-auth-file` (deprecated: removed from kube-apiserver in v1.19).
#[derive(Clone, Debug, Default)]
pub struct BasicAuthFile {
    entries: Vec<Entry>,
    /// Warnings: always the deprecation, then empty or duplicate rows.
    pub warnings: Vec<String>,
}

impl BasicAuthFile {
    /// Parses the contents `text` of the password file `file`. A duplicate user name replaces the
    /// earlier row.
    ///
    /// # Errors
    /// CSV syntax errors and rows with fewer than three columns, with `file:line`.
    pub fn parse(file: &str, text: &str) -> Result<Self, FileError> {
        let (entries, mut warnings) = parse_rows(file, text, "password", "password")?;
        warnings.insert(0, BASIC_AUTH_DEPRECATION.to_owned());
        Ok(Self { entries, warnings })
    }

    /// Authenticates HTTP basic credentials; the password is compared in constant time.
    #[must_use]
    pub fn authenticate(&self, user: &str, password: &str) -> Outcome {
        let Some(e) = self.entries.iter().find(|e| e.user.name == user) else {
            return Outcome::NotRecognized(format!("no user {user:?} in the basic-auth file"));
        };
        if secret_matches(e.secret.as_bytes(), password.as_bytes()) {
            Outcome::Authenticated(e.user.clone())
        } else {
            Outcome::NotRecognized(format!("wrong password for user {user:?}"))
        }
    }
}
