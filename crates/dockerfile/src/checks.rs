//! The checks, each deciding exactly what the Trivy check of the same number decides (Trivy
//! v0.59.1, trivy-checks v1.6.1) on the instruction model of [`crate::parse`]. Where Trivy's
//! logic has a quirk it is kept, and the rule's `what` says so. The messages are ours.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use kguard_model::Pos;
use kguard_report::RuleMeta;
use regex::Regex;

use crate::catalogue as c;
use crate::parse::{Command, Dockerfile, Stage};
use crate::shell;

/// One result: the rule, where (an instruction, or the whole file), and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The rule.
    pub rule: &'static RuleMeta,
    /// The instruction's keyword; `None` for a finding about the whole file.
    pub pos: Option<Pos>,
    /// The message.
    pub message: String,
}

/// Go's `\s` (RE2, ASCII): `[\t\n\f\r ]`.
const S: &str = r"[\t\n\f\r ]";

fn re(pattern: &str) -> Option<Regex> {
    Regex::new(&pattern.replace("\\s", S)).ok()
}

fn is_match(re: &LazyLock<Option<Regex>>, s: &str) -> bool {
    re.as_ref().is_some_and(|r| r.is_match(s))
}

fn split<'a>(re: &LazyLock<Option<Regex>>, s: &'a str) -> Vec<&'a str> {
    re.as_ref().map_or_else(|| vec![s], |r| r.split(s).collect())
}

static AND_AND: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"\s*&&\s*"));
static AS_WORD: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"\s+as\s+"));
static ARG_EQ: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"\s*=\s*"));
static VAR_REF: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"\$\{[^}]+\}|\$[a-zA-Z_][a-zA-Z0-9_]*"));
static ROOT: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"^root(:.+){0,1}$"));
static UID0: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"^0(:.+){0,1}$"));
static ABSOLUTE: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r#"^["']?(/[A-z0-9\-_+]*)|([A-z0-9\-_+]:\\.*)|(\$[{}A-z0-9\-_+].*)"#));
static SUDO: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"^\s*sudo"));
static WGET: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"^( )*wget"));
static CURL: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"^( )*curl"));
static DIST_UPGRADE: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"apt-get .* dist-upgrade"));

const DNF_INSTALL: &str =
    r"(dnf install)|(dnf in)|(dnf reinstall)|(dnf rei)|(dnf install-n)|(dnf install-na)|(dnf install-nevra)";
static DNF: LazyLock<Option<Regex>> = LazyLock::new(|| re(DNF_INSTALL));
static DNF_ALL: LazyLock<Option<Regex>> = LazyLock::new(|| re(&format!("{DNF_INSTALL}|(dnf clean all)")));
const MICRODNF_INSTALL: &str = r"(microdnf install)|(microdnf reinstall)";
static MICRODNF: LazyLock<Option<Regex>> = LazyLock::new(|| re(MICRODNF_INSTALL));
static MICRODNF_ALL: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(&format!("{MICRODNF_INSTALL}|(microdnf clean all)")));
const ZYPPER_INSTALL: &str = r"(zypper in)|(zypper remove)|(zypper rm)|(zypper source-install)|(zypper si)|(zypper patch)|(zypper (-(-)?[a-zA-Z]+ *)*install)";
static ZYPPER: LazyLock<Option<Regex>> = LazyLock::new(|| re(ZYPPER_INSTALL));
static ZYPPER_ALL: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(&format!("{ZYPPER_INSTALL}|(zypper clean)|(zypper cc)")));

static APT_INSTALL: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"apt-get (-(-)?[a-zA-Z]+ *)*install(-(-)?[a-zA-Z]+ *)*"));
const OTHER_FLAGS: &str = r"\s*(-(-)?[a-zA-Z]+\s*)*";
const PKGS: &str = r"([a-z0-9][a-z0-9+\-.]+(?:=[0-9A-Za-z_.+\-~:]+)?\s*)*";

