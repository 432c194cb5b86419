//! The `ffpe-validate` command-line tool.

fn main() {
    println!("ffpe-validate {}", env!("CARGO_PKG_VERSION"));
}
