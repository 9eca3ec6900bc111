//! The `kguard` command line (being wired up).

fn main() {
    println!("kguard");
}
