//! Another `logger` provider: shouts. For run-time linking tests it also
//! misbehaves on request: `panic` traps, `spin` never returns.

wit_bindgen::generate!({ path: "../wit/test.wit", world: "logger-plug" });

use exports::airssys::test::logger::Guest;

struct Shout;

impl Guest for Shout {
    fn log(message: String) -> String {
        if message.contains("panic") {
            panic!("the logger was asked to panic");
        }
        if message.contains("spin") {
            #[allow(clippy::empty_loop)]
            loop {}
        }
        format!("[SHOUT] {}", message.to_uppercase())
    }
}

export!(Shout);
