//! Component names: the audit identity and the key of policy grants.
//!
//! A component name is 1 to [`MAX_NAME_LEN`] characters from the ASCII
//! letters `A-Z` `a-z`, the digits `0-9`, `-`, `_` and `.`, and begins with
//! a letter or a digit: `text-tools`, `billing_v2`, `acme.thumbnailer`.
//! Nothing else: no spaces, no control characters, no other Unicode, no
//! leading `.` or `-`. A name therefore prints as itself in any terminal or
//! log line and works as a file name, a TOML key and a metric label.
//!
//! ```
//! use airssys_wasm_core::{check_name, name_from_file_stem};
//!
//! assert!(check_name("text-tools").is_ok());
//! assert!(check_name("two words").is_err());
//! assert!(check_name("evil\nFAKE LINE").is_err());
//! assert_eq!(name_from_file_stem("my plugin (v2)"), "my_plugin__v2_");
//! ```

use crate::audit::Escaped;

/// The longest component name, in characters (and bytes: names are ASCII).
pub const MAX_NAME_LEN: usize = 64;

/// The rule, as error messages state it.
pub const NAME_RULE: &str = "a component name is 1-64 characters of A-Z a-z 0-9 - _ . \
                             beginning with a letter or digit, e.g. `text-tools`";

/// The rule for tenants, as error messages state it.
pub const TENANT_RULE: &str = "a tenant is 1-64 characters of A-Z a-z 0-9 - _ . \
                               beginning with a letter or digit, e.g. `acme`";

/// The rule for versions, as error messages state it.
pub const VERSION_RULE: &str = "a version is 1-64 characters of A-Z a-z 0-9 - _ . + \
                                beginning with a letter or digit, e.g. `1.2.0`";