/// The three places Trivy looks for a flag of `apt-get install`: before `install`, right after
/// it, or after the package names.
fn apt_flag_patterns(flag: &str) -> [Option<Regex>; 3] {
    let combined = format!("{OTHER_FLAGS}{flag}{OTHER_FLAGS}");
    [
        re(&format!("apt-get{combined}install")),
        re(&format!("apt-get{OTHER_FLAGS}install{combined}")),
        re(&format!("apt-get{OTHER_FLAGS}install{OTHER_FLAGS}{PKGS}{combined}")),
    ]
}
static APT_YES: LazyLock<[Option<Regex>; 3]> =
    LazyLock::new(|| apt_flag_patterns(r"((-([a-xzA-XZ])*y([a-xzA-XZ])*)|(--yes)|(--assume-yes))"));
static APT_NO_RECOMMENDS: LazyLock<[Option<Regex>; 3]> = LazyLock::new(|| apt_flag_patterns("--no-install-recommends"));

static SECRET_KEY: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(r"(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|passwd|password|psw|pword|secret|token|usr)(?:_|$)")
});
static PUBLIC_KEY: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"(?i)(?:_|^)(?:public)(?:_|$)"));
static CREDENTIAL_SETUP: LazyLock<Vec<Option<Regex>>> = LazyLock::new(|| {
    [
        "aws configure set aws_access_key_id",
        "aws configure set aws_secret_access_key",
        "gcloud auth activate-service-account",
        r"az login.*(?:-p|--password|--federated-token)\s",
        r"doctl auth init.*(?:-t|--access-token)\s",
    ]
    .iter()
    .map(|p| re(p))
    .collect()
});

/// Trivy's list of environment variables that hold credentials.
const SECRET_ENVS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
    "OPENAI_API_KEY",
    "HF_TOKEN",
    "DIGITALOCEAN_ACCESS_TOKEN",
    "DOCKERHUB_PASSWORD",
    "FIREBASE_TOKEN",
    "CI_DEPLOY_PASSWORD",
    "GOOGLE_API_KEY",
    "LANGSMITH_API_KEY",
    "LANGCHAIN_API_KEY",
    "HEROKU_API_KEY",
];
/// Environment variables that name a credentials file.
const SECRET_FILE_ENVS: &[&str] = &["AWS_CONFIG_FILE", "HF_TOKEN_PATH", "GOOGLE_APPLICATION_CREDENTIALS"];

/// Runs every check; results in check order, duplicates (same rule, place and message) once.
#[must_use]
pub fn run(df: &Dockerfile) -> Vec<Hit> {
    let mut out = Out(Vec::new());
    latest_tag(df, &mut out);
    root_user(df, &mut out);
    for cmd in df.commands() {
        per_command(cmd, &mut out);
    }
    for stage in &df.stages {
        copy_from_self(stage, &mut out);
        for (keyword, rule) in [("entrypoint", &c::DF007), ("cmd", &c::DF016), ("healthcheck", &c::DF023)] {
            let all: Vec<&Command> = stage.commands.iter().filter(|x| x.cmd == keyword).collect();
            if let Some(second) = all.get(1) {
                let n = all.len();
                let upper = keyword.to_ascii_uppercase();
                out.hit(rule, Some(second), format!("{n} {upper} instructions in one stage: only the last one counts"));
            }
        }
    }
    duplicate_alias(df, &mut out);
    wget_and_curl(df, &mut out);
    if !df.commands().any(|x| x.cmd == "healthcheck") {
        out.hit(&c::DF026, None, "no HEALTHCHECK instruction: the container's health is not checked".to_owned());
    }
    secrets(df, &mut out);
    out.0
}

struct Out(Vec<Hit>);

impl Out {
    fn hit(&mut self, rule: &'static RuleMeta, cmd: Option<&Command>, message: String) {
        let hit = Hit { rule, pos: cmd.map(|x| x.pos), message };
        if !self.0.contains(&hit) {
            self.0.push(hit);
        }
    }
}

