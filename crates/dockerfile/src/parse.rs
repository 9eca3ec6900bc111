//! The Dockerfile grammar as BuildKit's parser reads it (`moby/buildkit`
//! `frontend/dockerfile/parser`), and the instruction model Trivy's Dockerfile scanner builds from
//! it (stages of commands with their lower-case keyword, flags, values and line range).
//!
//! What is reproduced:
//! * parser directives (`# escape=`, `# syntax=`, `# check=`) before the first instruction,
//!   comment or empty line; the escape token `\` or `` ` ``;
//! * instructions case-insensitive; line continuations (the escape token, then only blanks, at
//!   the end of a line); comment lines and empty lines inside a continuation are dropped;
//! * each instruction's arguments split as BuildKit splits them: JSON (exec) form or shell form
//!   for `RUN`, `CMD`, `ENTRYPOINT`, `SHELL`; JSON or whitespace-separated words for `ADD`,
//!   `COPY`, `VOLUME`; words with quotes kept for `ARG`; `name value` or `name=value ...` for
//!   `ENV` and `LABEL`; the leading `--flag[=value]` words kept apart as flags;
//! * here-documents (`<<EOF`, `<<-EOF`, quoted names, several per line) after `RUN`, `COPY` and
//!   `ADD` in shell form, read up to their terminator line;
//! * multi-stage builds: a stage starts at each `FROM`; instructions before the first `FROM`
//!   (global `ARG`s) form a stage of their own, as in Trivy's model;
//! * the checks BuildKit makes when it turns the parsed lines into instructions (unknown
//!   instruction, unknown flag, wrong number of arguments, bad stage name): each makes the whole
//!   file unreadable, as it does for `docker build` and for Trivy.
//!
//! Every instruction keeps the line and column of its keyword and the line it ends on. Errors
//! name a line and column. Nothing panics, and the work is linear in the input: a logical line
//! (an instruction and its continuations) and a here-document are capped in size.

use std::fmt;

use kguard_model::Pos;

/// The longest logical line (an instruction with its continuation lines), in bytes.
pub const MAX_LOGICAL_LINE: usize = 4 * 1024 * 1024;
/// The longest here-document, in bytes.
pub const MAX_HEREDOC: usize = 16 * 1024 * 1024;
/// The most instructions in one file.
pub const MAX_INSTRUCTIONS: usize = 100_000;

/// A parsed Dockerfile: its stages in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dockerfile {
    /// The escape token in effect (`\` unless a `# escape=` directive says `` ` ``).
    pub escape: char,
    /// Stages in order. Instructions before the first `FROM` are a stage named `""`.
    pub stages: Vec<Stage>,
}

impl Dockerfile {
    /// Every command of every stage, in file order.
    pub fn commands(&self) -> impl Iterator<Item = &Command> {
        self.stages.iter().flat_map(|s| s.commands.iter())
    }
}

/// One build stage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stage {
    /// What follows `FROM ` on the stage's first line, as Trivy names a stage (e.g.
    /// `golang:1.22 AS build`); empty for the instructions before the first `FROM`.
    pub name: String,
    /// Its instructions, the `FROM` first.
    pub commands: Vec<Command>,
}

/// One instruction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command {
    /// The keyword, lower-cased (`run`, `from`, `onbuild`, ...).
    pub cmd: String,
    /// For `ONBUILD`: the keyword of the instruction it holds, lower-cased.
    pub sub_cmd: Option<String>,
    /// The logical line: the instruction with its continuation lines joined (continuation
    /// characters, comment lines and empty lines removed), without here-documents.
    pub original: String,
    /// The `--flag[=value]` words before the arguments, as written (quotes removed).
    pub flags: Vec<String>,
    /// The arguments (Trivy's `Value`): see the module documentation for how each instruction
    /// splits them. A `RUN` with here-documents has one value (see [`run_heredoc_value`]).
    pub value: Vec<String>,
    /// Written in JSON (exec) form.
    pub json: bool,
    /// Here-documents, in order.
    pub heredocs: Vec<Heredoc>,
    /// Line and column of the keyword.
    pub pos: Pos,
    /// The last line of the instruction (continuations and here-documents included).
    pub end_line: u32,
}

/// A here-document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Heredoc {
    /// Its name (the terminator word, quotes removed).
    pub name: String,
    /// `<<-`: leading tabs are stripped from its lines and from the terminator.
    pub chomp: bool,
    /// Its lines, each followed by `\n`, as written.
    pub content: String,
}

