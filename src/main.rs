//! The `ffpe` command-line tool: `ffpe solve | steady | exponent | ml`; see `ffpe --help`.

fn main() {
    std::process::exit(ffpe::cli::main());
}