fn per_command(cmd: &Command, out: &mut Out) {
    let first = cmd.value.first().map(String::as_str);
    let joined = cmd.value.join(" ");
    match cmd.cmd.as_str() {
        "expose" => {
            if cmd.value.iter().any(|v| matches!(v.as_str(), "22" | "22/tcp" | "22/udp")) {
                out.hit(&c::DF004, Some(cmd), "EXPOSE 22: the image offers SSH".to_owned());
            }
            for v in &cmd.value {
                let port = v.split('/').next().unwrap_or("");
                if let Some(n) = to_number(port).filter(|n| *n > 65535.0) {
                    out.hit(&c::DF008, Some(cmd), format!("EXPOSE {v}: port {n} is above 65535"));
                }
            }
        }
        "add" => {
            let archive_or_remote = [".tar", "http://", "https://", "git@"].iter().any(|p| joined.contains(p));
            if !archive_or_remote && !is_hash_form(&cmd.value) {
                out.hit(&c::DF005, Some(cmd), format!("ADD {joined}: a plain copy; COPY says so"));
            }
        }
        "copy" => {
            if cmd.value.len() > 2
                && !is_hash_form(&cmd.value)
                && let Some(dest) = cmd.value.last().filter(|d| !d.ends_with('/'))
            {
                out.hit(
                    &c::DF011,
                    Some(cmd),
                    format!("COPY of several sources to {dest:?}, which does not end with /"),
                );
            }
        }
        "workdir" => {
            if let Some(dir) = first {
                if !is_match(&ABSOLUTE, dir) {
                    out.hit(&c::DF009, Some(cmd), format!("WORKDIR {dir}: a relative path"));
                }
                let trimmed = dir.trim_matches('"');
                if ["/proc/", "/boot/", "/dev/", "/initrd/", "/lost+found/"].iter().any(|d| trimmed.starts_with(d)) {
                    out.hit(&c::DF030, Some(cmd), format!("WORKDIR {dir}: a system directory"));
                }
            }
        }
        "maintainer" => {
            out.hit(&c::DF022, Some(cmd), format!("MAINTAINER {}: deprecated", first.unwrap_or("")));
        }
        "run" => run_checks(cmd, first, &joined, out),
        _ => {}
    }
}

fn run_checks(cmd: &Command, first: Option<&str>, joined: &str, out: &mut Out) {
    if let [only] = cmd.value.as_slice()
        && only.split("&&").any(|part| is_match(&SUDO, part))
    {
        out.hit(&c::DF010, Some(cmd), "RUN with sudo".to_owned());
    }
    if cmd.value.iter().any(|v| split(&AND_AND, v).iter().any(|p| p.starts_with("cd "))) {
        out.hit(&c::DF013, Some(cmd), format!("RUN {joined}: cd to change directory"));
    }
    if let Some(arg) = first {
        for (install, all, clean, rule, tool) in [
            (&DNF, &DNF_ALL, &["dnf clean all"][..], &c::DF019, "dnf"),
            (&MICRODNF, &MICRODNF_ALL, &["microdnf clean all"][..], &c::DF027, "microdnf"),
            (&ZYPPER, &ZYPPER_ALL, &["zypper clean", "zypper cc"][..], &c::DF020, "zypper"),
        ] {
            if is_match(install, arg) {
                let last = all.as_ref().and_then(|r| r.find_iter(arg).last()).map(|m| m.as_str());
                if !last.is_some_and(|l| clean.contains(&l)) {
                    out.hit(rule, Some(cmd), format!("RUN {arg}: {tool} installs without cleaning its cache after"));
                }
            }
        }
        if is_match(&DIST_UPGRADE, arg) {
            out.hit(&c::DF024, Some(cmd), "RUN apt-get dist-upgrade".to_owned());
        }
    }
    if !cmd.value.is_empty() && is_match(&APT_INSTALL, joined) {
        let has = |patterns: &[Option<Regex>; 3]| patterns.iter().flatten().any(|r| r.is_match(joined));
        if !has(&APT_YES) {
            out.hit(&c::DF021, Some(cmd), format!("RUN {joined}: apt-get install without -y"));
        }
        if !has(&APT_NO_RECOMMENDS) {
            out.hit(&c::DF029, Some(cmd), format!("RUN {joined}: apt-get install without --no-install-recommends"));
        }
    }
    // yum and update-alone read the commands as Trivy's `docker.split_cmd` does: split at `&&`,
    // then at each single space.
    let cmds: Vec<Vec<String>> =
        split(&AND_AND, joined).iter().map(|c| c.split(' ').map(str::to_owned).collect()).collect();
    // yum
    let installs = command_indexes(&cmds, &["install"], &["yum"]);
    if let Some(&last_install) = installs.last() {
        let clean_all: Vec<usize> =
            (0..cmds.len()).filter(|&i| cmds.get(i).is_some_and(|w| has_word(w, "all"))).collect();
        if clean_all.last().is_none_or(|&c| last_install >= c) {
            out.hit(&c::DF015, Some(cmd), format!("RUN {joined}: yum install without yum clean all after"));
        }
    }
    // An update not followed by an install of the same package manager.
    const INSTALL: &[&str] =
        &["upgrade", "install", "source-install", "reinstall", "groupinstall", "localinstall", "add"];
    for pm in [&["apt-get", "apt"][..], &["yum"], &["apk"], &["dnf"], &["zypper"]] {
        let updates = command_indexes(&cmds, &["update", "up"], pm);
        if updates.is_empty() {
            continue;
        }
        let installs = command_indexes(&cmds, INSTALL, pm);
        if !updates.iter().any(|u| installs.iter().any(|i| u < i)) {
            out.hit(&c::DF017, Some(cmd), format!("RUN {joined}: a package index update without an install after it"));
        }
    }
    // apk add without --no-cache: the shell's simple commands.
    let Some(cmds) = shell::commands(joined) else { return };
    for tokens in &cmds {
        let is_apk = tokens.first().is_some_and(|t| t == "apk");
        let no_flags: Vec<&String> = tokens.iter().filter(|t| !t.starts_with('-')).collect();
        if is_apk && no_flags.get(1).is_some_and(|t| *t == "add") && !has_word(tokens, "--no-cache") {
            out.hit(&c::DF025, Some(cmd), format!("RUN {joined}: apk add without --no-cache"));
        }
    }
}

