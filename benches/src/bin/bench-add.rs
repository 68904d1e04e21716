//! The native side of the isolation benchmark: a process that adds its two
//! arguments and prints the sum, like the `values` guest's `add`.

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u32>());
    match (args.next(), args.next()) {
        (Some(Ok(a)), Some(Ok(b))) => println!("{}", a.wrapping_add(b)),
        _ => {
            eprintln!("usage: bench-add A B (two u32 numbers)");
            std::process::exit(2);
        }
    }
}
