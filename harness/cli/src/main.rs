//! The `amp-conformance` binary: parse arguments, run the command, exit with its code.

fn main() {
    std::process::exit(amp_conformance::main_with(std::env::args_os()));
}