fn has_word(words: &[String], w: &str) -> bool {
    words.iter().any(|x| x == w)
}

/// The commands in which a word of `managers` comes before a word of `subcommands`.
fn command_indexes(cmds: &[Vec<String>], subcommands: &[&str], managers: &[&str]) -> Vec<usize> {
    let mut out = Vec::new();
    for (idx, parts) in cmds.iter().enumerate() {
        let first_manager = parts.iter().position(|p| managers.contains(&p.as_str()));
        let last_sub = parts.iter().rposition(|p| subcommands.contains(&p.as_str()));
        if let (Some(i), Some(j)) = (first_manager, last_sub)
            && i < j
        {
            out.push(idx);
        }
    }
    out
}

/// `ADD`/`COPY` as `docker history` shows them: `file:<hash> in <dest>`.
fn is_hash_form(value: &[String]) -> bool {
    match value {
        [a, b, _] => (a.starts_with("file:") || a.starts_with("multi:")) && b == "in",
        _ => false,
    }
}

/// OPA's `to_number` on a string (Go's `strconv.ParseFloat`), `None` where it fails.
fn to_number(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if body.is_empty() || body.starts_with("inf") || body.starts_with("nan") {
        return None;
    }
    s.parse::<f64>().ok()
}

/// DS001.
fn latest_tag(df: &Dockerfile, out: &mut Out) {
    let aliases: Vec<&str> = df
        .commands()
        .filter(|x| x.cmd == "from")
        .flat_map(|x| {
            x.value
                .iter()
                .zip(x.value.iter().skip(1))
                .filter(|(a, _)| a.eq_ignore_ascii_case("as"))
                .map(|(_, alias)| alias.as_str())
        })
        .collect();
    let Some(global) = df.stages.first().map(stage_args) else { return };
    let Ok(global) = global else { return };
    let mut hits = Vec::new();
    for (i, stage) in df.stages.iter().enumerate() {
        let froms: Vec<&Command> = stage.commands.iter().filter(|x| x.cmd == "from").collect();
        if froms.is_empty() {
            continue;
        }
        let mut vars = global.clone();
        if i != 0 {
            // An ARG given two different defaults in one stage is an error in Trivy's check:
            // it then reports nothing for the file.
            let Ok(own) = stage_args(stage) else { return };
            vars.extend(own);
        }
        for from in froms {
            let Some(reference) = from.value.first() else { continue };
            let Some((image, tag)) = image_and_tag(reference, &vars) else { continue };
            if image != "scratch" && !aliases.contains(&image.as_str()) && tag == "latest" {
                let what = if reference.contains(':') { "the `latest` tag" } else { "no tag, so `latest`" };
                let shown =
                    if reference.contains('$') { format!("{reference} (= {image:?})") } else { reference.clone() };
                hits.push((from, format!("FROM {shown}: {what}")));
            }
        }
    }
    for (from, message) in hits {
        out.hit(&c::DF001, Some(from), message);
    }
}

