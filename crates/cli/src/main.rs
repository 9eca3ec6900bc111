//! The `kguard` command line.

fn main() {
    println!("kguard");
}
