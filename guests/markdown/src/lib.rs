//! Renders Markdown to HTML with pulldown-cmark: the benchmarks' real
//! workload, compared with the same crate run natively.

wit_bindgen::generate!({ path: "wit/world.wit", world: "markdown" });

use pulldown_cmark::{Options, Parser, html};

struct Markdown;

impl Guest for Markdown {
    fn render(markdown: String) -> String {
        let options = Options::ENABLE_TABLES
            | Options::ENABLE_FOOTNOTES
            | Options::ENABLE_STRIKETHROUGH
            | Options::ENABLE_TASKLISTS;
        let mut out = String::with_capacity(markdown.len() * 3 / 2);
        html::push_html(&mut out, Parser::new_ext(&markdown, options));
        out
    }
}

export!(Markdown);
