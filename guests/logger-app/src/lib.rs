//! Needs a `logger`: greets through it.

wit_bindgen::generate!({ path: "../wit/test.wit", world: "logger-app" });

use airssys::test::logger;

struct App;

impl Guest for App {
    fn run(name: String) -> String {
        format!("{} (from logger-app)", logger::log(&format!("hello {name}")))
    }
}

export!(App);
