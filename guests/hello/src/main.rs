//! A command guest: `airssys-wasm run hello.wasm -- args`.

fn main() {
    println!("hello from an airssys-wasm plugin");
    if let Ok(greeting) = std::env::var("GREETING") {
        println!("GREETING={greeting}");
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--read") {
        let path = args.get(1).map(String::as_str).unwrap_or("");
        match std::fs::read_to_string(path) {
            Ok(text) => print!("{text}"),
            Err(e) => {
                eprintln!("cannot read {path}: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    for a in args {
        println!("arg: {a}");
    }
}
