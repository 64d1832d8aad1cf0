//! `StringMatches` patterns: `*` matches any run of characters; `\*` is a literal
//! asterisk and `\\` a literal backslash. No other character is special.

/// A pattern compiled into the literal pieces between its wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    /// The literal text between wildcards; one piece more than there are wildcards.
    pieces: Vec<String>,
}

impl Pattern {
    /// Compiles `pattern`. A backslash before any other character (or at the end)
    /// stays a literal backslash, since only `*` and `\` need escaping.
    pub(crate) fn compile(pattern: &str) -> Pattern {
        let mut pieces = vec![String::new()];
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            let current = pieces.len() - 1;
            match c {
                '\\' => match chars.peek() {
                    Some(&next @ ('*' | '\\')) => {
                        chars.next();
                        pieces[current].push(next);
                    }
                    _ => pieces[current].push('\\'),
                },
                '*' => pieces.push(String::new()),
                other => pieces[current].push(other),
            }
        }
        Pattern { pieces }
    }

    /// Whether `text` matches the whole pattern.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let (first, rest) = match self.pieces.split_first() {
            Some(split) => split,
            None => return text.is_empty(),
        };
        let Some((last, middle)) = rest.split_last() else {
            return text == first;
        };
        if text.len() < first.len() + last.len() || !text.starts_with(first.as_str()) || !text.ends_with(last.as_str())
        {
            return false;
        }
        // The anchored ends are fixed; the middle pieces are found left to right, and
        // taking each at its earliest position never rules out a later match.
        let mut window = &text[first.len()..text.len() - last.len()];
        for piece in middle {
            match window.find(piece.as_str()) {
                Some(at) => window = &window[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn m(pattern: &str, text: &str) -> bool {
        Pattern::compile(pattern).matches(text)
    }

    #[test]
    fn wildcards_follow_the_aws_examples() {
        assert!(m("foo*.log", "foo23.log"));
        assert!(m("*.log", "zebra.log"));
        assert!(m("foo*.*", "foobar.zebra"));
        assert!(!m("foo*.log", "foo23.txt"));
        assert!(m("log-*.txt", "log-.txt"));
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("**", "x"));
        assert!(m("", ""));
        assert!(!m("", "x"));
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abcd"));
        assert!(m("a*b*c", "aXbYc"));
        assert!(m("a*b*c", "abc"));
        assert!(!m("a*b*c", "acb"));
        assert!(!m("ab*ba", "aba"));
        assert!(m("*a*a*", "banana"));
        assert!(m("é*ü", "éaü"));
    }

    #[test]
    fn escapes_make_stars_and_backslashes_literal() {
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "axb"));
        assert!(m(r"a\\*", r"a\bc"));
        assert!(!m(r"a\\*", "abc"));
        assert!(m(r"a\\\*", r"a\*"));
        assert!(m(r"\*", "*"));
        assert!(m(r"a\b", r"a\b"));
        assert!(m(r"a\", r"a\"));
    }
}
