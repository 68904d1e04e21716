//! The loop every fuzz target runs: a deterministic generator per seed, a
//! property checked under `catch_unwind` (a caught panic is a finding, as is
//! a broken property), counts of what the inputs came to, and a summary.
//!
//! `AIRSSYS_FUZZ_CASES=N` runs N cases of every target (each has its own
//! default, a few seconds in a debug build); `AIRSSYS_FUZZ_SEED=S` starts at
//! seed S (default 0), so a finding reported for seed K is re-run alone with
//! `AIRSSYS_FUZZ_SEED=K AIRSSYS_FUZZ_CASES=1`; `AIRSSYS_FUZZ_TRACE=1` prints
//! each seed before it runs (to find the input of a crash that ends the
//! process, such as a stack overflow).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::Instant;

/// A small deterministic generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    /// The generator of case `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng(seed ^ 0x5eed_a1b2_c3d4_e5f6);
        rng.next();
        rng
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// `true` once in `n` times.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// One of the strings `items`.
    pub fn word<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// How many cases a target runs: `AIRSSYS_FUZZ_CASES`, else `default`.
pub fn cases(default: u64) -> u64 {
    std::env::var("AIRSSYS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn first_seed() -> u64 {
    std::env::var("AIRSSYS_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// What the inputs of a target came to, by outcome (`parsed`,
/// `invalid-component`, ...), for the summary.
#[derive(Default)]
pub struct Outcomes(BTreeMap<String, u64>);

impl Outcomes {
    /// Counts one input with this outcome.
    pub fn count(&mut self, outcome: impl Into<String>) {
        *self.0.entry(outcome.into()).or_default() += 1;
    }

    /// How many inputs had this outcome.
    pub fn get(&self, outcome: &str) -> u64 {
        self.0.get(outcome).copied().unwrap_or(0)
    }
}

/// One input that broke the property.
struct Finding {
    seed: u64,
    what: String,
    saved: Option<PathBuf>,
}

/// Runs `target`: for each seed, `generate` makes an input, `check` tests
/// the property on it (an `Err` says how it broke); a panic in either is a
/// finding. `save` gives the bytes of an input to keep for a finding (in
/// `CARGO_TARGET_TMPDIR/fuzz-findings/`). Prints a summary; fails if
/// anything was found. Returns the outcomes for the caller's own checks
/// (a target that never reaches its interesting paths is a broken target).
pub fn run<I>(
    target: &str,
    default_cases: u64,
    mut generate: impl FnMut(&mut Rng) -> I,
    save: impl Fn(&I) -> Vec<u8>,
    mut check: impl FnMut(&I, &mut Outcomes) -> Result<(), String>,
) -> Outcomes {
    let cases = cases(default_cases);
    let first = first_seed();
    let trace = std::env::var_os("AIRSSYS_FUZZ_TRACE").is_some();
    let started = Instant::now();
    let mut outcomes = Outcomes::default();
    let mut findings = Vec::new();
    for seed in first..first.saturating_add(cases) {
        if trace {
            eprintln!("fuzz {target}: seed {seed}");
        }
        let input = match catch_unwind(AssertUnwindSafe(|| generate(&mut Rng::new(seed)))) {
            Ok(input) => input,
            Err(panic) => {
                findings.push(Finding {
                    seed,
                    what: format!("the generator panicked: {}", panic_text(&*panic)),
                    saved: None,
                });
                continue;
            }
        };
        let verdict = catch_unwind(AssertUnwindSafe(|| check(&input, &mut outcomes)));
        let what = match verdict {
            Ok(Ok(())) => continue,
            Ok(Err(broken)) => broken,
            Err(panic) => format!("panicked: {}", panic_text(&*panic)),
        };
        outcomes.count("FINDING");
        let saved = keep(target, seed, &save(&input));
        findings.push(Finding { seed, what, saved });
    }
    let mut summary = format!(
        "fuzz {target}: {cases} executions (seeds {first}..{}) in {:.1?}, {} findings;",
        first.saturating_add(cases),
        started.elapsed(),
        findings.len()
    );
    for (outcome, n) in &outcomes.0 {
        let _ = write!(summary, " {outcome} {n},");
    }
    summary.pop();
    eprintln!("{summary}");
    for f in findings.iter().take(20) {
        let saved = f
            .saved
            .as_ref()
            .map_or(String::new(), |p| format!(" (input: {})", p.display()));
        eprintln!("  seed {}{saved}: {}", f.seed, f.what);
    }
    assert!(
        findings.is_empty(),
        "{summary}\nfirst finding, seed {}: {}",
        findings[0].seed,
        findings[0].what
    );
    outcomes
}

fn keep(target: &str, seed: u64, bytes: &[u8]) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-findings");
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("{target}-{seed}"));
    std::fs::write(&path, bytes).ok()?;
    Some(path)
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    airssys_wasm::core::panic_message(panic).to_owned()
}

/// Byte-level mutations shared by the targets: flips, interesting values,
/// insertions and deletions, copies of a range within the input or from
/// `donor`.
pub fn mutate_bytes(rng: &mut Rng, bytes: &mut Vec<u8>, donor: &[u8]) {
    const INTERESTING: &[u8] = &[0, 1, 0x7f, 0x80, 0xff, 0x40, 0x3f, 0x20];
    let at = |rng: &mut Rng, bytes: &Vec<u8>| rng.below(bytes.len() + 1);
    match rng.below(8) {
        0 if !bytes.is_empty() => {
            let i = rng.below(bytes.len());
            bytes[i] ^= 1 << rng.below(8);
        }
        1 if !bytes.is_empty() => {
            let i = rng.below(bytes.len());
            bytes[i] = *rng.pick(INTERESTING);
        }
        2 if !bytes.is_empty() => {
            let i = rng.below(bytes.len());
            bytes[i] = rng.next() as u8;
        }
        3 => {
            let i = at(rng, bytes);
            let n = rng.range(1, 8);
            let fresh = rng.bytes(n);
            bytes.splice(i..i, fresh);
        }
        4 if !bytes.is_empty() => {
            let i = rng.below(bytes.len());
            let n = rng.range(1, 16).min(bytes.len() - i);
            bytes.drain(i..i + n);
        }
        5 if !bytes.is_empty() => {
            let i = rng.below(bytes.len());
            let n = rng.range(1, 64).min(bytes.len() - i);
            let copy = bytes[i..i + n].to_vec();
            let j = at(rng, bytes);
            bytes.splice(j..j, copy);
        }
        6 if !donor.is_empty() => {
            let i = rng.below(donor.len());
            let n = rng.range(1, 64).min(donor.len() - i);
            let j = at(rng, bytes);
            bytes.splice(j..j, donor[i..i + n].iter().copied());
        }
        _ if bytes.len() >= 2 => {
            let i = rng.below(bytes.len() - 1);
            bytes.swap(i, i + 1);
        }
        _ => bytes.push(rng.next() as u8),
    }
}