/// Why a Dockerfile cannot be read: where, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Line and column (of the instruction, or of the offending line).
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)
    }
}

impl std::error::Error for ParseError {}

fn err(pos: Pos, message: impl Into<String>) -> ParseError {
    ParseError { pos, message: message.into() }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// BuildKit's `reWhitespace`: `[\t\v\f\r ]+`.
const fn is_ws(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// The lines of a text as `bufio.Scanner` yields them: split at `\n`, a final `\r` removed
/// (`trimNewline`), no empty last line after a final newline.
fn lines(text: &str) -> Vec<&str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut v: Vec<&str> = text.split('\n').collect();
    if text.ends_with('\n') || text.is_empty() {
        v.pop();
    }
    v
}

fn trim_cr(s: &str) -> &str {
    s.strip_suffix('\r').unwrap_or(s)
}

/// Parser directives: `# key=value` lines at the very top.
struct Directives {
    escape: char,
    done: bool,
    seen: Vec<String>,
}

impl Directives {
    /// BuildKit's `^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$` on a line whose leading
    /// blanks are removed.
    fn see(&mut self, line: &str, pos: Pos) -> Result<(), ParseError> {
        if self.done {
            return Ok(());
        }
        let Some((key, value)) = directive(line) else {
            self.done = true;
            return Ok(());
        };
        let key = key.to_ascii_lowercase();
        if !matches!(key.as_str(), "escape" | "syntax" | "check") {
            self.done = true;
            return Ok(());
        }
        if self.seen.contains(&key) {
            return Err(err(pos, format!("only one {key} parser directive can be used")));
        }
        self.seen.push(key.clone());
        if key == "escape" {
            self.escape = match value {
                "\\" => '\\',
                "`" => '`',
                other => return Err(err(pos, format!("invalid escape token {other:?}: it must be ` or \\"))),
            };
        }
        Ok(())
    }
}

fn directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start_matches([' ', '\t']);
    let key_len = rest.char_indices().find(|(i, c)| !(c.is_ascii_alphabetic() || (*i > 0 && c.is_ascii_digit())));
    let key_end = key_len.map_or(rest.len(), |(i, _)| i);
    let key = rest.get(..key_end).filter(|k| !k.is_empty())?;
    let after = rest.get(key_end..)?.trim_start_matches([' ', '\t']).strip_prefix('=')?;
    let value = after.trim_start_matches([' ', '\t']).trim_end_matches([' ', '\t']);
    (!value.is_empty()).then_some((key, value))
}

/// Removes the continuation token (the escape token followed only by blanks) at the end of a
/// line: the line and whether the instruction ends here.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    match body.strip_suffix(escape) {
        Some(kept) => (kept, false),
        None => (line, true),
    }
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Parses a Dockerfile.
///
/// # Errors
/// The first problem that makes the file unreadable for BuildKit (and so for Trivy), with its
/// line and column.
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    let lines = lines(text);
    let mut d = Directives { escape: '\\', done: false, seen: Vec::new() };
    let mut nodes: Vec<Node> = Vec::new();
    let mut i = 0;
    while let Some(raw) = lines.get(i) {
        i += 1;
        let line_no = to_u32(i);
        let raw = trim_cr(raw);
        let token = raw.trim_start();
        let lead = raw.len() - token.len();
        let column = to_u32(raw.get(..lead).map_or(0, |s| s.chars().count()) + 1);
        let pos = Pos::new(line_no, column);
        d.see(token, pos)?;
        if token.starts_with('#') {
            continue;
        }
        let (first, mut eol) = trim_continuation(token, d.escape);
        if eol && first.is_empty() {
            continue;
        }
        let mut line = first.to_owned();
        while !eol {
            let Some(next) = lines.get(i) else { break };
            i += 1;
            let next = trim_cr(next);
            if is_comment(next) || next.trim_start().is_empty() {
                continue;
            }
            let (piece, end) = trim_continuation(next, d.escape);
            eol = end;
            line.push_str(piece);
            if line.len() > MAX_LOGICAL_LINE {
                return Err(err(pos, format!("instruction longer than {MAX_LOGICAL_LINE} bytes")));
            }
        }
        let mut node = node_from_line(&line, d.escape).map_err(|m| err(pos, m))?;
        node.pos = pos;
        if node.can_contain_heredoc() && line.contains("<<") {
            for (name, chomp) in heredocs_in(&line) {
                let mut content = String::new();
                let mut terminated = false;
                while let Some(next) = lines.get(i) {
                    i += 1;
                    let candidate = trim_cr(next);
                    let candidate = if chomp { candidate.trim_start_matches('\t') } else { candidate };
                    if candidate == name {
                        terminated = true;
                        break;
                    }
                    content.push_str(next);
                    content.push('\n');
                    if content.len() > MAX_HEREDOC {
                        return Err(err(pos, format!("here-document {name:?} longer than {MAX_HEREDOC} bytes")));
                    }
                }
                if !terminated {
                    return Err(err(pos, format!("unterminated here-document {name:?}: no line {name:?} ends it")));
                }
                node.heredocs.push(Heredoc { name, chomp, content });
            }
        }
        node.end_line = to_u32(i);
        nodes.push(node);
        if nodes.len() > MAX_INSTRUCTIONS {
            return Err(err(pos, format!("more than {MAX_INSTRUCTIONS} instructions")));
        }
    }
    if nodes.is_empty() {
        return Err(err(Pos::new(1, 1), "file with no instructions"));
    }
    build(nodes, d.escape)
}

