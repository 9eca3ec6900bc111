//! The simple commands of a shell command line, each as its words: what Trivy's
//! `sh.parse_commands` gives its checks (it parses with mvdan.cc/sh and lists every call
//! expression's arguments, printed as written).
//!
//! This is a small reader of the POSIX shell grammar, not a full parser: commands are split at
//! `&&`, `||`, `;`, `|`, `&`, newlines and parentheses; quotes (`'…'`, `"…"`), backslash escapes,
//! `$(…)`, `${…}` and backquotes stay inside their word (the commands inside `$(…)` and
//! backquotes are listed too, after the command holding them); leading variable assignments,
//! redirections and their targets, comments and here-document bodies are not words of a command;
//! the reserved words that open or close compound commands (`if`, `then`, `do`, `{`, …) are
//! dropped. A command line with an unterminated quote or substitution gives `None`, as a shell
//! syntax error gives Trivy's checks nothing.

/// The simple commands of `line`, each as its words; `None` when the line is not valid shell.
#[must_use]
pub fn commands(line: &str) -> Option<Vec<Vec<String>>> {
    let mut out = Vec::new();
    read(line, &mut out, 0)?;
    Some(out)
}

/// Words that begin compound commands or lists and are not a command's name.
const RESERVED: &[&str] = &["if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time"];

struct Reader<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
}

fn read(line: &str, out: &mut Vec<Vec<String>>, depth: usize) -> Option<()> {
    if depth > 32 {
        return None;
    }
    let mut r = Reader { chars: line.char_indices().peekable() };
    let mut words: Vec<String> = Vec::new();
    let mut nested: Vec<String> = Vec::new();
    let mut pending_heredocs: Vec<(String, bool)> = Vec::new();
    let mut redirect_target = false;
    loop {
        // Blanks between words.
        while r.chars.peek().is_some_and(|(_, c)| *c == ' ' || *c == '\t') {
            r.chars.next();
        }
        let Some(&(_, ch)) = r.chars.peek() else { break };
        match ch {
            '\n' | ';' | '&' | '|' | '(' | ')' => {
                r.chars.next();
                if ch == '\n' && !pending_heredocs.is_empty() {
                    skip_heredocs(&mut r, &mut pending_heredocs);
                }
                if ch == '&' && r.chars.peek().is_some_and(|(_, c)| *c == '>') {
                    // `&>file`: a redirection.
                    r.chars.next();
                    redirect_target = true;
                    continue;
                }
                end_command(&mut words, &mut nested, out, depth)?;
                continue;
            }
            '#' => {
                while r.chars.peek().is_some_and(|(_, c)| *c != '\n') {
                    r.chars.next();
                }
                continue;
            }
            '<' | '>' => {
                let op = read_redirect(&mut r);
                if op.starts_with("<<") && !op.starts_with("<<<") {
                    let chomp = op.ends_with('-');
                    let (word, _) = read_word(&mut r, &mut nested)?;
                    pending_heredocs.push((unquote(&word), chomp));
                } else if !op.ends_with('&') || r.chars.peek().is_some_and(|(_, c)| !c.is_ascii_digit() && *c != '-') {
                    redirect_target = true;
                } else {
                    // `2>&1`, `>&-`: the descriptor is part of the operator.
                    let (_, _) = read_word(&mut r, &mut nested)?;
                }
                continue;
            }
            _ => {}
        }
        let (word, _) = read_word(&mut r, &mut nested)?;
        // `2>file`: a number right before a redirection is its descriptor.
        if word.bytes().all(|b| b.is_ascii_digit()) && r.chars.peek().is_some_and(|(_, c)| *c == '>' || *c == '<') {
            continue;
        }
        if std::mem::take(&mut redirect_target) {
            continue;
        }
        if words.is_empty() && (is_assignment(&word) || RESERVED.contains(&word.as_str())) {
            continue;
        }
        words.push(word);
    }
    end_command(&mut words, &mut nested, out, depth)?;
    Some(())
}

fn end_command(
    words: &mut Vec<String>,
    nested: &mut Vec<String>,
    out: &mut Vec<Vec<String>>,
    depth: usize,
) -> Option<()> {
    if !words.is_empty() && !matches!(words.first().map(String::as_str), Some("for" | "case" | "select")) {
        out.push(std::mem::take(words));
    }
    words.clear();
    for inner in std::mem::take(nested) {
        read(&inner, out, depth + 1)?;
    }
    Some(())
}

fn skip_heredocs(r: &mut Reader<'_>, pending: &mut Vec<(String, bool)>) {
    for (name, chomp) in std::mem::take(pending) {
        loop {
            let mut line = String::new();
            let mut any = false;
            for (_, c) in r.chars.by_ref() {
                any = true;
                if c == '\n' {
                    break;
                }
                line.push(c);
            }
            let candidate = if chomp { line.trim_start_matches('\t') } else { line.as_str() };
            if candidate == name || !any {
                break;
            }
        }
    }
}

fn read_redirect(r: &mut Reader<'_>) -> String {
    let mut op = String::new();
    while let Some(&(_, c)) = r.chars.peek() {
        if matches!(c, '<' | '>' | '&' | '-') && op.len() < 4 {
            if c == '-' && !op.starts_with("<<") && !op.ends_with('&') {
                break;
            }
            op.push(c);
            r.chars.next();
        } else {
            break;
        }
    }
    while r.chars.peek().is_some_and(|(_, c)| *c == ' ' || *c == '\t') && !op.ends_with('&') {
        r.chars.next();
    }
    op
}

