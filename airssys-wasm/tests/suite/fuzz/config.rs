//! Target 1: manifest and policy parsing (`Manifest::parse`,
//! `Policy::parse`), then the evaluation of the one against the other and
//! requests against the effective set.
//!
//! Inputs: the repository's example manifests and policy and the texts of
//! the docs, mutated (bytes, tokens, lines spliced between texts), and
//! TOML generated from the schema with hostile values (paths with `..`,
//! NUL and Unicode, huge numbers and sizes, deep nesting, odd keys).
//!
//! Property: nothing panics; an error is `ConfigError::Invalid` naming
//! `file:line:column` inside the text; a parsed manifest's or policy's
//! names pass `check_name` (or are `*` for a grant), its capabilities
//! validate, and its paths (mount host and guest paths, the text and base
//! directory of each file glob) are absolute and normal.
//!
//! Over 700 lines on purpose: the generators of manifests and policies
//! and the properties checked on them belong together.

use airssys_wasm::{Capability, Limits, Request};
use airssys_wasm_core::capability::{FileOp, NetKind, is_normal};
use airssys_wasm_core::check_name;
use airssys_wasm_security::{ConfigError, Located, Manifest, Policy, Subject};

use crate::fuzz::harness::{self, Rng};

const MANIFEST_FILE: &str = "fuzz/Component.toml";
const POLICY_FILE: &str = "fuzz/policy.toml";

/// The doc example of a manifest (`manifest.rs`).
const MANIFEST_DOC: &str = r#"[component]
name = "text-tools"
version = "0.1.0"
description = "String helpers"

[capabilities]
stdio = true
env = ["APP_*", { name = "TZ", value = "UTC" }]
files = [{ path = "/srv/data/**", rights = ["read", "write"] }]
dirs = [{ host = "/srv/data", guest = "/data", read-only = true }]
network = ["api.example.com:443", { host = "10.0.0.0/8:5432", use = "socket" }]
key-value = [{ namespace = "cache", quota = "1MiB", max-key = 64, max-value = "4KiB" }]
messaging = [{ topic = "orders.>", subscribe = true }]
custom = ["secrets"]

[limits]
memory = "32MiB"
fuel = 50_000_000
timeout = "2s"
instances = 4
table-elements = 1000

[signature]
signer = "acme"

[config]
greeting = "hello"
"#;

/// The doc example of a policy (`policy.rs`), with a real key.
const POLICY_DOC: &str = r#"require-signed = false
on-denied = "error"

[limits.default]
memory = "32MiB"
fuel = 100_000_000
timeout = "5s"

[limits.max]
memory = "256MiB"
timeout = "30s"

[[trusted-keys]]
name = "acme"
public-key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"

[forbid]
files = [{ path = "/etc/**", rights = ["read", "write", "create", "delete"] }]
env = ["AWS_*"]
network = [{ host = "169.254.169.254:*", use = "http" }]

[grant."*"]
clocks = true

[grant.text-tools]
stdio = true
files = [{ path = "/srv/data/**", rights = ["read"] }]
dirs = [{ host = "/srv/data", guest = "/data" }]

[grant.billing]
signer = "acme"
key-value = [{ namespace = "billing" }]

[config.text-tools]
greeting = "hi"
"#;