/// One parsed line, before it becomes a [`Command`].
#[derive(Debug, Default)]
struct Node {
    cmd: String,
    original: String,
    flags: Vec<String>,
    value: Vec<String>,
    json: bool,
    sub: Option<Box<Node>>,
    heredocs: Vec<Heredoc>,
    pos: Pos,
    end_line: u32,
}

impl Node {
    fn can_contain_heredoc(&self) -> bool {
        let node = match (&self.sub, self.cmd.as_str()) {
            (Some(sub), "onbuild") => sub,
            _ => self,
        };
        matches!(node.cmd.as_str(), "add" | "copy" | "run") && !node.json
    }
}

/// BuildKit's `newNodeFromLine`: keyword, flags, then the keyword's own argument grammar.
fn node_from_line(line: &str, escape: char) -> Result<Node, String> {
    let trimmed = line.trim();
    let (cmd, rest) = match trimmed.find(is_ws) {
        Some(at) => (trimmed.get(..at).unwrap_or(""), trimmed.get(at..).unwrap_or("").trim_start_matches(is_ws)),
        None => (trimmed, ""),
    };
    let cmd = cmd.to_ascii_lowercase();
    let (args, flags) = builder_flags(rest);
    let args = args.trim();
    let mut node = Node { cmd: cmd.clone(), original: line.to_owned(), flags, ..Node::default() };
    match cmd.as_str() {
        "add" | "copy" | "volume" => (node.value, node.json) = maybe_json_to_list(args)?,
        "arg" => node.value = words(args, escape),
        "cmd" | "entrypoint" | "run" | "shell" => (node.value, node.json) = maybe_json(args)?,
        "env" => node.value = name_val(args, "ENV", escape)?,
        "label" => node.value = name_val(args, "LABEL", escape)?,
        "expose" | "from" => node.value = whitespace_delimited(args),
        "healthcheck" => (node.value, node.json) = health(args)?,
        "maintainer" | "stopsignal" | "user" | "workdir" if !args.is_empty() => node.value = vec![args.to_owned()],
        "onbuild" if !args.is_empty() => node.sub = Some(Box::new(node_from_line(args, escape)?)),
        _ => {}
    }
    Ok(node)
}

/// BuildKit's `extractBuilderFlags`: the leading `--name[=value]` words (quotes and backslashes
/// processed), and the rest of the line from the first word that is not one. A lone `--` ends
/// the flags.
fn builder_flags(line: &str) -> (&str, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(char),
    }
    let mut flags = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut blank_ok = false;
    let mut chars = line.char_indices().peekable();
    loop {
        let Some((pos, ch)) = chars.next() else {
            if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
                flags.push(word);
            }
            return ("", flags);
        };
        if phase == Phase::Spaces {
            if ch.is_whitespace() {
                continue;
            }
            let next = chars.peek().map(|(_, c)| *c);
            if ch != '-' || next != Some('-') {
                return (line.get(pos..).unwrap_or(""), flags);
            }
            phase = Phase::Word;
        }
        match phase {
            Phase::Word => {
                if ch.is_whitespace() {
                    phase = Phase::Spaces;
                    if word == "--" {
                        return (line.get(pos..).unwrap_or(""), flags);
                    }
                    if blank_ok || !word.is_empty() {
                        flags.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    blank_ok = false;
                    continue;
                }
                if ch == '\'' || ch == '"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                    continue;
                }
                if ch == '\\' {
                    match chars.next() {
                        Some((_, c)) => word.push(c),
                        None => continue,
                    }
                    continue;
                }
                word.push(ch);
            }
            Phase::Quote(q) => {
                if ch == q {
                    phase = Phase::Word;
                    continue;
                }
                if ch == '\\' {
                    match chars.next() {
                        Some((_, c)) => word.push(c),
                        None => phase = Phase::Word,
                    }
                    continue;
                }
                word.push(ch);
            }
            Phase::Spaces => {}
        }
    }
}

