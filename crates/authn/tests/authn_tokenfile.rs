//! `--token-auth-file` and `--basic-auth-file`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_authn::Outcome;
use kguard_authn::tokenfile::{BASIC_AUTH_DEPRECATION, BasicAuthFile, TokenFile, parse_csv};

fn user(o: Outcome) -> kguard_authn::UserInfo {
    match o {
        Outcome::Authenticated(u) => u,
        other => panic!("expected a user, got {other:?}"),
    }
}

#[test]
fn rows_with_and_without_groups() {
    let text = "t1,alice,1001,\"system:masters,dev\"\nt2,bob,1002\n\n\"t,3\",carol,1003,ops\n";
    let file = TokenFile::parse("tokens.csv", text).unwrap();
    assert_eq!(file.len(), 3);
    assert!(file.warnings.is_empty());
    let alice = user(file.authenticate("t1"));
    assert_eq!((alice.name.as_str(), alice.uid.as_str()), ("alice", "1001"));
    assert_eq!(alice.groups, ["system:masters", "dev"]);
    assert!(user(file.authenticate("t2")).groups.is_empty());
    assert_eq!(user(file.authenticate("t,3")).groups, ["ops"]);
    assert!(matches!(file.authenticate("t"), Outcome::NotRecognized(_)));
    assert!(matches!(file.authenticate("t1 "), Outcome::NotRecognized(_)));
    assert!(matches!(file.authenticate(""), Outcome::NotRecognized(_)));
}

#[test]
fn too_few_columns_names_file_and_line() {
    let err = TokenFile::parse("/etc/k/tokens.csv", "t1,alice,1\n\nt2,bob\n").unwrap_err();
    assert_eq!(err.line, 3);
    assert_eq!(
        err.to_string(),
        "/etc/k/tokens.csv:3: token file '/etc/k/tokens.csv' must have at least 3 columns (token, user name, user uid), found 2"
    );
}

#[test]
fn quoted_field_spanning_lines_counts_lines() {
    let text = "t1,alice,1,\"a,\nb\"\nt2\n";
    let err = TokenFile::parse("f", text).unwrap_err();
    assert_eq!(err.line, 3, "{err}");
}

#[test]
fn csv_syntax_errors_name_the_line() {
    let err = TokenFile::parse("f", "t1,alice,1\nt\"2,bob,2\n").unwrap_err();
    assert_eq!(err.to_string(), "f:2: bare \" in non-quoted-field");
    let err = TokenFile::parse("f", "t1,alice,1\n\"t2\"x,bob,2\n").unwrap_err();
    assert_eq!(err.line, 2);
    let err = TokenFile::parse("f", "t1,alice,1\n\"t2,bob,2\n").unwrap_err();
    assert!(err.message.contains("quoted-field"), "{err}");
}

#[test]
fn empty_and_duplicate_tokens_warn() {
    let text = ",nobody,0\nt1,alice,1\nt1,mallory,2\n";
    let file = TokenFile::parse("f", text).unwrap();
    assert_eq!(file.len(), 1);
    assert_eq!(file.warnings.len(), 2);
    assert!(file.warnings[0].starts_with("f:1: empty token"), "{:?}", file.warnings);
    assert!(file.warnings[1].starts_with("f:3: duplicate token"), "{:?}", file.warnings);
    // The last row wins, as upstream.
    assert_eq!(user(file.authenticate("t1")).name, "mallory");
}

#[test]
fn csv_quotes_and_crlf() {
    let recs = parse_csv("f", "a,\"b \"\"q\"\"\",c\r\nd,e,f").unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].fields, ["a", "b \"q\"", "c"]);
    assert_eq!(recs[1].line, 2);
    assert_eq!(recs[1].fields, ["d", "e", "f"]);
}

#[test]
fn basic_auth_is_supported_with_a_deprecation_warning() {
    let file = BasicAuthFile::parse("users.csv", "s3cret,admin,1,\"system:masters\"\npw,bob,2\n").unwrap();
    assert_eq!(file.warnings.first().map(String::as_str), Some(BASIC_AUTH_DEPRECATION));
    let admin = user(file.authenticate("admin", "s3cret"));
    assert_eq!(admin.groups, ["system:masters"]);
    assert!(matches!(file.authenticate("admin", "s3cre"), Outcome::NotRecognized(_)));
    assert!(matches!(file.authenticate("carol", "pw"), Outcome::NotRecognized(_)));
    let err = BasicAuthFile::parse("users.csv", "pw,bob\n").unwrap_err();
    assert!(
        err.to_string().starts_with("users.csv:1: password file 'users.csv' must have at least 3 columns"),
        "{err}"
    );
}
