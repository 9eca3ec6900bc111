//! Version ordering against upstream test vectors in `../shared/oracles/vuln/versions/`:
//! dpkg (apt's versions.lst and compareversion_test), apk (apk-tools version.data), rpm
//! (rpmvercmp.at), PEP 440 (pypa/packaging's tables) and npm semver (node-semver fixtures).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::cmp::Ordering;

use kguard_vuln::version::{apk, deb, npm, pep440, rpm};
use serde_json::Value;

fn load(rel: &str) -> Option<Value> {
    let p = kguard_testkit::shared_path(&format!("oracles/vuln/versions/{rel}"))?;
    Some(serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
}

fn sign(o: Ordering) -> i64 {
    match o {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

#[test]
fn dpkg_128_of_128() {
    let Some(d) = load("deb/deb_version_cases.json") else { return };
    let mut n = 0;
    let mut bad = Vec::new();
    for key in ["versions_lst", "apt_compareversion_test"] {
        for c in d[key].as_array().unwrap() {
            let (a, b, want) = (c["a"].as_str().unwrap(), c["b"].as_str().unwrap(), c["cmp"].as_i64().unwrap());
            assert_eq!(want, c["dpkg_1_21"].as_i64().unwrap());
            n += 1;
            if sign(deb::compare(a, b)) != want || sign(deb::compare(b, a)) != -want {
                bad.push(format!("{a} vs {b}: want {want}"));
            }
        }
    }
    assert_eq!(n, 128);
    assert!(bad.is_empty(), "{} of {n} disagree: {bad:#?}", bad.len());
}

#[test]
fn apk_785_lines() {
    let Some(p) = kguard_testkit::shared_path("oracles/vuln/versions/apk/version.data") else { return };
    let text = std::fs::read_to_string(p).unwrap();
    let (mut lines, mut checked, mut bad) = (0, 0, Vec::new());
    for (i, line) in text.lines().enumerate() {
        lines += 1;
        let l = line.split('#').next().unwrap().trim();
        if l.is_empty() {
            continue;
        }
        checked += 1;
        let parts: Vec<&str> = l.splitn(3, ' ').collect();
        let ok = if let [a, op, b] = parts[..] {
            let (inv, op) = op.strip_prefix('!').map_or((false, op), |o| (true, o));
            apk::matches(a, op, b) != inv
        } else {
            let (inv, v) = l.strip_prefix('!').map_or((false, l), |v| (true, v));
            apk::validate(v) != inv
        };
        if !ok {
            bad.push(format!("{}: {line}", i + 1));
        }
    }
    assert!(lines >= 785, "{lines} lines");
    assert_eq!(checked, 785, "785 data lines");
    eprintln!("apk versions oracle: {}/785 data lines hold", 785 - bad.len());
    assert!(bad.is_empty(), "{} of {checked} fail: {bad:#?}", bad.len());
}

#[test]
fn rpm_91_active() {
    let Some(d) = load("rpm/rpmvercmp_cases.json") else { return };
    let (mut active, mut bad) = (0, Vec::new());
    let mut oddities = 0;
    for c in d["cases"].as_array().unwrap() {
        let (a, b) = (c["a"].as_str().unwrap(), c["b"].as_str().unwrap());
        let got = sign(rpm::rpmvercmp(a, b));
        if c["active"].as_bool().unwrap() {
            active += 1;
            if got != c["cmp"].as_i64().unwrap() {
                bad.push(format!("{a} vs {b}"));
            }
        } else if c["rpm_4_18"].as_i64() == Some(got) {
            oddities += 1; // commented out upstream: we agree with what rpm 4.18 does
        }
    }
    assert_eq!(active, 91);
    assert!(bad.is_empty(), "{} of {active} fail: {bad:#?}", bad.len());
    eprintln!("rpm versions oracle: 91/91 active; {oddities}/12 commented-out rows agree with rpm 4.18");
}

fn cases<'a>(d: &'a Value, file: &str, test: &str) -> Vec<&'a Value> {
    d["files"][file]["parametrized"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["test"] == test)
        .flat_map(|p| p["cases"].as_array().into_iter().flatten())
        .collect()
}

#[test]
fn pep440_packaging_tables() {
    let Some(d) = load("pep440/packaging_cases.json") else { return };
    let mut total = 0;
    let mut bad: Vec<String> = Vec::new();
    let mut check = |ok: bool, what: String| {
        total += 1;
        if !ok {
            bad.push(what);
        }
    };
    // VERSIONS ascending: every ordered pair (i < j) is strictly less.
    let versions: Vec<&str> = d["files"]["test_version.py"]["module_constants"]["VERSIONS"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(versions.len(), 92);
    let parsed: Vec<pep440::Version> = versions.iter().map(|v| pep440::Version::parse(v).unwrap()).collect();
    for i in 0..parsed.len() {
        for j in 0..parsed.len() {
            check(parsed[i].cmp(&parsed[j]) == i.cmp(&j), format!("order {} vs {}", versions[i], versions[j]));
        }
    }
    let f = "test_version.py";
    for c in cases(&d, f, "TestVersion.test_invalid_versions") {
        check(pep440::Version::parse(c.as_str().unwrap()).is_err(), format!("invalid {c}"));
    }
    for t in ["TestVersion.test_normalized_versions", "TestVersion.test_version_str_repr"] {
        for c in cases(&d, f, t) {
            let got = pep440::Version::parse(c[0].as_str().unwrap()).map(|v| v.to_string()).ok();
            check(got.as_deref() == c[1].as_str(), format!("{t} {c}"));
        }
    }
    type Prop = fn(&pep440::Version) -> Value;
    let props: &[(&str, Prop)] = &[
        ("TestVersion.test_version_public", |v| Value::from(v.public().to_string())),
        ("TestVersion.test_version_base_version", |v| Value::from(v.base().to_string())),
        ("TestVersion.test_version_epoch", |v| Value::from(v.epoch as u64)),
        ("TestVersion.test_version_release", |v| Value::from(v.release.iter().map(|n| *n as u64).collect::<Vec<_>>())),
        ("TestVersion.test_version_local", |v| v.local_str().map_or(Value::Null, Value::from)),
        ("TestVersion.test_version_pre", |v| {
            v.pre.map_or(Value::Null, |(l, n)| {
                let l = match l {
                    pep440::Pre::Alpha => "a",
                    pep440::Pre::Beta => "b",
                    pep440::Pre::Rc => "rc",
                };
                serde_json::json!([l, n as u64])
            })
        }),
        ("TestVersion.test_version_is_prerelease", |v| Value::from(v.is_prerelease())),
        ("TestVersion.test_version_dev", |v| v.dev.map_or(Value::Null, |n| Value::from(n as u64))),
        ("TestVersion.test_version_is_devrelease", |v| Value::from(v.is_devrelease())),
        ("TestVersion.test_version_post", |v| v.post.map_or(Value::Null, |n| Value::from(n as u64))),
        ("TestVersion.test_version_is_postrelease", |v| Value::from(v.is_postrelease())),
    ];
    for (t, get) in props {
        for c in cases(&d, f, t) {
            let got = pep440::Version::parse(c[0].as_str().unwrap()).map(|v| get(&v)).ok();
            check(got.as_ref() == Some(&c[1]), format!("{t} {c}"));
        }
    }
    let f = "test_specifiers.py";
    for c in cases(&d, f, "TestSpecifier.test_specifiers_invalid") {
        check(pep440::Specifier::parse(c.as_str().unwrap()).is_err(), format!("invalid spec {c}"));
    }
    for t in ["TestSpecifier.test_specifiers", "TestSpecifier.test_arbitrary_equality"] {
        for c in cases(&d, f, t) {
            let spec = pep440::Specifier::parse(c[1].as_str().unwrap());
            let got = spec.map(|s| s.contains(c[0].as_str().unwrap()));
            check(got == Ok(c[2].as_bool().unwrap()), format!("{t} {c}"));
        }
    }
    for c in cases(&d, f, "TestSpecifier.test_invalid_version") {
        let got = pep440::Specifier::parse(c[0].as_str().unwrap()).map(|s| s.contains(c[1].as_str().unwrap()));
        check(got == Ok(c[2].as_bool().unwrap()), format!("invalid version {c}"));
    }
    for c in cases(&d, f, "TestSpecifierSet.test_comparison_ignores_local") {
        let got = pep440::SpecifierSet::parse(c[1].as_str().unwrap()).map(|s| s.contains(c[0].as_str().unwrap()));
        check(got == Ok(c[2].as_bool().unwrap()), format!("ignores local {c}"));
    }
    eprintln!("pep440 versions oracle: {}/{total} rows agree", total - bad.len());
    assert!(bad.is_empty(), "{} of {total} fail: {bad:#?}", bad.len());
}

fn opts(v: Option<&Value>) -> npm::Options {
    match v {
        Some(Value::Bool(b)) => npm::Options { loose: *b, include_prerelease: false },
        Some(Value::Object(o)) => npm::Options {
            loose: o.get("loose").is_some_and(|l| l.as_bool().unwrap_or(l.is_number())),
            include_prerelease: o.get("includePrerelease").and_then(Value::as_bool).unwrap_or(false),
        },
        _ => npm::Options::default(),
    }
}

#[test]
fn npm_semver_fixtures() {
    let Some(d) = load("semver-npm/fixtures.json") else { return };
    let mut total = 0;
    let mut bad: Vec<String> = Vec::new();
    let mut check = |ok: bool, what: String| {
        total += 1;
        if !ok {
            bad.push(what);
        }
    };
    let rows = |k: &str| d[k].as_array().unwrap().clone();
    for r in rows("comparisons") {
        let o = opts(r.get(2));
        let (a, b) = (npm::SemVer::parse(r[0].as_str().unwrap(), o), npm::SemVer::parse(r[1].as_str().unwrap(), o));
        check(
            matches!((&a, &b), (Ok(a), Ok(b)) if a.cmp(b) == Ordering::Greater && b.cmp(a) == Ordering::Less),
            format!("comparisons {r}"),
        );
    }
    for r in rows("equality") {
        let o = opts(r.get(2));
        let (a, b) = (npm::SemVer::parse(r[0].as_str().unwrap(), o), npm::SemVer::parse(r[1].as_str().unwrap(), o));
        check(matches!((&a, &b), (Ok(a), Ok(b)) if a.cmp(b) == Ordering::Equal), format!("equality {r}"));
    }
    for r in rows("valid-versions") {
        let got = npm::SemVer::parse(r[0].as_str().unwrap(), npm::Options::default());
        let ok = got.is_ok_and(|v| {
            let pre: Vec<Value> = v
                .pre
                .iter()
                .map(|i| match i {
                    npm::Ident::Num(n) => Value::from(*n),
                    npm::Ident::Str(s) => Value::from(s.as_str()),
                })
                .collect();
            r[1] == v.major
                && r[2] == v.minor
                && r[3] == v.patch
                && Value::from(pre) == r[4]
                && Value::from(v.build) == r[5]
        });
        check(ok, format!("valid {r}"));
    }
    for r in rows("invalid-versions") {
        let ok = r[0].as_str().is_none_or(|v| npm::SemVer::parse(v, opts(r.get(2))).is_err());
        check(ok, format!("invalid {r}"));
    }
    for (k, want) in [("range-include", true), ("range-exclude", false)] {
        for r in rows(k) {
            let got = r[1].as_str().is_some_and(|v| npm::Range::satisfies(v, r[0].as_str().unwrap(), opts(r.get(2))));
            check(got == want, format!("{k} {r}"));
        }
    }
    for r in rows("range-parse") {
        let got = npm::Range::parse(r[0].as_str().unwrap(), opts(r.get(2))).ok().map(|r| {
            let s = r.to_string();
            if s.is_empty() { "*".to_owned() } else { s }
        });
        check(got.as_deref() == r[1].as_str(), format!("range-parse {r} got {got:?}"));
    }
    // test/ranges/intersects.js: each pair both ways, strict and loose, as Comparator objects
    // (parsed strictly) and as range strings; the 4th element is includePrerelease.
    for r in rows("comparator-intersection") {
        let (c0, c1, want) = (r[0].as_str().unwrap(), r[1].as_str().unwrap(), r[2].as_bool().unwrap());
        let include_prerelease = r.get(3).and_then(Value::as_bool).unwrap_or(false);
        let (a, b) =
            (npm::Comparator::new(c0, npm::Options::default()), npm::Comparator::new(c1, npm::Options::default()));
        let ok = [false, true].into_iter().all(|loose| {
            let o = npm::Options { loose, include_prerelease };
            matches!((&a, &b), (Ok(a), Ok(b)) if a.intersects(b, o) == want && b.intersects(a, o) == want)
                && npm::intersects(c0, c1, o) == Ok(want)
                && npm::intersects(c1, c0, o) == Ok(want)
        });
        check(ok, format!("comparator-intersection {r}"));
    }
    // Ranges both ways, with no options and loose (`true`).
    for r in rows("range-intersection") {
        let (r0, r1, want) = (r[0].as_str().unwrap(), r[1].as_str().unwrap(), r[2].as_bool().unwrap());
        let ok = [false, true].into_iter().all(|loose| {
            let o = npm::Options { loose, include_prerelease: false };
            npm::intersects(r0, r1, o) == Ok(want) && npm::intersects(r1, r0, o) == Ok(want)
        });
        check(ok, format!("range-intersection {r}"));
    }
    // test/functions/inc.js: [version, release, result, options, identifier, identifierBase] for
    // inc(version, release, options, identifier, identifierBase); a string in the options slot is
    // the identifier (and the identifier slot the base), as inc.js shifts them; null = invalid.
    for r in rows("increments") {
        let (o, id, base) = match r.get(3) {
            Some(Value::String(id)) => (npm::Options::default(), id.as_str(), r.get(4)),
            o => (opts(o), r.get(4).and_then(Value::as_str).unwrap_or(""), r.get(5)),
        };
        let got = npm::inc(r[0].as_str().unwrap(), r[1].as_str().unwrap(), o, id, pre_base(base));
        check(got.as_deref() == r[2].as_str(), format!("increments {r} got {got:?}"));
    }
    // test/functions/truncate.js: [version, release type, result]; null = invalid.
    for r in rows("truncations") {
        let got = npm::truncate(r[0].as_str().unwrap(), r[1].as_str().unwrap(), npm::Options::default());
        check(got.as_deref() == r[2].as_str(), format!("truncations {r} got {got:?}"));
    }
    // test/ranges/gtr.js, ltr.js, outside.js: [range, version, options]; a throw fails the row.
    let sides = [
        ("version-gt-range", npm::Side::Above, true),
        ("version-not-gt-range", npm::Side::Above, false),
        ("version-lt-range", npm::Side::Below, true),
        ("version-not-lt-range", npm::Side::Below, false),
    ];
    for (k, side, want) in sides {
        for r in rows(k) {
            let (range, v, o) = (r[0].as_str().unwrap(), r[1].as_str().unwrap(), opts(r.get(2)));
            let got = npm::outside(v, range, side, o);
            let named = if side == npm::Side::Above { npm::gtr(v, range, o) } else { npm::ltr(v, range, o) };
            check(got == Ok(want) && named == got, format!("{k} {r} got {got:?}"));
        }
    }
    eprintln!(
        "npm semver versions oracle: {}/{total} fixture rows agree (comparisons, equality, valid, invalid, range include/exclude/parse, \
         comparator/range intersection, increments, truncations, version gt/lt/not-gt/not-lt range)",
        total - bad.len()
    );
    assert_eq!(total, 982, "all 15 fixture arrays");
    assert!(bad.is_empty(), "{} of {total} fail: {bad:#?}", bad.len());
}

/// `identifierBase` as inc.js reads it: `false` = no number, else `Number(x) ? 1 : 0`.
fn pre_base(v: Option<&Value>) -> npm::PreBase {
    let one = match v {
        Some(Value::Bool(false)) => return npm::PreBase::Omit,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => s.trim().parse::<f64>().is_ok_and(|f| f != 0.0 && !f.is_nan()),
        Some(Value::Bool(true)) => true,
        _ => false,
    };
    if one { npm::PreBase::One } else { npm::PreBase::Zero }
}

/// A small deterministic generator of dpkg/rpm-ish version strings.
fn random_versions(seed: u64, n: usize, alphabet: &[u8]) -> Vec<String> {
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|_| {
            let len = 1 + (next() % 8) as usize;
            let mut s = String::new();
            if next() % 4 == 0 {
                s.push_str(&format!("{}:", next() % 3));
            }
            s.push(char::from(b'0' + (next() % 10) as u8));
            for _ in 0..len {
                s.push(char::from(alphabet[(next() % alphabet.len() as u64) as usize]));
            }
            if next() % 3 == 0 {
                s.push_str(&format!("-{}", next() % 20));
            }
            s
        })
        .collect()
}

#[test]
fn dpkg_differential_random() {
    if !kguard_testkit::tool("dpkg", "dpkg_differential_random") {
        return;
    }
    let vs = random_versions(0x9e37_79b9_7f4a_7c15, 300, b"0123456789.~+ab");
    let mut n = 0;
    for pair in vs.chunks(2) {
        let [a, b] = pair else { continue };
        let ours = deb::compare(a, b);
        let op = match ours {
            Ordering::Less => "lt",
            Ordering::Equal => "eq",
            Ordering::Greater => "gt",
        };
        let st = std::process::Command::new("dpkg").args(["--compare-versions", a, op, b]).status().unwrap();
        assert!(st.success(), "dpkg disagrees: {a} {op} {b} is false");
        n += 1;
    }
    eprintln!("dpkg differential oracle: {n}/{n} random pairs agree");
}

#[test]
fn rpm_differential_random() {
    if !kguard_testkit::tool("rpm", "rpm_differential_random") {
        return;
    }
    let vs = random_versions(0x2545_f491_4f6c_dd1d, 200, b"0123456789.~^_ab");
    let pairs: Vec<(&str, &str)> =
        vs.chunks(2).filter_map(|p| Some((p.first()?.as_str(), p.get(1)?.as_str()))).collect();
    // One rpm process for all pairs: a Lua loop printing rpm.vercmp per line.
    let lua: String = pairs.iter().map(|(a, b)| format!("print(rpm.vercmp(\"{a}\", \"{b}\") .. \",\")\n")).collect();
    let out = std::process::Command::new("rpm").arg("--eval").arg(format!("%{{lua:\n{lua}}}")).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let got: Vec<i64> = text.split(',').filter(|l| !l.trim().is_empty()).map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(got.len(), pairs.len(), "{text}");
    for ((a, b), want) in pairs.iter().zip(&got) {
        // rpm.vercmp compares full EVR strings.
        assert_eq!(sign(rpm::compare(a, b)), *want, "{a} vs {b}");
    }
    eprintln!("rpm differential oracle: {}/{} random pairs agree", got.len(), got.len());
}