/// Not a JSON array of strings: a JSON array holding something else is an error; anything else
/// is the shell form.
enum Json {
    Strings(Vec<String>),
    NotJson,
}

fn parse_json(rest: &str) -> Result<Json, String> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Ok(Json::NotJson);
    }
    // Like Go's json.Decoder: the first value is read, whatever follows it is ignored.
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
    match stream.next() {
        Some(Ok(serde_json::Value::Array(items))) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    serde_json::Value::String(s) => out.push(s),
                    _ => return Err("in the JSON (exec) form, the array must hold only strings".to_owned()),
                }
            }
            Ok(Json::Strings(out))
        }
        _ => Ok(Json::NotJson),
    }
}

fn maybe_json(rest: &str) -> Result<(Vec<String>, bool), String> {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    Ok(match parse_json(rest)? {
        Json::Strings(v) => (v, true),
        Json::NotJson => (vec![rest.to_owned()], false),
    })
}

fn maybe_json_to_list(rest: &str) -> Result<(Vec<String>, bool), String> {
    Ok(match parse_json(rest)? {
        Json::Strings(v) => (v, true),
        Json::NotJson => (whitespace_delimited(rest), false),
    })
}

fn whitespace_delimited(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        return Vec::new();
    }
    rest.split(is_ws).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// BuildKit's `parseWords`: whitespace-separated words; quotes group and are kept, the escape
/// token is kept with the character it escapes (nothing is escaped inside single quotes).
#[must_use]
pub fn words(rest: &str, escape: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut blank_ok = false;
    let mut chars = rest.chars().peekable();
    while let Some(ch) = chars.next() {
        if let Some(q) = quote {
            if ch == q {
                quote = None;
            }
            if ch == escape && q != '\'' {
                match chars.next() {
                    Some(c) => {
                        word.push(ch);
                        word.push(c);
                    }
                    None => quote = None,
                }
                continue;
            }
            word.push(ch);
            continue;
        }
        if !in_word {
            if ch.is_whitespace() {
                continue;
            }
            in_word = true;
        }
        if ch.is_whitespace() {
            in_word = false;
            if blank_ok || !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            blank_ok = false;
            continue;
        }
        if ch == '\'' || ch == '"' {
            quote = Some(ch);
            blank_ok = true;
            word.push(ch);
            continue;
        }
        if ch == escape {
            if let Some(c) = chars.next() {
                word.push(ch);
                word.push(c);
            }
            continue;
        }
        word.push(ch);
    }
    if (in_word || quote.is_some()) && (blank_ok || !word.is_empty()) {
        out.push(word);
    }
    out
}

/// `ENV`/`LABEL`: `name value` (old form: one pair, the value is the rest of the line) or
/// `name=value ...`; each pair is three values: name, value, separator (`=` or empty), as
/// BuildKit's nodes are.
fn name_val(rest: &str, key: &str, escape: char) -> Result<Vec<String>, String> {
    let ws = words(rest, escape);
    let Some(first) = ws.first() else { return Ok(Vec::new()) };
    if !first.contains('=') {
        let mut parts = rest.splitn(2, is_ws);
        let name = parts.next().unwrap_or("");
        let value = parts.next().map(|v| v.trim_start_matches(is_ws)).unwrap_or("");
        if value.is_empty() && !rest.contains(is_ws) {
            return Err(format!("{key} must have two arguments"));
        }
        return Ok(vec![name.to_owned(), value.to_owned(), String::new()]);
    }
    let mut out = Vec::with_capacity(ws.len() * 3);
    for w in ws {
        let Some((name, value)) = w.split_once('=') else {
            return Err(format!("{key}: {w:?} has no `=`; the form is name=value"));
        };
        out.extend([name.to_owned(), value.to_owned(), "=".to_owned()]);
    }
    Ok(out)
}