fn corpus() -> Vec<String> {
    let mut texts = vec![MANIFEST_DOC.to_owned(), POLICY_DOC.to_owned()];
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files: Vec<_> = std::fs::read_dir(&examples)
        .expect("the examples directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    texts.extend(files.iter().map(|p| std::fs::read_to_string(p).unwrap()));
    texts
}

/// Pieces of host paths: normal ones, `..` and `.`, globs, NUL, Unicode.
const PATH_PARTS: &[&str] = &[
    "srv",
    "data",
    "etc",
    "tmp",
    "..",
    ".",
    "",
    "**",
    "*",
    "?",
    "[ab]",
    "{a,b}",
    "{x/y}",
    "\0",
    "é",
    "日本",
    "\u{202e}",
    "a\\b",
    "~",
    " ",
    "%2e%2e",
    "\u{feff}",
    "\u{10ffff}",
    "con:",
    "a b",
];

fn path(rng: &mut Rng) -> String {
    if rng.one_in(20) {
        return rng
            .pick(&["", "/", "//", "relative/x", "/..", "/a/../..", "/a/**/.."])
            .to_string();
    }
    let n = rng.range(0, 6);
    let mut p = String::new();
    if !rng.one_in(8) {
        p.push('/');
    }
    for i in 0..n {
        if i > 0 {
            p.push('/');
        }
        if rng.one_in(30) {
            p.push_str(&"x".repeat(rng.range(250, 5000)));
        } else {
            p.push_str(rng.word(PATH_PARTS));
        }
    }
    if rng.one_in(6) {
        p.push('/');
    }
    p
}

fn name(rng: &mut Rng) -> String {
    rng.pick(&[
        "text-tools",
        "billing",
        "a",
        "*",
        "",
        ".hidden",
        "-x",
        "two words",
        "evil\nFAKE",
        "é",
        "x.y_z-1",
        "\u{0}",
        "\u{1b}[31m",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ])
    .to_string()
}

fn host(rng: &mut Rng) -> String {
    let h = rng.pick(&[
        "api.example.com",
        "*.example.com",
        "*",
        "10.0.0.0/8",
        "[::1]",
        "::1",
        "169.254.169.254",
        "10.0.0.0/33",
        "",
        "*.",
        "a..b",
        "xn--bcher-kva.example",
        "日本.jp",
        "[fe80::1%eth0]",
        "0.0.0.0/0",
    ]);
    let port = rng.pick(&[
        "443",
        "*",
        "0-65535",
        "8000-8999",
        "9-1",
        "65536",
        "",
        "-1",
        "99999999999",
        "80-",
    ]);
    if rng.one_in(10) {
        h.to_string()
    } else {
        format!("{h}:{port}")
    }
}

fn topic(rng: &mut Rng) -> String {
    rng.pick(&[
        "orders.>",
        "orders.*.created",
        ">",
        "*",
        "",
        "a..b",
        ">.a",
        "a.>.b",
        "a b",
        "é.*",
    ])
    .to_string()
}

fn size(rng: &mut Rng) -> String {
    if rng.one_in(3) {
        return rng
            .pick(&[
                "0",
                "4096",
                "-1",
                "9223372036854775807",
                "18446744073709551615",
                "99999999999999999999",
                "1e400",
                "nan",
                "inf",
                "4294967296",
                "0x7fffffff",
            ])
            .to_string();
    }
    toml_str(rng.word(&[
        "64MiB",
        "1.5GiB",
        "99999999999GiB",
        "1e400MiB",
        "-1MiB",
        "nan",
        "inf",
        "18446744073709551615",
        "18446744073709551616",
        "1 KiB",
        "   ",
        "MiB",
        "1.5.5MiB",
        "١٢٣",
        "0.0000001B",
        "16EiB",
        "15.99EiB",
        "1_000_000",
        "4GiB",
    ]))
}

fn duration(rng: &mut Rng) -> String {
    toml_str(rng.word(&[
        "5s",
        "250ms",
        "99999999999999999999999s",
        "1000000000000000000y",
        "584942417356y",
        "18446744073709551615s",
        "-1s",
        "",
        "1.5s",
        "2h 3m",
        "0ns",
        "1 fortnight",
    ]))
}

fn number(rng: &mut Rng) -> String {
    rng.pick(&[
        "0",
        "1",
        "-1",
        "4096",
        "9223372036854775807",
        "-9223372036854775808",
        "99999999999999999999",
        "4294967296",
        "1e308",
        "nan",
        "inf",
        "0o777",
        "0b1",
        "1_000_000",
        "\"12\"",
        "true",
    ])
    .to_string()
}

/// A TOML basic string holding `s`, escaped.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn bool_or_junk(rng: &mut Rng) -> String {
    rng.pick(&["true", "false", "\"true\"", "1", "[]"])
        .to_string()
}

