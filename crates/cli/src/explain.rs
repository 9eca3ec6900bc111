//! `kguard explain` and `kguard rules`.

use std::io::Write;

use kguard_engine::rules;
use kguard_report::RuleMeta;

use crate::args::{ExplainArgs, RulesArgs, RulesFormat};
use crate::exit;

/// Prints one rule's documentation.
pub fn explain(args: &ExplainArgs) -> u8 {
    let Some(rule) = rules::find(&args.rule) else {
        eprintln!("error: no rule named {:?}; `kguard rules` lists them", args.rule);
        return exit::ERROR;
    };
    let mut out = anstream::stdout().lock();
    match write_explanation(&mut out, rule) {
        Ok(()) => exit::CLEAN,
        Err(e) => {
            eprintln!("error: cannot write: {e}");
            exit::ERROR
        }
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
    writeln!(
        out,
        "Suppress it on one object with the annotation `kguard.io/ignore: \"{}\"`, or for a run with `--ignore {}`.",
        rule.id, rule.id
    )?;
    Ok(())
}

/// Lists every rule.
pub fn rules(args: &RulesArgs) -> u8 {
    let mut out = anstream::stdout().lock();
    let result = match args.format {
        RulesFormat::Json => {
            let all: Vec<&RuleMeta> = rules::all().collect();
            serde_json::to_writer_pretty(&mut out, &all).map_err(std::io::Error::other).and_then(|()| writeln!(out))
        }
        RulesFormat::Table => rules::all()
            .try_for_each(|r| writeln!(out, "{:<8} {:<9} {:<40} {}", r.id, r.severity.as_str(), r.name, r.title)),
    };
    match result {
        Ok(()) => exit::CLEAN,
        Err(e) => {
            eprintln!("error: cannot write: {e}");
            exit::ERROR
        }
    }
}