/// One word, as written; the sources of the command substitutions in it go to `nested`.
fn read_word(r: &mut Reader<'_>, nested: &mut Vec<String>) -> Option<(String, bool)> {
    let mut word = String::new();
    let mut quoted = false;
    while let Some(&(_, c)) = r.chars.peek() {
        match c {
            ' ' | '\t' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>' => break,
            '\\' => {
                r.chars.next();
                match r.chars.next() {
                    Some((_, '\n')) => {}
                    Some((_, n)) => {
                        word.push('\\');
                        word.push(n);
                    }
                    None => word.push('\\'),
                }
            }
            '\'' => {
                quoted = true;
                r.chars.next();
                word.push('\'');
                loop {
                    let (_, n) = r.chars.next()?;
                    word.push(n);
                    if n == '\'' {
                        break;
                    }
                }
            }
            '"' => {
                quoted = true;
                r.chars.next();
                word.push('"');
                loop {
                    let (_, n) = r.chars.next()?;
                    match n {
                        '"' => {
                            word.push('"');
                            break;
                        }
                        '\\' => {
                            word.push('\\');
                            word.push(r.chars.next()?.1);
                        }
                        '$' if r.chars.peek().is_some_and(|(_, c)| *c == '(') => {
                            word.push('$');
                            let inner = read_balanced(r, '(', ')')?;
                            word.push_str(&inner);
                            nested.push(strip_parens(&inner));
                        }
                        '`' => {
                            let inner = read_backquoted(r)?;
                            word.push('`');
                            word.push_str(&inner);
                            word.push('`');
                            nested.push(inner);
                        }
                        _ => word.push(n),
                    }
                }
            }
            '$' => {
                r.chars.next();
                word.push('$');
                match r.chars.peek().map(|(_, c)| *c) {
                    Some('(') => {
                        let inner = read_balanced(r, '(', ')')?;
                        word.push_str(&inner);
                        nested.push(strip_parens(&inner));
                    }
                    Some('{') => {
                        let inner = read_balanced(r, '{', '}')?;
                        word.push_str(&inner);
                    }
                    _ => {}
                }
            }
            '`' => {
                r.chars.next();
                let inner = read_backquoted(r)?;
                word.push('`');
                word.push_str(&inner);
                word.push('`');
                nested.push(inner);
            }
            _ => {
                r.chars.next();
                word.push(c);
            }
        }
    }
    Some((word, quoted))
}

/// From an opening bracket to its match (quotes respected), both included.
fn read_balanced(r: &mut Reader<'_>, open: char, close: char) -> Option<String> {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    while let Some((_, c)) = r.chars.next() {
        out.push(c);
        match quote {
            Some(q) if c == q => quote = None,
            Some('"') if c == '\\' => out.push(r.chars.next()?.1),
            Some(_) => {}
            None if c == '\\' => out.push(r.chars.next()?.1),
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == open => depth += 1,
            None if c == close => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(out);
                }
            }
            None => {}
        }
    }
    None
}

fn read_backquoted(r: &mut Reader<'_>) -> Option<String> {
    let mut out = String::new();
    loop {
        let (_, c) = r.chars.next()?;
        match c {
            '`' => return Some(out),
            '\\' => {
                let (_, n) = r.chars.next()?;
                if n != '`' {
                    out.push('\\');
                }
                out.push(n);
            }
            _ => out.push(c),
        }
    }
}

fn strip_parens(s: &str) -> String {
    let s = s.strip_prefix('(').unwrap_or(s);
    s.strip_suffix(')').unwrap_or(s).to_owned()
}

fn is_assignment(word: &str) -> bool {
    let Some((name, _)) = word.split_once('=') else { return false };
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn unquote(word: &str) -> String {
    word.chars().filter(|c| !matches!(c, '\'' | '"' | '\\')).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmds(s: &str) -> Vec<Vec<String>> {
        commands(s).unwrap()
    }

    #[test]
    fn splits_lists_and_pipelines() {
        assert_eq!(
            cmds("apt-get update && apt-get install -y curl; rm -rf /var/lib/apt/lists/* | cat || true"),
            vec![
                vec!["apt-get", "update"],
                vec!["apt-get", "install", "-y", "curl"],
                vec!["rm", "-rf", "/var/lib/apt/lists/*"],
                vec!["cat"],
                vec!["true"],
            ]
        );
    }

    #[test]
    fn quotes_substitutions_redirections_and_assignments() {
        assert_eq!(
            cmds(r#"DEBIAN_FRONTEND=noninteractive apk add "a b" > /dev/null 2>&1 && echo "$(yum install x)""#),
            vec![vec!["apk", "add", "\"a b\""], vec!["echo", "\"$(yum install x)\""], vec!["yum", "install", "x"]]
        );
        assert_eq!(cmds("if true; then apk add x; fi"), vec![vec!["true"], vec!["apk", "add", "x"]]);
        assert_eq!(
            cmds("cat <<EOF > /f && ls\napk add x\nEOF\nyum install y"),
            vec![vec!["cat"], vec!["ls"], vec!["yum", "install", "y"]]
        );
        assert!(commands("echo 'unterminated").is_none());
        assert!(commands("echo $(ls").is_none());
    }
}