fn rights(rng: &mut Rng) -> String {
    let n = rng.range(0, 3);
    let items: Vec<String> = (0..n)
        .map(|_| toml_str(rng.word(&["read", "write", "create", "delete", "READ", "", "exec"])))
        .collect();
    format!("[{}]", items.join(", "))
}

/// `[capabilities]`, `[forbid]` or `[grant.NAME]` entries.
fn capability_lines(rng: &mut Rng, out: &mut String, allow_signer: bool) {
    for _ in 0..rng.range(0, 6) {
        let line = match rng.below(12) {
            0 => format!(
                "{} = {}",
                rng.pick(&["stdio", "clocks", "random"]),
                bool_or_junk(rng)
            ),
            1 => {
                let entries: Vec<String> = (0..rng.range(0, 3))
                    .map(|_| {
                        let var = rng.pick(&["APP_*", "TZ", "*", "", "A*B", "**", "X**", "é"]);
                        if rng.one_in(2) {
                            toml_str(var)
                        } else {
                            format!(
                                "{{ name = {}, value = {} }}",
                                toml_str(var),
                                toml_str(&path(rng))
                            )
                        }
                    })
                    .collect();
                format!("env = [{}]", entries.join(", "))
            }
            2 | 3 => {
                let entries: Vec<String> = (0..rng.range(1, 3))
                    .map(|_| {
                        format!(
                            "{{ path = {}, rights = {} }}",
                            toml_str(&path(rng)),
                            rights(rng)
                        )
                    })
                    .collect();
                format!("files = [{}]", entries.join(", "))
            }
            4 | 5 => format!(
                "dirs = [{{ host = {}, guest = {}, read-only = {} }}]",
                toml_str(&path(rng)),
                toml_str(&path(rng)),
                bool_or_junk(rng)
            ),
            6 => {
                let h = host(rng);
                if rng.one_in(2) {
                    format!("network = [{}]", toml_str(&h))
                } else {
                    let kind = rng.pick(&["http", "socket", "udp", ""]);
                    format!(
                        "network = [{{ host = {}, use = {} }}]",
                        toml_str(&h),
                        toml_str(kind)
                    )
                }
            }
            7 => format!(
                "key-value = [{{ namespace = {}, quota = {}, max-key = {}, max-value = {} }}]",
                toml_str(&name(rng)),
                size(rng),
                size(rng),
                size(rng)
            ),
            8 => format!(
                "messaging = [{{ topic = {}, publish = {}, subscribe = {} }}]",
                toml_str(&topic(rng)),
                bool_or_junk(rng),
                bool_or_junk(rng)
            ),
            9 => format!("custom = [{}]", toml_str(&name(rng))),
            10 if allow_signer || rng.one_in(4) => {
                format!("signer = {}", toml_str(rng.word(&["acme", "other", ""])))
            }
            _ => junk_line(rng),
        };
        out.push_str(&line);
        out.push('\n');
    }
}

fn limit_lines(rng: &mut Rng, out: &mut String) {
    for _ in 0..rng.range(0, 4) {
        let line = match rng.below(6) {
            0 => format!("memory = {}", size(rng)),
            1 => format!("fuel = {}", number(rng)),
            2 => format!("timeout = {}", duration(rng)),
            3 => format!("instances = {}", number(rng)),
            4 => format!("table-elements = {}", number(rng)),
            _ => junk_line(rng),
        };
        out.push_str(&line);
        out.push('\n');
    }
}

/// Lines that are odd TOML or odd keys: deep nesting, dotted keys, unknown
/// keys, duplicate tables, bare Unicode.
fn junk_line(rng: &mut Rng) -> String {
    let depth = rng.range(1, 3000);
    match rng.below(8) {
        0 => format!("deep = {}{}", "[".repeat(depth), "]".repeat(depth)),
        1 => format!(
            "deep = {}1{}",
            "{ a = ".repeat(depth.min(500)),
            " }".repeat(depth.min(500))
        ),
        2 => format!("{} = 1", vec!["a"; depth.min(2000)].join(".")),
        3 => "[component]".to_owned(),
        4 => format!("unknown-{} = 1", rng.below(10)),
        5 => "\"\\u0000\" = \"\\u0000\"".to_owned(),
        6 => format!(
            "{} = \"\"\"\n{}\n\"\"\"",
            name(rng),
            path(rng).replace('\0', "")
        ),
        _ => "é = 'é'".to_owned(),
    }
}

