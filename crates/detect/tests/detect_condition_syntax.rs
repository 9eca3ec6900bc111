//! Oracle: libsinsp's filter parser test strings (condition_syntax.json).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_detect::parser::parse;

#[test]
fn falco_condition_syntax_oracle() {
    let Some(dir) = kguard_testkit::shared_path("oracles/falco-k8saudit") else { return };
    let text = std::fs::read_to_string(dir.join("condition_syntax.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let accept: Vec<&str> = v["accept"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    let reject: Vec<&str> = v["reject"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    let mut bad = Vec::new();
    let ok_accept = accept
        .iter()
        .filter(|s| match parse(s) {
            Ok(_) => true,
            Err(e) => {
                bad.push(format!("should accept {s:?}: {e}"));
                false
            }
        })
        .count();
    let ok_reject = reject
        .iter()
        .filter(|s| match parse(s) {
            Err(_) => true,
            Ok(e) => {
                bad.push(format!("should reject {s:?}: parsed as {e:?}"));
                false
            }
        })
        .count();
    println!(
        "falco condition syntax oracle: {ok_accept}/{} accepted, {ok_reject}/{} rejected",
        accept.len(),
        reject.len()
    );
    for b in &bad {
        println!("  {b}");
    }
    assert_eq!(accept.len(), 335);
    assert_eq!(reject.len(), 191);
    assert!(bad.is_empty(), "{} mismatches", bad.len());
}

#[test]
fn parses_shapes() {
    use kguard_detect::parser::{CmpOp, Expr, Operand, Rhs};
    let e = parse("ka.verb in (create, 'up date') and not x").unwrap();
    let Expr::And(v) = e else { panic!() };
    assert_eq!(
        v[0],
        Expr::Compare {
            lhs: Operand::Field { name: "ka.verb".into(), arg: None },
            op: CmpOp::In,
            modifier: None,
            rhs: Rhs::List(vec!["create".into(), "up date".into()])
        }
    );
    assert_eq!(v[1], Expr::Not(Box::new(Expr::Ident("x".into()))));
    let err = parse("a.b = (").unwrap_err();
    assert_eq!(err.column, 7);
}