/// A stage's `ARG name=default` values (the first word of each `ARG`).
fn stage_args(stage: &Stage) -> Result<BTreeMap<String, String>, ()> {
    let mut vars = BTreeMap::new();
    for arg in stage.commands.iter().filter(|x| x.cmd == "arg") {
        let Some(raw) = arg.value.first() else { continue };
        let parts = split(&ARG_EQ, raw);
        let (name, value) = match parts.as_slice() {
            [name, value] => ((*name).to_owned(), value.trim_matches('"').to_owned()),
            _ => (raw.clone(), String::new()),
        };
        match vars.get(&name) {
            Some(old) if *old != value => return Err(()),
            _ => {
                vars.insert(name, value);
            }
        }
    }
    Ok(vars)
}

fn var_name(reference: &str) -> &str {
    match reference.strip_prefix("${") {
        Some(rest) => rest.strip_suffix('}').unwrap_or(rest),
        None => reference.strip_prefix('$').unwrap_or(reference),
    }
}

/// `$NAME` and `${...}` replaced by the stage's ARG defaults (unknown: empty), each replacement
/// tried in sorted order at each position, as OPA's `strings.replace_n` does.
fn substitute(s: &str, vars: &BTreeMap<String, String>) -> String {
    let Some(re) = VAR_REF.as_ref() else { return s.to_owned() };
    let mut refs: Vec<&str> = re.find_iter(s).map(|m| m.as_str()).collect();
    refs.sort_unstable();
    refs.dedup();
    if refs.is_empty() {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    'outer: while !rest.is_empty() {
        for r in &refs {
            if let Some(after) = rest.strip_prefix(r) {
                out.push_str(vars.get(var_name(r)).map_or("", String::as_str));
                rest = after;
                continue 'outer;
            }
        }
        let mut chars = rest.chars();
        if let Some(ch) = chars.next() {
            out.push(ch);
        }
        rest = chars.as_str();
    }
    out
}

fn parse_tag(name: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = name.split(':').collect();
    match parts.as_slice() {
        [image] => Some(((*image).to_owned(), "latest".to_owned())),
        [image, tag] => Some(((*image).to_owned(), (*tag).to_owned())),
        _ => None,
    }
}

fn image_and_tag(reference: &str, vars: &BTreeMap<String, String>) -> Option<(String, String)> {
    if !reference.contains('$') {
        return parse_tag(reference);
    }
    let resolved = substitute(reference, vars);
    if !resolved.contains(':') {
        let ends_with_var =
            VAR_REF.as_ref().is_some_and(|re| re.find_iter(&resolved).any(|m| resolved.ends_with(m.as_str())));
        return if ends_with_var { None } else { parse_tag(&resolved) };
    }
    let (image, tag) = parse_tag(&resolved)?;
    (!tag.contains('$')).then_some((image, tag))
}

/// DS002.
fn root_user(df: &Dockerfile, out: &mut Out) {
    let users: Vec<&Command> = df.commands().filter(|x| x.cmd == "user").collect();
    let Some(last) = users.last() else {
        out.hit(&c::DF002, None, "no USER instruction: the image runs as root".to_owned());
        return;
    };
    let name = last.value.first().map_or("", String::as_str);
    if is_match(&ROOT, name) || is_match(&UID0, name) {
        out.hit(&c::DF002, Some(last), format!("USER {name}: the last USER is root"));
    }
}

