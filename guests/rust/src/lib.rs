//! The polyglot greeter (`wit/greeter.wit`) in Rust.

wit_bindgen::generate!({
    path: ["../../wit/host.wit", "../../wit/greeter.wit"],
    world: "airssys:greeter/greeter",
    generate_all,
});

use airssys::host::logging::{Level, log};

struct Greeter;

impl Guest for Greeter {
    fn greet(name: String) -> String {
        let fields = [("lang".to_string(), "rust".to_string())];
        // A refused record (rate limit) must not fail the greeting.
        let _ = log(Level::Info, &format!("greeting {name}"), &fields);
        format!("Hello, {name}!")
    }

    fn transform(data: Vec<u8>) -> Vec<u8> {
        data.iter().rev().map(|b| b.wrapping_add(1)).collect()
    }
}

export!(Greeter);