/// `HEALTHCHECK [flags] CMD ...` or `HEALTHCHECK NONE`: the type, then the command.
fn health(rest: &str) -> Result<(Vec<String>, bool), String> {
    let sep = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if sep == 0 {
        return Ok((Vec::new(), false));
    }
    let typ = rest.get(..sep).unwrap_or("");
    let next = rest.get(sep..).unwrap_or("").trim_start();
    let (cmd, json) = maybe_json(next)?;
    let mut value = vec![typ.to_owned()];
    value.extend(cmd);
    Ok((value, json))
}

/// The here-documents a line opens: its shell words of the form `[n]<<[-]NAME`, quotes around
/// the name removed.
fn heredocs_in(line: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for word in shell_words_raw(line) {
        let digits = word.trim_start_matches(|c: char| c.is_ascii_digit());
        let Some(rest) = digits.strip_prefix("<<") else { continue };
        let (chomp, rest) = match rest.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        if rest.is_empty() || rest.contains('<') {
            continue;
        }
        let name = unquote_word(rest);
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            out.push((name, chomp));
        }
    }
    out
}

/// Words split at blanks outside quotes, quotes and backslashes kept.
fn shell_words_raw(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(ch) = chars.next() {
        match quote {
            Some(q) => {
                word.push(ch);
                if ch == q {
                    quote = None;
                } else if ch == '\\'
                    && q == '"'
                    && let Some(c) = chars.next()
                {
                    word.push(c);
                }
            }
            None if ch.is_whitespace() => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            None => {
                word.push(ch);
                if ch == '\'' || ch == '"' {
                    quote = Some(ch);
                } else if ch == '\\'
                    && let Some(c) = chars.next()
                {
                    word.push(c);
                }
            }
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// One shell word with its quotes and backslashes processed; `None` if it is more than one
/// word or an unterminated quote.
fn unquote_word(word: &str) -> Option<String> {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut chars = word.chars();
    while let Some(ch) = chars.next() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some('"') if ch == '\\' => out.push(chars.next()?),
            Some(_) => out.push(ch),
            None if ch == '\'' || ch == '"' => quote = Some(ch),
            None if ch == '\\' => out.push(chars.next()?),
            None if ch.is_whitespace() => return None,
            None => out.push(ch),
        }
    }
    quote.is_none().then_some(out)
}

/// The flags each instruction accepts (BuildKit's, as the Trivy release we compare with has them).
fn allowed_flags(cmd: &str) -> &'static [&'static str] {
    match cmd {
        "from" => &["platform"],
        "run" => &["mount", "network"],
        "copy" => &["from", "chown", "chmod", "link"],
        "add" => &["chown", "chmod", "link", "keep-git-dir", "checksum"],
        "healthcheck" => &["interval", "timeout", "start-period", "start-interval", "retries"],
        _ => &[],
    }
}