fn generated_manifest(rng: &mut Rng) -> String {
    let mut t = String::new();
    if !rng.one_in(10) {
        t.push_str("[component]\n");
        t.push_str(&format!("name = {}\n", toml_str(&name(rng))));
        if rng.one_in(2) {
            t.push_str("version = \"0.1.0\"\n");
        }
        if rng.one_in(3) {
            t.push_str(&format!("description = {}\n", toml_str(&path(rng))));
        }
    }
    if rng.one_in(4) {
        t.push_str("\n[capabilities]\n");
    }
    if !rng.one_in(5) {
        t.push_str("[capabilities]\n");
        capability_lines(rng, &mut t, false);
    }
    if rng.one_in(2) {
        t.push_str("[limits]\n");
        limit_lines(rng, &mut t);
    }
    if rng.one_in(4) {
        t.push_str(&format!(
            "[signature]\nsigner = {}\n",
            toml_str(rng.word(&["acme", "", "é"]))
        ));
    }
    if rng.one_in(4) {
        t.push_str(&format!(
            "[config]\n{} = {}\n",
            toml_str(&name(rng)),
            toml_str(&path(rng))
        ));
    }
    t
}

fn generated_policy(rng: &mut Rng) -> String {
    let mut t = String::new();
    if rng.one_in(2) {
        t.push_str(&format!("require-signed = {}\n", bool_or_junk(rng)));
    }
    if rng.one_in(3) {
        t.push_str(&format!(
            "on-denied = {}\n",
            toml_str(rng.word(&["error", "trap", "ignore"]))
        ));
    }
    for table in ["[limits.default]", "[limits.max]"] {
        if rng.one_in(2) {
            t.push_str(table);
            t.push('\n');
            limit_lines(rng, &mut t);
        }
    }
    for _ in 0..rng.range(0, 2) {
        let key = rng.pick(&[
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "00",
            "zz5a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511aé",
        ]);
        t.push_str(&format!(
            "[[trusted-keys]]\nname = {}\npublic-key = {}\n",
            toml_str(rng.word(&["acme", "other", ""])),
            toml_str(key)
        ));
    }
    if rng.one_in(2) {
        t.push_str("[forbid]\n");
        capability_lines(rng, &mut t, false);
    }
    for _ in 0..rng.range(0, 3) {
        t.push_str(&format!("[grant.{}]\n", toml_str(&name(rng))));
        capability_lines(rng, &mut t, true);
    }
    if rng.one_in(3) {
        t.push_str(&format!(
            "[config.{}]\nkey = {}\n",
            toml_str(&name(rng)),
            toml_str(&path(rng))
        ));
    }
    t
}

/// Tokens inserted by the text mutations.
const TOKENS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "=",
    "\"",
    "'",
    "'''",
    "\"\"\"",
    "\n",
    "..",
    "/",
    "\\u0000",
    "\\",
    "{",
    "}",
    ",",
    ".",
    "#",
    "é",
    "\u{202e}",
    "\t",
    "\r\n",
    "\r",
    "0x",
    "1e9999",
    "-",
    "*",
    "**",
    "name",
    "path",
    "host",
    "[grant.\"*\"]",
    "[forbid]",
    "[capabilities]",
    "[component]",
    "[limits]",
    "[[trusted-keys]]",
    "rights",
    "signer",
    "= [",
    "= {",
    "true",
    "inf",
    "nan",
];

