//! The WASI probe without networking: files, environment, stdout and the
//! clock, for backends whose WASI subset has no sockets or wasi:http.

#[path = "../../wasi-probe/src/files.rs"]
mod files;

wit_bindgen::generate!({ path: "../wit/test.wit", world: "wasi-files" });

struct Probe;

impl Guest for Probe {
    fn read_file(path: String) -> Result<String, String> {
        files::read_file(path)
    }

    fn write_file(path: String, contents: String) -> Result<(), String> {
        files::write_file(path, contents)
    }

    fn rename_file(from: String, to: String) -> Result<(), String> {
        files::rename_file(from, to)
    }

    fn remove_file(path: String) -> Result<(), String> {
        files::remove_file(path)
    }

    fn list_dir(path: String) -> Result<Vec<String>, String> {
        files::list_dir(path)
    }

    fn get_env(name: String) -> Option<String> {
        files::get_env(name)
    }

    fn print(msg: String) -> Result<(), String> {
        files::print(msg)
    }

    fn now_secs() -> u64 {
        files::now_secs()
    }

    fn sleep(nanos: u64) {
        std::thread::sleep(std::time::Duration::from_nanos(nanos));
    }

    fn timer_fired(nanos: u64, spins: u32) -> bool {
        let timer = wasip2::clocks::monotonic_clock::subscribe_duration(nanos);
        (0..spins).any(|_| timer.ready())
    }
}

export!(Probe);
