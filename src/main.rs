//! The `clipwatch` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    clipwatch::cli::main()
}
