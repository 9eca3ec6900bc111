//! Text formatting shared by the engines where upstream's exact wording matters.

/// Go's `%q` (`strconv.Quote`): a double-quoted literal with Go's escapes. Kubernetes uses it in
/// the messages kguard reproduces byte for byte (PodSecurity reasons, forbidden messages).
#[must_use]
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() || (c.is_whitespace() && c != ' ') => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The edit distance between two strings (optimal string alignment: insertions, deletions,
/// substitutions and transpositions of adjacent characters, each counting one), in characters.
#[must_use]
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows i-2, i-1, i of the distance matrix
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        if let Some(first) = cur.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let del = prev.get(j + 1).map_or(usize::MAX, |d| d + 1);
            let ins = cur.get(j).map_or(usize::MAX, |d| d + 1);
            let sub = prev.get(j).map_or(usize::MAX, |d| d + cost);
            let mut best = del.min(ins).min(sub);
            let transposed =
                i > 0 && j > 0 && a.get(i - 1).is_some_and(|p| p == cb) && b.get(j - 1).is_some_and(|p| p == ca);
            if transposed && let Some(d) = before.get(j - 1) {
                best = best.min(d + 1);
            }
            if let Some(c) = cur.get_mut(j + 1) {
                *c = best;
            }
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

/// The candidate a mistyped `word` most likely meant, for "did you mean" hints: the one equal to
/// it ignoring case, else the closest by [`edit_distance`] (ignoring case) within a third of the
/// word's length (at least one, at most three edits); the first of equally close ones. `None`
/// when nothing is that close, or when `word` itself is a candidate.
#[must_use]
pub fn did_you_mean<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let lower = word.to_lowercase();
    let limit = (word.chars().count() / 3).clamp(1, 3);
    let mut best: Option<(usize, &'c str)> = None;
    for c in candidates {
        if c == word {
            return None;
        }
        let d = if c.to_lowercase() == lower { 0 } else { edit_distance(&lower, &c.to_lowercase()) };
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("pods", ""), 4);
        assert_eq!(edit_distance("", "pods"), 4);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("deploymnets", "deployments"), 1, "a transposition is one edit");
        assert_eq!(edit_distance("securityContex", "securityContext"), 1);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("é", "e"), 1, "characters, not bytes");
    }

    #[test]
    fn suggestions() {
        let fields = ["securityContext", "serviceAccountName", "containers", "image"];
        assert_eq!(did_you_mean("securityContex", fields), Some("securityContext"));
        assert_eq!(did_you_mean("Image", fields), Some("image"), "a case difference first");
        assert_eq!(did_you_mean("contianers", fields), Some("containers"));
        assert_eq!(did_you_mean("replicas", fields), None, "nothing close");
        assert_eq!(did_you_mean("image", fields), None, "the word itself is known");
        assert_eq!(did_you_mean("po", ["pods", "po"]), None);
        assert_eq!(did_you_mean("gte", ["get", "list"]), Some("get"));
        assert_eq!(did_you_mean("x", ["get"]), None);
    }
}
