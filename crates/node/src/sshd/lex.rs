//! OpenSSH's line splitting: `strdelim` (keywords and `Match` criteria: whitespace, one `=`,
//! double quotes) and `argv_split` (arguments: quotes, backslash escapes, `#` comments).

/// `strdelim(&s)`: the next token and the rest (`None` at the end of the line). `Err` on an
/// unterminated quote.
#[allow(clippy::result_unit_err)] // the only failure: an unterminated quote
pub fn strdelim(s: &str) -> Result<(String, Option<&str>), ()> {
    const WS: &[char] = &[' ', '\t', '\r', '\n'];
    let Some(pos) = s.find([' ', '\t', '\r', '\n', '"', '=']) else { return Ok((s.to_owned(), None)) };
    let (head, tail) = s.split_at(pos);
    let mut chars = tail.chars();
    let delim = chars.next().unwrap_or(' ');
    let after = chars.as_str();
    if delim == '"' {
        let Some(close) = after.find('"') else { return Err(()) };
        let token = format!("{head}{}", after.get(..close).unwrap_or(""));
        let rest = after.get(close + 1..).unwrap_or("").trim_start_matches(WS);
        return Ok((token, Some(rest)));
    }
    let mut rest = after.trim_start_matches(WS);
    if delim != '='
        && let Some(r) = rest.strip_prefix('=')
    {
        rest = r.trim_start_matches(WS);
    }
    Ok((head.to_owned(), Some(rest)))
}

/// `argv_split(s, …, terminate_on_comment = 1)`. `Err` on an unterminated quote.
#[allow(clippy::result_unit_err)] // the only failure: an unterminated quote
pub fn argv_split(s: &str) -> Result<Vec<String>, ()> {
    let b: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == ' ' || c == '\t' {
            i += 1;
            continue;
        }
        if c == '#' {
            break;
        }
        let mut quote: Option<char> = None;
        let mut arg = String::new();
        while let Some(&c) = b.get(i) {
            let next = b.get(i + 1).copied();
            if c == '\\' {
                if matches!(next, Some('\'' | '"' | '\\')) || (quote.is_none() && next == Some(' ')) {
                    i += 1;
                    arg.push(next.unwrap_or('\\'));
                } else {
                    arg.push(c);
                }
            } else if quote.is_none() && (c == ' ' || c == '\t') {
                break;
            } else if quote.is_none() && (c == '"' || c == '\'') {
                quote = Some(c);
            } else if quote == Some(c) {
                quote = None;
            } else {
                arg.push(c);
            }
            i += 1;
        }
        if i >= b.len() && quote.is_some() {
            return Err(());
        }
        out.push(arg);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        assert_eq!(strdelim("Banner=\"/etc/issue net\"").unwrap(), ("Banner".to_owned(), Some("\"/etc/issue net\"")));
        assert_eq!(strdelim("LogLevel = VERBOSE").unwrap(), ("LogLevel".to_owned(), Some("VERBOSE")));
        assert_eq!(strdelim("host=a").unwrap(), ("host".to_owned(), Some("a")));
        assert_eq!(argv_split("\"/etc/issue net\"").unwrap(), ["/etc/issue net"]);
        assert_eq!(argv_split("/dd # comment").unwrap(), ["/dd"]);
        assert_eq!(argv_split("a\\ b 'c d' e#f").unwrap(), ["a b", "c d", "e#f"]);
        assert!(argv_split("\"open").is_err());
    }
}
