//! Provides the `logger` interface: prefixes each line.

wit_bindgen::generate!({ path: "../wit/test.wit", world: "logger-plug" });

use exports::airssys::test::logger::Guest;

struct Plug;

impl Guest for Plug {
    fn log(message: String) -> String {
        format!("[logger-plug] {message}")
    }
}

export!(Plug);
