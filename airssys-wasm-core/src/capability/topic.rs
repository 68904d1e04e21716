//! Messaging topics: dot-separated tokens with `*` and `>` wildcards.

use super::PatternError;

/// A topic pattern: tokens separated by `.`; `*` stands for exactly one
/// token, `>` (last only) for one or more. `orders.*.created` matches
/// `orders.eu.created`; `orders.>` matches `orders.eu` and
/// `orders.eu.created` but not `orders`.
///
/// ```
/// use airssys_wasm_core::capability::TopicPattern;
/// let p: TopicPattern = "orders.>".parse().unwrap();
/// assert!(p.matches("orders.eu.created"));
/// assert!(!p.matches("orders"));
/// assert!(!p.matches("billing.eu"));
/// ```
#[derive(Clone)]
pub struct TopicPattern {
    text: String,
}

impl TopicPattern {
    /// Checks and keeps a pattern.
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        check(pattern, true).map_err(|why| PatternError::new("topic", pattern, why))?;
        Ok(Self {
            text: pattern.to_owned(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Does the pattern cover `topic`? `topic` may itself hold wildcards
    /// (a subscription): then every topic it matches must match `self`.
    /// A malformed `topic` never matches. Allocation-free.
    pub fn matches(&self, topic: &str) -> bool {
        check(topic, true).is_ok() && covers(&self.text, topic)
    }

    /// May a guest publish to `topic` under this pattern? `topic` must be
    /// concrete (no wildcards).
    pub(crate) fn allows_publish(&self, topic: &str) -> bool {
        check(topic, false).is_ok() && covers(&self.text, topic)
    }

    /// Does every topic `other` matches also match `self`?
    pub fn covers(&self, other: &TopicPattern) -> bool {
        covers(&self.text, &other.text)
    }

    /// Can one topic match both patterns?
    pub fn overlaps(&self, other: &TopicPattern) -> bool {
        let mut a = super::tokens(&self.text, b'.');
        let mut b = super::tokens(&other.text, b'.');
        loop {
            match (a.next(), b.next()) {
                (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
                (None, None) => return true,
                (Some(x), Some(y)) if x == "*" || y == "*" || x == y => {}
                _ => return false,
            }
        }
    }
}

fn check(pattern: &str, wildcards: bool) -> Result<(), &'static str> {
    if pattern.is_empty() {
        return Err("a topic is not empty");
    }
    let mut tokens = super::tokens(pattern, b'.').peekable();
    while let Some(token) = tokens.next() {
        if token.is_empty() {
            return Err("a topic has no empty tokens (`a..b`, a leading or trailing `.`)");
        }
        // One pass over the token's bytes (checks run on every publish).
        let mut wildcard_bytes = false;
        for b in token.bytes() {
            if b.is_ascii_whitespace() {
                return Err("a topic has no whitespace");
            }
            wildcard_bytes |= b == b'*' || b == b'>';
        }
        let wild = token == "*" || token == ">";
        if !wild && wildcard_bytes {
            return Err("`*` and `>` stand for whole tokens (`a.*.c`, `a.>`)");
        }
        if wild && !wildcards {
            return Err("a published topic has no wildcards");
        }
        if token == ">" && tokens.peek().is_some() {
            return Err("`>` may only be the last token");
        }
    }
    Ok(())
}

/// Does `grant` cover `asked` (both well-formed)?
fn covers(grant: &str, asked: &str) -> bool {
    let mut g = super::tokens(grant, b'.');
    let mut a = super::tokens(asked, b'.');
    loop {
        match (g.next(), a.next()) {
            (Some(">"), Some(_)) => return true,
            (None, None) => return true,
            (Some("*"), Some(t)) if t != ">" => {}
            (Some(x), Some(y)) if x == y && x != "*" && x != ">" => {}
            _ => return false,
        }
    }
}

text_pattern!(TopicPattern, "TopicPattern");
