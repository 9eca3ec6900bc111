//! `kguard explain` and `kguard rules`.

use std::io::Write;

use kguard_report::RuleMeta;
use kguard_scan::rules;

use crate::args::{ExplainArgs, RulesArgs};
use crate::exit;
use crate::output::{self, Format};

/// Prints one rule's documentation.
pub fn explain(args: &ExplainArgs) -> u8 {
    let Some(rule) = rules::find(&args.rule) else {
        eprintln!("error: no rule named {:?}; `kguard rules` lists them", args.rule);
        return exit::ERROR;
    };
    let mut out = anstream::stdout().lock();
    let written = match args.output {
        Format::Table => rules::retired(&args.rule)
            .map_or(Ok(()), |r| {
                writeln!(out, "{} ({}) is retired: {}. It now means {}.", r.id, r.name, r.why, r.now)
                    .and_then(|()| writeln!(out))
            })
            .and_then(|()| write_explanation(&mut out, rule)),
        f => {
            serde_json::to_value(rule).map_err(std::io::Error::other).and_then(|v| output::structured(&mut out, f, &v))
        }
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => exit::CLEAN,
        Err(e) => output::write_failed(&e, "the explanation"),
    }
}

fn write_explanation(out: &mut dyn Write, rule: &RuleMeta) -> std::io::Result<()> {
    writeln!(out, "{} ({}): {}", rule.id, rule.name, rule.title)?;
    writeln!(out)?;
    writeln!(out, "Severity: {}    Family: {}", rule.severity, rule.family)?;
    if !rule.aliases.is_empty() {
        writeln!(out, "Also known as: {}", rule.aliases.join(", "))?;
    }
    for (heading, text) in [("What it checks", rule.what), ("Why it matters", rule.why), ("How to fix it", rule.fix)] {
        writeln!(out)?;
        writeln!(out, "## {heading}")?;
        writeln!(out, "{}", text.trim_end())?;
    }
    if !rule.references.is_empty() {
        writeln!(out)?;
        writeln!(out, "## References")?;
        for r in rule.references {
            writeln!(out, "- {r}")?;
        }
    }
    writeln!(out)?;
    if rule.family == "dockerfile" {
        writeln!(
            out,
            "Suppress it for a run with `--ignore {}`, or for some paths with `perPathIgnores` in `.kguard.yaml`.",
            rule.id
        )?;
    } else {
        writeln!(
            out,
            "Suppress it on one object with the annotation `kguard.io/ignore: \"{}\"`, or for a run with `--ignore {}`.",
            rule.id, rule.id
        )?;
    }
    Ok(())
}

/// Lists every rule.
pub fn rules(args: &RulesArgs) -> u8 {
    let mut out = anstream::stdout().lock();
    let result = match args.output {
        Format::Table => {
            writeln!(out, "{:<8} {:<9} {:<14} {:<40} {:<60} ALIASES", "ID", "SEVERITY", "FAMILY", "NAME", "TITLE")
                .and_then(|()| {
                    rules::all().try_for_each(|r| {
                        writeln!(
                            out,
                            "{:<8} {:<9} {:<14} {:<40} {:<60} {}",
                            r.id,
                            r.severity.as_str(),
                            r.family,
                            r.name,
                            r.title,
                            r.aliases.join(",")
                        )
                    })
                })
        }
        f => {
            let all: Vec<&RuleMeta> = rules::all().collect();
            serde_json::to_value(&all).map_err(std::io::Error::other).and_then(|v| output::structured(&mut out, f, &v))
        }
    };
    match result.and_then(|()| out.flush()) {
        Ok(()) => exit::CLEAN,
        Err(e) => output::write_failed(&e, "the rules"),
    }
}
