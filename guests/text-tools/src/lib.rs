//! The example plugin of the README: text utilities with no imports.

use std::collections::BTreeMap;

wit_bindgen::generate!({ path: "../../wit/examples.wit", world: "text-tools" });

use airssys::examples::text_types::WordCount;

struct TextTools;

impl Guest for TextTools {
    fn greet(name: String) -> String {
        format!("Hello, {name}!")
    }

    fn stats(text: String, top_n: u32) -> Stats {
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        let mut words = 0;
        for w in text.split_whitespace() {
            words += 1;
            let w = w.trim_matches(|c: char| c.is_ascii_punctuation()).to_lowercase();
            if !w.is_empty() {
                *counts.entry(w).or_default() += 1;
            }
        }
        let mut top: Vec<WordCount> = counts
            .into_iter()
            .map(|(word, count)| WordCount { word, count })
            .collect();
        // Stable sort keeps alphabetical order among equal counts.
        top.sort_by(|a, b| b.count.cmp(&a.count));
        top.truncate(top_n as usize);
        Stats {
            words,
            lines: text.lines().count() as u32,
            chars: text.chars().count() as u32,
            top,
        }
    }

    fn find(haystack: Vec<String>, needle: String) -> Option<u32> {
        haystack.iter().position(|h| *h == needle).map(|i| i as u32)
    }

    fn parse_number(text: String) -> Result<i64, String> {
        text.trim()
            .parse::<i64>()
            .map_err(|e| format!("not a number: {text:?} ({e})"))
    }

    fn reverse_bytes(mut data: Vec<u8>) -> Vec<u8> {
        data.reverse();
        data
    }
}

export!(TextTools);