/// DS006.
fn copy_from_self(stage: &Stage, out: &mut Out) {
    let name = stage.name.to_lowercase();
    let parts = split(&AS_WORD, &name);
    let [_, alias] = parts.as_slice() else { return };
    for copy in stage.commands.iter().filter(|x| x.cmd == "copy") {
        for flag in copy.flags.iter().filter(|f| f.contains("--from=")) {
            let Some(from) = flag.split('=').nth(1) else { continue };
            if from.to_lowercase() == *alias {
                out.hit(&c::DF006, Some(copy), format!("COPY --from={from}: the stage being built"));
            }
        }
    }
}

/// DS012.
fn duplicate_alias(df: &Dockerfile, out: &mut Out) {
    let named: Vec<(String, &Command)> = df
        .stages
        .iter()
        .filter_map(|s| Some((s.name.to_lowercase(), s.commands.first()?)))
        .filter(|(n, _)| n.contains(" as "))
        .collect();
    let alias = |n: &str| match split(&AS_WORD, n).as_slice() {
        [_, a] => Some((*a).to_owned()),
        _ => None,
    };
    for (arg1, cmd1) in &named {
        for (arg2, cmd2) in &named {
            if arg1 == arg2 || cmd1.pos.line >= cmd2.pos.line {
                continue;
            }
            if let (Some(a1), Some(a2)) = (alias(arg1), alias(arg2))
                && a1 == a2
            {
                out.hit(&c::DF012, Some(cmd1), format!("stage name {a1:?} is used again on line {}", cmd2.pos.line));
            }
        }
    }
}

/// DS014: each shell-form RUN that uses wget, when some RUN uses curl.
fn wget_and_curl(df: &Dockerfile, out: &mut Out) {
    let uses = |cmd: &Command, re: &LazyLock<Option<Regex>>| match cmd.value.as_slice() {
        [only] => split(&AND_AND, only).iter().any(|p| !p.contains("install ") && is_match(re, p)),
        _ => false,
    };
    let runs: Vec<&Command> = df.commands().filter(|x| x.cmd == "run").collect();
    let curl =
        runs.iter().any(|r| uses(r, &CURL) || (r.value.len() > 1 && r.value.first().is_some_and(|v| v == "curl")));
    if !curl {
        return;
    }
    for run in runs.iter().filter(|r| uses(r, &WGET)) {
        out.hit(&c::DF014, Some(run), "RUN with wget, while another RUN uses curl".to_owned());
    }
}

/// DS031, in the last stage.
fn secrets(df: &Dockerfile, out: &mut Out) {
    let Some(last) = df.stages.last() else { return };
    let copies: Vec<&Command> = last.commands.iter().filter(|x| x.cmd == "copy").collect();
    for cmd in &last.commands {
        match cmd.cmd.as_str() {
            "arg" | "env" => {
                let upper = cmd.cmd.to_ascii_uppercase();
                for (name, default) in names_and_defaults(cmd) {
                    if is_secret(&name) {
                        out.hit(&c::DF031, Some(cmd), format!("{upper} {name}: a credential in the image"));
                    }
                    if !default.is_empty()
                        && SECRET_FILE_ENVS.contains(&name.as_str())
                        && copies.iter().any(|c| c.value.last().is_some_and(|dst| is_sub_path(&default, dst)))
                    {
                        out.hit(
                            &c::DF031,
                            Some(cmd),
                            format!("{upper} {name}: names a credentials file copied into the image"),
                        );
                    }
                }
            }
            "copy" => {
                if let [_, dest] = cmd.value.as_slice() {
                    let env = dest.strip_prefix('$').unwrap_or(dest);
                    if SECRET_FILE_ENVS.contains(&env) {
                        out.hit(&c::DF031, Some(cmd), format!("COPY to ${env}: a credentials file in the image"));
                    }
                }
            }
            "run" => {
                let mounted = cmd.flags.iter().any(|f| f.starts_with("--mount=type=secret"));
                if !mounted && cmd.value.iter().any(|v| CREDENTIAL_SETUP.iter().flatten().any(|re| re.is_match(v))) {
                    out.hit(&c::DF031, Some(cmd), "RUN stores credentials in a layer (no secret mount)".to_owned());
                }
            }
            _ => {}
        }
    }
}

