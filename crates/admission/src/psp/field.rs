//! `field.Error` / `field.ErrorList` of k8s.io/apimachinery as PodSecurityPolicy prints them.
//!
//! `<path>: <type>[: <value>][: <detail>]`. The value appears for every type but `Required value`,
//! `Forbidden`, `Too long` and `Internal error`, printed the way `ErrorBody` does: integers and
//! booleans with `%v`, strings with `%q`, nil pointers as `"null"`, and anything else with Go's
//! `%#v` (slices as `[]int64{1, 2}` or `[]core.Capability{"NET_ADMIN"}`). A list prints as `%v`:
//! `[err1 err2]`.

use std::fmt;

use kguard_model::text::go_quote;

/// The error types PodSecurityPolicy produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    /// `Invalid value`.
    Invalid,
    /// `Required value`.
    Required,
    /// `Forbidden`.
    Forbidden,
}

impl ErrorType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "Invalid value",
            Self::Required => "Required value",
            Self::Forbidden => "Forbidden",
        }
    }
}

/// The offending value, rendered as Go renders the value's type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadValue {
    /// A nil pointer or interface: `"null"`.
    Null,
    /// An integer (`%v`).
    Int(i64),
    /// A boolean (`%v`).
    Bool(bool),
    /// A string (`%q`).
    Str(String),
    /// Already rendered with `%#v`.
    Go(String),
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("\"null\""),
            Self::Int(i) => write!(f, "{i}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Str(s) => f.write_str(&go_quote(s)),
            Self::Go(s) => f.write_str(s),
        }
    }
}

/// One `field.Error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field path (`spec.containers[0].securityContext.privileged`).
    pub field: String,
    /// The type.
    pub kind: ErrorType,
    /// The value (ignored for `Required` and `Forbidden`).
    pub value: BadValue,
    /// The detail.
    pub detail: String,
}

impl FieldError {
    /// `field.Invalid`.
    #[must_use]
    pub fn invalid(field: impl Into<String>, value: BadValue, detail: impl Into<String>) -> Self {
        Self { field: field.into(), kind: ErrorType::Invalid, value, detail: detail.into() }
    }

    /// `field.Required`.
    #[must_use]
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { field: field.into(), kind: ErrorType::Required, value: BadValue::Null, detail: detail.into() }
    }

    /// `field.Forbidden`.
    #[must_use]
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { field: field.into(), kind: ErrorType::Forbidden, value: BadValue::Null, detail: detail.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.kind.as_str())?;
        if self.kind == ErrorType::Invalid {
            write!(f, ": {}", self.value)?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// `%v` of a `field.ErrorList`: `[err1 err2]`.
#[must_use]
pub fn render_list(errors: &[FieldError]) -> String {
    let parts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    format!("[{}]", parts.join(" "))
}

/// `%#v` of a `[]int64`: `[]int64(nil)` when absent, `[]int64{1, 2}` otherwise.
#[must_use]
pub fn go_int64s(values: Option<&[i64]>) -> String {
    match values {
        None => "[]int64(nil)".to_owned(),
        Some(v) => {
            let parts: Vec<String> = v.iter().map(ToString::to_string).collect();
            format!("[]int64{{{}}}", parts.join(", "))
        }
    }
}

/// `%#v` of a `[]core.Capability`: `[]core.Capability(nil)` when absent,
/// `[]core.Capability{"A", "B"}` otherwise.
#[must_use]
pub fn go_capabilities(values: Option<&[String]>) -> String {
    match values {
        None => "[]core.Capability(nil)".to_owned(),
        Some(v) => {
            let parts: Vec<String> = v.iter().map(|s| go_quote(s)).collect();
            format!("[]core.Capability{{{}}}", parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_apimachinery() {
        let e = FieldError::invalid("spec.containers[0].securityContext.privileged", BadValue::Bool(true), "x");
        assert_eq!(e.to_string(), "spec.containers[0].securityContext.privileged: Invalid value: true: x");
        assert_eq!(FieldError::required("a.b", "").to_string(), "a.b: Required value");
        assert_eq!(FieldError::forbidden("a", "no").to_string(), "a: Forbidden: no");
        assert_eq!(FieldError::invalid("a", BadValue::Null, "d").to_string(), "a: Invalid value: \"null\": d");
        assert_eq!(
            FieldError::invalid("a", BadValue::Str("x\"y".into()), "").to_string(),
            "a: Invalid value: \"x\\\"y\""
        );
        assert_eq!(go_int64s(None), "[]int64(nil)");
        assert_eq!(go_int64s(Some(&[1, 2])), "[]int64{1, 2}");
        assert_eq!(go_capabilities(Some(&["A".into()])), "[]core.Capability{\"A\"}");
        assert_eq!(render_list(&[]), "[]");
    }
}