fn char_boundary(rng: &mut Rng, text: &str) -> usize {
    let mut i = rng.below(text.len() + 1);
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate_text(rng: &mut Rng, text: &mut String, donor: &str) {
    match rng.below(6) {
        0 => {
            let at = char_boundary(rng, text);
            text.insert_str(at, rng.word(TOKENS));
        }
        1 => {
            // Swap a line for one of another text.
            let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
            let other: Vec<&str> = donor.split('\n').collect();
            let i = rng.below(lines.len());
            lines[i] = rng.pick(&other).to_string();
            *text = lines.join("\n");
        }
        2 => {
            let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
            let i = rng.below(lines.len());
            match rng.below(3) {
                0 => {
                    lines.remove(i);
                }
                1 => {
                    let copy = lines[i].clone();
                    lines.insert(rng.below(lines.len() + 1), copy);
                }
                _ => {
                    let j = rng.below(lines.len());
                    lines.swap(i, j);
                }
            }
            *text = lines.join("\n");
        }
        3 => {
            let at = char_boundary(rng, text);
            let line = junk_line(rng);
            text.insert_str(at, &format!("\n{line}\n"));
        }
        _ => {
            let mut bytes = std::mem::take(text).into_bytes();
            harness::mutate_bytes(rng, &mut bytes, donor.as_bytes());
            *text = String::from_utf8_lossy(&bytes).into_owned();
        }
    }
}

/// One case: a manifest text and a policy text.
pub struct Texts {
    manifest: String,
    policy: String,
}

fn one_text(rng: &mut Rng, corpus: &[String], generate: fn(&mut Rng) -> String) -> String {
    let mut text = if rng.one_in(2) {
        generate(rng)
    } else {
        rng.pick(corpus).clone()
    };
    let donor = rng.pick(corpus).clone();
    for _ in 0..rng.range(0, 4) {
        mutate_text(rng, &mut text, &donor);
    }
    text
}

/// Checks that `err` is a position inside `text` of `file`.
fn check_error(err: &ConfigError, file: &str, text: &str) -> Result<(), String> {
    let ConfigError::Invalid { at, message } = err else {
        return Err(format!("not an error at a position: {err}"));
    };
    if at.file != std::path::Path::new(file) {
        return Err(format!("the error names {} for {file}", at.file.display()));
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let in_text = at.line >= 1
        && at.line <= lines.len()
        && at.column >= 1
        && at.column <= lines[at.line - 1].len() + 1;
    if !in_text {
        return Err(format!(
            "the error's position {}:{} is outside the text ({} lines): {message}",
            at.line,
            at.column,
            lines.len()
        ));
    }
    let shown = err.to_string();
    if !shown.starts_with(&format!("{file}:{}:{}: ", at.line, at.column)) {
        return Err(format!(
            "the error does not begin with its position: {shown}"
        ));
    }
    Ok(())
}

/// Checks a parsed capability: it validates, its position is a real line,
/// and its paths are absolute and normal.
fn check_capability(l: &Located, text: &str) -> Result<(), String> {
    l.capability
        .validate()
        .map_err(|e| format!("`{}` parsed but does not validate: {e}", l.capability))?;
    if l.at.line == 0 || l.at.line > text.split('\n').count() || l.at.column == 0 {
        return Err(format!("`{}` is located at {}", l.capability, l.at));
    }
    let normal = |what: &str, p: &str| {
        if is_normal(p) {
            Ok(())
        } else {
            Err(format!("{what} `{}` is not normal: {p:?}", l.capability))
        }
    };
    match &l.capability {
        Capability::Dir { host, guest, .. } => {
            normal(
                "the host path of",
                host.to_str().ok_or("a non-UTF-8 host path")?,
            )?;
            normal("the guest path of", guest)
        }
        Capability::Files { path, .. } => {
            normal("the glob of", path.as_str())?;
            normal("the base directory of", path.base_dir())
        }
        _ => Ok(()),
    }
}

fn check_manifest(m: &Manifest, text: &str) -> Result<(), String> {
    check_name(&m.name).map_err(|e| format!("the manifest's name passed parsing: {e}"))?;
    m.requested
        .iter()
        .try_for_each(|l| check_capability(l, text))
}

fn check_policy(p: &Policy, text: &str) -> Result<(), String> {
    for name in p.grants.keys().chain(p.config.keys()) {
        if name != "*" {
            check_name(name).map_err(|e| format!("a grant or config key passed parsing: {e}"))?;
        }
    }
    if p.config.contains_key("*") {
        return Err("[config.\"*\"] passed parsing".into());
    }
    for signer in p.signers.values() {
        if !p.trusted_keys.iter().any(|k| &k.name == signer) {
            return Err(format!("grant pins `{signer}`, which is not a trusted key"));
        }
    }
    p.forbidden
        .iter()
        .chain(p.grants.values().flatten())
        .try_for_each(|l| check_capability(l, text))
}

/// Requests made of an effective set: paths, hosts and names from the
/// generators' pools, each must be answered without a panic.
fn probe(rng: &mut Rng, set: &airssys_wasm::CapabilitySet) {
    for _ in 0..8 {
        let p = path(rng);
        let h = host(rng);
        let t = topic(rng);
        let n = name(rng);
        let request = match rng.below(7) {
            0 => Request::File {
                path: &p,
                op: *rng.pick(&[FileOp::Read, FileOp::Write, FileOp::Create, FileOp::Delete]),
            },
            1 => Request::Connect {
                host: h.split(':').next().unwrap_or(""),
                port: rng.next() as u16,
                kind: *rng.pick(&[NetKind::Http, NetKind::Socket]),
            },
            2 => Request::Env(&n),
            3 => Request::KeyValue(&n),
            4 => Request::Publish(&t),
            5 => Request::Subscribe(&t),
            _ => Request::Custom(&n),
        };
        let _ = set.allows(&request);
        let _ = set.root_for(&p);
    }
}

#[test]
fn manifest_and_policy_parsing() {
    let corpus = corpus();
    let outcomes = harness::run(
        "config",
        3000,
        |rng| Texts {
            manifest: one_text(rng, &corpus, generated_manifest),
            policy: one_text(rng, &corpus, generated_policy),
        },
        |t| format!("{}\n#----- policy -----\n{}", t.manifest, t.policy).into_bytes(),
        |t, outcomes| {
            let manifest = match Manifest::parse(MANIFEST_FILE, t.manifest.as_str()) {
                Ok(m) => {
                    outcomes.count("manifest-parsed");
                    check_manifest(&m, &t.manifest)?;
                    Some(m)
                }
                Err(e) => {
                    outcomes.count("manifest-refused");
                    check_error(&e, MANIFEST_FILE, &t.manifest)?;
                    None
                }
            };
            let policy = match Policy::parse(POLICY_FILE, t.policy.as_str()) {
                Ok(p) => {
                    outcomes.count("policy-parsed");
                    check_policy(&p, &t.policy)?;
                    p
                }
                Err(e) => {
                    outcomes.count("policy-refused");
                    return check_error(&e, POLICY_FILE, &t.policy);
                }
            };
            let name = manifest.as_ref().map_or("component", |m| m.name.as_str());
            let mut rng = Rng::new(t.manifest.len() as u64 ^ (t.policy.len() as u64) << 32);
            for subject in [
                Subject::named(name),
                Subject::claimed(name).signed_by(Some("acme")),
            ] {
                match policy.evaluate(&subject, manifest.as_ref(), &[], &Limits::unlimited()) {
                    Ok(e) => {
                        outcomes.count("evaluated");
                        for c in e.capabilities.iter() {
                            c.validate().map_err(|err| {
                                format!("effective `{c}` does not validate: {err}")
                            })?;
                        }
                        probe(&mut rng, &e.capabilities);
                    }
                    Err(_) => outcomes.count("evaluation-refused"),
                }
            }
            Ok(())
        },
    );
    // A target that never gets past the parser tests nothing else.
    if harness::cases(3000) >= 100 {
        assert!(outcomes.get("manifest-parsed") > 0 && outcomes.get("policy-parsed") > 0);
        assert!(outcomes.get("evaluated") > 0);
    }
}