fn names_and_defaults(cmd: &Command) -> Vec<(String, String)> {
    if cmd.cmd == "env" {
        if !cmd.value.len().is_multiple_of(3) {
            return Vec::new();
        }
        return cmd.value.chunks(3).filter_map(|p| Some((p.first()?.clone(), p.get(1)?.clone()))).collect();
    }
    cmd.value
        .iter()
        .filter_map(|w| {
            let parts: Vec<&str> = w.split('=').collect();
            match parts.as_slice() {
                [name] => Some(((*name).to_owned(), String::new())),
                [name, value] => Some(((*name).to_owned(), (*value).to_owned())),
                _ => None,
            }
        })
        .collect()
}

fn is_secret_env(name: &str) -> bool {
    SECRET_ENVS.contains(&name)
        || ["VITE_", "REACT_APP_"]
            .iter()
            .any(|cutset| SECRET_ENVS.contains(&name.trim_start_matches(|ch: char| cutset.contains(ch))))
}

fn is_secret(name: &str) -> bool {
    is_secret_env(name)
        || (!SECRET_FILE_ENVS.contains(&name) && is_match(&SECRET_KEY, name) && !is_match(&PUBLIC_KEY, name))
}

fn clean_path(p: &str) -> &str {
    let p = p.strip_suffix('"').unwrap_or(p);
    let p = p.strip_prefix('"').unwrap_or(p);
    let p = p.strip_prefix('.').unwrap_or(p);
    let p = p.strip_prefix('/').unwrap_or(p);
    p.strip_suffix('/').unwrap_or(p)
}

fn is_sub_path(a: &str, b: &str) -> bool {
    clean_path(a).starts_with(clean_path(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for r in [
            &AND_AND,
            &AS_WORD,
            &ARG_EQ,
            &VAR_REF,
            &ROOT,
            &UID0,
            &ABSOLUTE,
            &SUDO,
            &WGET,
            &CURL,
            &DIST_UPGRADE,
            &DNF,
            &DNF_ALL,
            &MICRODNF,
            &MICRODNF_ALL,
            &ZYPPER,
            &ZYPPER_ALL,
            &APT_INSTALL,
            &SECRET_KEY,
            &PUBLIC_KEY,
        ] {
            assert!(r.is_some());
        }
        assert!(APT_YES.iter().chain(APT_NO_RECOMMENDS.iter()).all(Option::is_some));
        assert!(CREDENTIAL_SETUP.iter().all(Option::is_some));
    }

    #[test]
    fn workdir_pattern_reads_like_go() {
        for ok in ["/app", "\"/app\"", "'/x'", "$HOME/x", "a/${X}", "c:\\x", "/"] {
            assert!(is_match(&ABSOLUTE, ok), "{ok}");
        }
        for bad in ["app", "~/x", "./x", "a/b"] {
            assert!(!is_match(&ABSOLUTE, bad), "{bad}");
        }
    }

    #[test]
    fn apt_flags_found_where_trivy_finds_them() {
        let yes = |s: &str| APT_YES.iter().flatten().any(|r| r.is_match(s));
        assert!(yes("apt-get install -y curl"));
        assert!(yes("apt-get -qy install curl"));
        assert!(yes("apt-get install curl wget -y"));
        assert!(yes("apt-get install --yes curl"));
        assert!(!yes("apt-get install curl"));
        let nr = |s: &str| APT_NO_RECOMMENDS.iter().flatten().any(|r| r.is_match(s));
        assert!(nr("apt-get install -y --no-install-recommends curl"));
        assert!(!nr("apt-get install -y curl"));
    }

    #[test]
    fn arg_substitution() {
        let vars: BTreeMap<String, String> = [("A".to_owned(), "img".to_owned())].into();
        assert_eq!(substitute("${A}:$B", &vars), "img:");
        assert_eq!(image_and_tag("$A", &vars), Some(("img".into(), "latest".into())));
        assert_eq!(image_and_tag("$NOPE", &vars), Some((String::new(), "latest".into())));
        assert_eq!(image_and_tag("a:b:c", &vars), None);
    }
}