const KNOWN: &[&str] = &[
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// BuildKit's `instructions.ParseInstruction` checks (those that can fail on a parsed line).
fn validate(node: &Node) -> Result<(), String> {
    let cmd = node.cmd.as_str();
    let upper = cmd.to_ascii_uppercase();
    if !KNOWN.contains(&cmd) {
        return Err(format!("unknown instruction: {}", node.cmd));
    }
    let mut seen: Vec<&str> = Vec::new();
    for flag in &node.flags {
        let body = flag.strip_prefix("--").unwrap_or(flag);
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        if !allowed_flags(cmd).contains(&name) {
            return Err(format!("{upper}: unknown flag --{name}"));
        }
        let boolean = matches!(name, "link" | "keep-git-dir");
        if value.is_none() && !boolean {
            return Err(format!("{upper}: flag --{name} needs a value (--{name}=...)"));
        }
        if boolean && value.is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "true" | "false")) {
            return Err(format!("{upper}: flag --{name} takes true or false"));
        }
        if name != "mount" && seen.contains(&name) {
            return Err(format!("{upper}: flag --{name} given twice"));
        }
        seen.push(name);
    }
    let n = node.value.len();
    match cmd {
        // With a here-document, the source is the here-document.
        "add" | "copy" if n < 2 && (n == 0 || node.heredocs.is_empty()) => {
            return Err(format!("{upper} needs at least two arguments: sources and a destination"));
        }
        "from" => {
            if n != 1 && n != 3 {
                return Err("FROM takes one argument, or three (`image AS name`)".to_owned());
            }
            if n == 3 {
                let as_word = node.value.get(1).map(String::as_str).unwrap_or("");
                if !as_word.eq_ignore_ascii_case("as") {
                    return Err(format!("FROM: the second argument must be AS, not {as_word:?}"));
                }
                let name = node.value.get(2).map(|s| s.to_ascii_lowercase()).unwrap_or_default();
                if !is_stage_name(&name) {
                    return Err(format!(
                        "FROM: invalid stage name {:?}: it must start with a letter and hold only letters, digits, \
                         `-`, `_` and `.`",
                        node.value.get(2).map(String::as_str).unwrap_or("")
                    ));
                }
            }
        }
        "maintainer" | "stopsignal" | "user" | "workdir" if n != 1 => {
            return Err(format!("{upper} takes exactly one argument"));
        }
        "arg" | "env" | "expose" | "label" | "volume" | "healthcheck" if n == 0 => {
            return Err(format!("{upper} needs at least one argument"));
        }
        "shell" if !node.json || n == 0 => {
            return Err("SHELL takes its arguments in JSON form".to_owned());
        }
        "healthcheck" => {
            let typ = node.value.first().map(|s| s.to_ascii_uppercase()).unwrap_or_default();
            match typ.as_str() {
                "NONE" if n > 1 => return Err("HEALTHCHECK NONE takes no other argument".to_owned()),
                "NONE" => {}
                "CMD" if n < 2 => return Err("HEALTHCHECK CMD needs a command".to_owned()),
                "CMD" => {}
                _ => return Err(format!("HEALTHCHECK: unknown type {typ:?} (CMD or NONE)")),
            }
        }
        _ => {}
    }
    Ok(())
}

fn is_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

/// Nodes into stages and commands, as Trivy's Dockerfile parser builds them.
fn build(nodes: Vec<Node>, escape: char) -> Result<Dockerfile, ParseError> {
    let mut out = Dockerfile { escape, stages: Vec::new() };
    let mut stage = Stage::default();
    for node in nodes {
        validate(&node).map_err(|m| err(node.pos, m))?;
        if node.cmd == "from" {
            if !stage.commands.is_empty() {
                out.stages.push(std::mem::take(&mut stage));
            }
            stage.name = node.original.strip_prefix("FROM ").unwrap_or(&node.original).trim().to_owned();
        }
        let mut command = Command {
            cmd: node.cmd,
            sub_cmd: None,
            original: node.original,
            flags: node.flags,
            value: node.value,
            json: node.json,
            heredocs: node.heredocs,
            pos: node.pos,
            end_line: node.end_line,
        };
        if let Some(sub) = node.sub {
            command.sub_cmd = Some(sub.cmd);
            command.value = sub.value;
            command.json = sub.json;
        }
        if command.cmd == "run"
            && !command.heredocs.is_empty()
            && let Some(v) = run_heredoc_value(&command)
        {
            command.value = vec![v];
        }
        stage.commands.push(command);
    }
    if !stage.commands.is_empty() {
        out.stages.push(stage);
    }
    Ok(out)
}

/// The one value Trivy gives a `RUN` with here-documents: for `RUN <<EOF` alone (flags allowed),
/// the script's lines (leading tabs removed for `<<-`, the last newline dropped) joined with
/// ` ; `; otherwise the command line followed, for each here-document, by a newline, its
/// content and its name.
#[must_use]
pub fn run_heredoc_value(run: &Command) -> Option<String> {
    let line = run.value.first()?;
    if let [only] = run.heredocs.as_slice()
        && heredocs_in(line).len() == 1
        && shell_words_raw(line).len() == 1
    {
        let content = only.content.strip_suffix('\n').unwrap_or(&only.content);
        let lines: Vec<&str> =
            content.split('\n').map(|l| if only.chomp { l.trim_start_matches('\t') } else { l }).collect();
        return Some(lines.join(" ; "));
    }
    let mut out = line.clone();
    for h in &run.heredocs {
        out.push('\n');
        out.push_str(&h.content);
        out.push_str(&h.name);
    }
    Some(out)
}
