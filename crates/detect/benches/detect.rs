//! Throughput of `kguard detect` on a realistic audit-event stream: events/second of
//! (a) `serde_json` parsing each JSON line into a `serde_json::Value` (the floor: no detection
//! can be faster), and (b) parsing plus [`Engine::process`] with upstream Falco's current
//! k8s_audit rules (`k8s_audit_rules.current.yaml`, `rule_matching: first`).
//!
//! The stream is generated in memory from Falco's k8saudit trace files
//! (`../shared/oracles/falco-k8saudit/test/trace_files/k8s_audit`): every event of every trace,
//! repeated with varied object names, namespaces, users and timestamps until ~100 MB of JSON
//! lines (`KGUARD_DETECT_BENCH_MB` overrides; kept well below 500 MB so the bench fits a laptop).
//!
//! `cargo bench -p kguard-detect --bench detect`
//!
//! Figures (2 shared, loaded cores; 55,460 events, 100 MB, 48,856 alerts): before the per-event
//! field cache and FNV list sets, detect ran at 41-51% of parse-only throughput (27.9k vs 68.1k
//! and 17.2k vs 33.9k events/s); after, 58-70% (criterion: 21.9k vs 31.4k events/s). Parse-only
//! is serde_json with `preserve_order` (IndexMap), as the engine parses events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kguard_detect::{Engine, k8saudit::AuditEvent};
use serde_json::Value;

const NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "prod", "staging", "ci", "monitoring", "team-a", "team-b", "dev"];
const USERS: &[&str] = &[
    "system:serviceaccount:kube-system:replicaset-controller",
    "system:serviceaccount:kube-system:deployment-controller",
    "jane@example.com",
    "bob",
    "system:anonymous",
    "minikube-user",
    "system:serviceaccount:ci:deployer",
    "system:kube-controller-manager",
];

/// The trace events (one JSON value each).
fn trace_events() -> Option<Vec<Value>> {
    let dir = kguard_testkit::shared_path("oracles/falco-k8saudit/test/trace_files/k8s_audit")?;
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for v in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
            let v = v.unwrap();
            match v.get("kind").and_then(Value::as_str) {
                Some("Event") => out.push(v),
                Some("EventList") => out.extend(v["items"].as_array().cloned().unwrap_or_default()),
                _ => {}
            }
        }
    }
    Some(out)
}

/// Replaces `from` by `to` in every string of `v` (names, namespaces, URIs).
fn rename(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::String(s) if s.contains(from) => *s = s.replace(from, to),
        Value::Array(a) => a.iter_mut().for_each(|x| rename(x, from, to)),
        Value::Object(o) => o.values_mut().for_each(|x| rename(x, from, to)),
        _ => {}
    }
}

/// One variant of a trace event: namespace, user, object name and timestamps varied by `i`.
fn variant(base: &Value, i: usize) -> Value {
    let mut v = base.clone();
    let ns = NAMESPACES[i % NAMESPACES.len()];
    // keep a third of the events as recorded (so the rules' exact-name conditions still fire)
    if !i.is_multiple_of(3) {
        if let Some(old) = v.pointer("/objectRef/namespace").and_then(Value::as_str).map(str::to_owned) {
            rename(&mut v, &format!("namespaces/{old}"), &format!("namespaces/{ns}"));
            v["objectRef"]["namespace"] = Value::String(ns.to_owned());
            if let Some(m) = v.pointer_mut("/requestObject/metadata").and_then(Value::as_object_mut) {
                m.insert("namespace".to_owned(), Value::String(ns.to_owned()));
            }
        }
        if let Some(name) = v.pointer("/objectRef/name").and_then(Value::as_str).map(str::to_owned) {
            let new = format!("{name}-{i}");
            rename(&mut v, &name, &new);
        }
        if let Some(u) = v.pointer_mut("/user/username") {
            *u = Value::String(USERS[i % USERS.len()].to_owned());
        }
    }
    let ts =
        format!("2024-05-{:02}T{:02}:{:02}:{:02}.{:06}Z", 1 + i % 28, i % 24, i % 60, (i / 60) % 60, i % 1_000_000);
    for k in ["stageTimestamp", "requestReceivedTimestamp", "timestamp"] {
        if v.get(k).is_some() {
            v[k] = Value::String(ts.clone());
        }
    }
    if let Some(id) = v.get_mut("auditID") {
        *id = Value::String(format!("00000000-0000-4000-8000-{i:012}"));
    }
    v
}

/// JSON lines of about `mb` megabytes.
fn stream(bases: &[Value], mb: usize) -> (Vec<String>, usize) {
    let target = mb * 1_000_000;
    let (mut lines, mut bytes, mut i) = (Vec::new(), 0usize, 0usize);
    while bytes < target {
        let line = serde_json::to_string(&variant(&bases[i % bases.len()], i)).unwrap();
        bytes += line.len() + 1;
        lines.push(line);
        i += 1;
    }
    (lines, bytes)
}

fn engine() -> Option<Engine> {
    let path = kguard_testkit::shared_path("oracles/falco-k8saudit/rules/k8s_audit_rules.current.yaml")?;
    let text = std::fs::read_to_string(&path).unwrap();
    let name = path.display().to_string();
    let (engine, _) = kguard_detect::load(&[(&name, &text)]).unwrap_or_else(|e| panic!("{e:?}"));
    Some(engine)
}

fn parse_only(lines: &[String]) -> usize {
    let mut n = 0;
    for l in lines {
        let v: Value = serde_json::from_str(l).unwrap();
        n += usize::from(v.is_object());
        black_box(v);
    }
    n
}

fn parse_detect(lines: &[String], engine: &Engine) -> usize {
    let mut alerts = 0;
    for l in lines {
        let v: Value = serde_json::from_str(l).unwrap();
        let ev = AuditEvent::new(v, 0);
        alerts += engine.process(&ev).len();
    }
    alerts
}

fn bench(c: &mut Criterion) {
    let (Some(bases), Some(engine)) = (trace_events(), engine()) else { return };
    let mb = std::env::var("KGUARD_DETECT_BENCH_MB").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    let (lines, bytes) = stream(&bases, mb);
    let n = lines.len();
    eprintln!(
        "detect bench: {n} events, {:.1} MB of JSON lines, {} trace events varied",
        bytes as f64 / 1e6,
        bases.len()
    );

    // one timed pass each, printed as events/s and the ratio (criterion reports the same below)
    let t = Instant::now();
    black_box(parse_only(&lines));
    let parse = t.elapsed();
    let t = Instant::now();
    let alerts = parse_detect(&lines, &engine);
    let det = t.elapsed();
    let eps = |d: Duration| n as f64 / d.as_secs_f64();
    eprintln!(
        "detect bench: parse-only {:.0} events/s, parse+detect {:.0} events/s ({alerts} alerts), ratio {:.0}%",
        eps(parse),
        eps(det),
        100.0 * parse.as_secs_f64() / det.as_secs_f64()
    );

    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("parse_only", |b| b.iter(|| parse_only(&lines)));
    g.bench_function("parse_and_detect", |b| b.iter(|| parse_detect(&lines, &engine)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
