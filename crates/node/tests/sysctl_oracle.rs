//! dev-sec linux-baseline's sysctl controls (`oracles/nodes/dev-sec/controls_transcribed.json`):
//! every `kernel_parameter` expectation of the transcription is in `sysctl::EXPECTATIONS` with the
//! same control, parameter and expected value, and nothing else is.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_node::sysctl::{EXPECTATIONS, Expect};

#[test]
fn expectations_agree_with_dev_sec() {
    let Some(file) = kguard_testkit::shared_path("oracles/nodes/dev-sec/controls_transcribed.json") else { return };
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let profile = &doc["profiles"]["linux-baseline/controls/sysctl_spec.rb"];
    assert_eq!(profile["inputs"]["kernel_modules_disabled"], 0);
    let mut seen = 0;
    let mut agree = 0;
    for c in profile["controls"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        for e in c["expectations"].as_array().unwrap() {
            assert_eq!(e["resource"], "kernel_parameter");
            seen += 1;
            let name = e["arg"].as_str().unwrap();
            let ours = EXPECTATIONS.iter().find(|x| x.control == id && x.name == name);
            let Some(ours) = ours else { panic!("{id} {name} missing") };
            let want = (e["matcher"].as_str().unwrap(), &e["value"]);
            let ok = match (ours.expect, want) {
                (Expect::Eq(n), ("eq", v)) => v.as_i64() == Some(n),
                (Expect::Regex(r), ("cmp", v)) => v["regex"] == r,
                // `%r{^\|?/.*}`: the regex between the braces.
                (Expect::Regex(r), ("match", v)) => v["$expr"].as_str() == Some(&format!("%r{{{r}")),
                // `eq(1).or eq(2).or eq(nil)`, `eq(2).or eq(nil)`.
                (Expect::OneOf(ns, nil), ("eq", v)) => {
                    let expr = v["$expr"].as_str().unwrap();
                    let mut text: Vec<String> = ns.iter().map(ToString::to_string).collect();
                    if nil {
                        text.push("nil".to_owned());
                    }
                    expr.starts_with(&format!("{})", text.join(").or eq(")))
                }
                (Expect::Ge(n), (m, _)) => m == format!(">= {n}"),
                _ => false,
            };
            assert!(ok, "{id} {name}: ours {:?}, dev-sec {want:?}", ours.expect);
            agree += 1;
        }
    }
    println!("dev-sec sysctl expectations: {agree}/{seen} agree");
    assert_eq!((seen, agree, EXPECTATIONS.len()), (52, 52, 52));
}
