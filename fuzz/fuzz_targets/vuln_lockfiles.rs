//! Fuzzes the language lockfile parsers (`kguard_vuln::lang::parse`: package-lock.json,
//! yarn.lock, pnpm-lock.yaml, bun.lock, requirements.txt, Pipfile.lock, poetry.lock, uv.lock,
//! pylock.toml, go.mod, pom.xml, gradle.lockfile, build.sbt.lock, conan.lock, NuGet and .NET
//! files, Package.resolved, Podfile.lock, pubspec.lock, mix.lock, composer files, Cargo.lock),
//! the Trivy fixture-DB reader and the per-ecosystem constraint matcher. The first byte picks
//! the parser. Any panic or hang is a bug.
#![no_main]

use kguard_vuln::lang::{LangType, parse};
use kguard_vuln::trivydb::{Db, matches};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let all = LangType::ALL;
    match all.get(usize::from(selector) % (all.len() + 2)) {
        Some(&kind) => {
            if let Ok(pkgs) = parse(kind, "fuzz/pom.xml", rest) {
                for p in pkgs.iter().take(16) {
                    let _ = kguard_vuln::lang::purl(kind, &p.name, &p.version);
                    let _ = matches(kind, &p.version, "< 1.0.0, >= 0.1 || [1.0,2.0)");
                }
            }
        }
        None if selector % 2 == 0 => {
            let Ok(text) = std::str::from_utf8(rest) else { return };
            let _ = Db::default().add_yaml(text);
        }
        None => {
            let Ok(text) = std::str::from_utf8(rest) else { return };
            let (version, constraint) = text.split_once('\n').unwrap_or((text, "< 1"));
            for kind in all {
                let _ = matches(kind, version, constraint);
            }
        }
    }
});