/// Why a string is not a component name (or a tenant, or a version).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} `{shown}`: {why}; {rule}")]
pub struct NameError {
    /// What the string was to be: `component name`, `tenant`, `version`.
    pub what: &'static str,
    /// The string as given, escaped for display (control characters as
    /// `\n`, `\u{1b}`) and cut to 128 characters.
    pub shown: String,
    /// What is wrong with it.
    pub why: String,
    /// The rule it breaks.
    pub rule: &'static str,
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Checks that `name` is a component name (see the [module
/// documentation](self)).
pub fn check_name(name: &str) -> Result<(), NameError> {
    check(name, "component name", NAME_RULE, allowed)
}

/// Checks that `tenant` is a tenant: the same characters as a name, so
/// `tenant/name@version` reads back unambiguously.
///
/// ```
/// assert!(airssys_wasm_core::check_tenant("acme").is_ok());
/// assert!(airssys_wasm_core::check_tenant("acme/evil").is_err());
/// ```
pub fn check_tenant(tenant: &str) -> Result<(), NameError> {
    check(tenant, "tenant", TENANT_RULE, allowed)
}

/// Checks that `version` is a version: a name's characters and `+`
/// (semantic versions with build metadata: `1.2.0+build.5`).
///
/// ```
/// assert!(airssys_wasm_core::check_version("1.2.0-rc.1+build.5").is_ok());
/// assert!(airssys_wasm_core::check_version("1.0 beta").is_err());
/// ```
pub fn check_version(version: &str) -> Result<(), NameError> {
    check(version, "version", VERSION_RULE, |c| allowed(c) || c == '+')
}

fn check(
    s: &str,
    what: &'static str,
    rule: &'static str,
    allowed: impl Fn(char) -> bool,
) -> Result<(), NameError> {
    let error = |why: String| {
        let shown: String = Escaped(s).to_string().chars().take(128).collect();
        Err(NameError {
            what,
            shown,
            why,
            rule,
        })
    };
    let Some(first) = s.chars().next() else {
        return error("it is empty".into());
    };
    if let Some(c) = s.chars().find(|&c| !allowed(c)) {
        return error(format!("it contains {}", describe(c)));
    }
    if s.len() > MAX_NAME_LEN {
        return error(format!("it is {} characters long", s.len()));
    }
    if !first.is_ascii_alphanumeric() {
        return error(format!("it begins with `{first}`"));
    }
    Ok(())
}

fn describe(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        c if c.is_control() => format!("the control character {:?}", c),
        c if c.is_ascii_graphic() => format!("`{c}`"),
        c => format!("`{}` (U+{:04X})", Escaped(c), u32::from(c)),
    }
}

/// A component name made from a file's stem, for components loaded from
/// a file without a name: every character outside the name's set becomes
/// `_`, leading characters other than letters and digits are dropped, and
/// the result is cut to [`MAX_NAME_LEN`]. A stem with no letter or digit
/// at all gives `component`.
pub fn name_from_file_stem(stem: &str) -> String {
    let mapped: String = stem
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .skip_while(|c| !c.is_ascii_alphanumeric())
        .take(MAX_NAME_LEN)
        .collect();
    if mapped.is_empty() {
        "component".into()
    } else {
        mapped
    }
}

/// The candidate `name` most likely meant, if one is close: the same name
/// in another case style (`read_motd`, `readMotd` and `read-motd` fold to
/// one), or one a small typo away (at most one edit in four characters).
///
/// ```
/// use airssys_wasm_core::suggest;
/// let exports = ["greet", "parse-number", "read-motd"];
/// assert_eq!(suggest("read_motd", exports), Some("read-motd"));
/// assert_eq!(suggest("parseNumber", exports), Some("parse-number"));
/// assert_eq!(suggest("gret", exports), Some("greet"));
/// assert_eq!(suggest("stats", exports), None);
/// ```
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let folded = fold(name);
    let budget = (folded.chars().count() / 4).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (edits(&folded, &fold(c)), c))
        .filter(|(d, _)| *d <= budget)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` (did you mean `x`?)` when [`suggest`] finds a candidate close to
/// `name`, else nothing: the one wording of every such hint.
///
/// ```
/// use airssys_wasm_core::did_you_mean;
/// assert_eq!(did_you_mean("gret", ["greet", "stats"]), " (did you mean `greet`?)");
/// assert_eq!(did_you_mean("stats", ["greet"]), "");
/// ```
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    suggest(name, candidates)
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

/// A name without its case style: lower case, without `-` and `_`, and
/// only the part after an interface (`pkg:ns/iface#f` is `f`).
fn fold(name: &str) -> String {
    let name = name.rsplit('#').next().unwrap_or(name);
    name.chars()
        .filter(|c| !matches!(c, '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The Levenshtein distance of `a` and `b`.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_character_set() {
        for good in [
            "a",
            "A9",
            "text-tools",
            "billing_v2",
            "acme.thumb",
            "0",
            &"x".repeat(64),
        ] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("", "it is empty"),
            ("two words", "it contains a space"),
            ("evil\nFAKE", "it contains the control character '\\n'"),
            ("\u{1b}[2J", "it contains the control character '\\u{1b}'"),
            ("caf\u{e9}", "it contains `\u{e9}` (U+00E9)"),
            ("a\u{202e}b", "it contains `\\u{202e}` (U+202E)"),
            ("a/b", "it contains `/`"),
            (".hidden", "it begins with `.`"),
            ("-flag", "it begins with `-`"),
            (&"x".repeat(65), "it is 65 characters long"),
        ] {
            let e = check_name(bad).unwrap_err();
            assert_eq!(e.why, why, "{bad:?}");
            assert!(!e.to_string().contains(['\n', '\u{1b}', '\u{202e}']), "{e}");
        }
    }

    #[test]
    fn file_stems_become_names() {
        assert_eq!(name_from_file_stem("greeter"), "greeter");
        assert_eq!(name_from_file_stem("\u{1b}[2J\nroot"), "2J_root");
        assert_eq!(name_from_file_stem("..."), "component");
        assert_eq!(name_from_file_stem(""), "component");
        assert_eq!(name_from_file_stem(&"y".repeat(100)).len(), MAX_NAME_LEN);
        for stem in ["\u{1b}[2J\nroot", "my plugin", "é-ü", "---x"] {
            assert_eq!(check_name(&name_from_file_stem(stem)), Ok(()), "{stem:?}");
        }
    }
}
