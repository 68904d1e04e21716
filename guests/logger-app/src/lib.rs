//! Needs a `logger`: greets through it. Also reads the host's clock.

wit_bindgen::generate!({
    path: ["../../wit/host.wit", "../wit/test.wit", "wit/world.wit"],
    world: "airssys:logger-app/logger-app",
    generate_all,
});

use airssys::host::clocks;
use airssys::test::logger;

struct App;

impl Guest for App {
    fn run(name: String) -> String {
        format!("{} (from logger-app)", logger::log(&format!("hello {name}")))
    }

    fn now() -> Result<u64, String> {
        clocks::now().map_err(|e| format!("{e:?}"))
    }
}

export!(App);
