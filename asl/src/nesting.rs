//! A guard for the recursive-descent parsers of paths and intrinsic functions: text that
//! nests deeper than any real definition would is refused before parsing, so that a
//! hostile definition cannot overflow the stack.

/// How deep `(`/`[` nesting plus `!` negations may go in one expression.
pub const MAX_NESTING: usize = 64;

/// Whether `text` nests deeper than `limit`, counting brackets and parentheses outside
/// quoted strings, plus every `!` (each negation is one more level in the filter parser).
pub fn exceeds(text: &str, limit: usize) -> bool {
    let mut depth = 0usize;
    let mut bangs = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' => {
                depth += 1;
                if depth + bangs > limit {
                    return true;
                }
            }
            ')' | ']' => depth = depth.saturating_sub(1),
            '!' => {
                bangs += 1;
                if depth + bangs > limit {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_expressions_pass() {
        assert!(!exceeds("States.Format('{} {}', $.a[0], States.Array(1, 2))", MAX_NESTING));
        assert!(!exceeds("$.items[?(@.price > 10 && !(@.sold))].name", MAX_NESTING));
    }

    #[test]
    fn deep_nesting_is_caught() {
        let deep = format!("{}1{}", "States.Array(".repeat(100), ")".repeat(100));
        assert!(exceeds(&deep, MAX_NESTING));
        let bangs = format!("$[?({}@.a)]", "!".repeat(100));
        assert!(exceeds(&bangs, MAX_NESTING));
    }

    #[test]
    fn brackets_inside_quotes_do_not_count() {
        let quoted = format!("States.Format('{}')", "(".repeat(100));
        assert!(!exceeds(&quoted, MAX_NESTING));
    }
}
