//! The `ffpe` command-line tool.

fn main() {
    println!("ffpe {}", env!("CARGO_PKG_VERSION"));
}
