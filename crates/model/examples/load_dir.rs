//! Loads every manifest under the given paths and prints counts and timing: a quick way to see
//! what the loader makes of a tree (and how fast). `cargo run --release -p kguard-model --example load_dir -- DIR`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let start = Instant::now();
    let (inputs, mut diags) = kguard_model::load::expand_paths(&paths);
    let mut bytes = 0usize;
    let mut objects = 0usize;
    let mut documents = 0usize;
    for input in &inputs {
        if let kguard_model::load::Input::File(p) = input {
            bytes += std::fs::metadata(p).map(|m| m.len() as usize).unwrap_or(0);
        }
        let parsed = kguard_model::load::load_input(input);
        objects += parsed.objects.len();
        documents += parsed.documents;
        diags.extend(parsed.diagnostics);
    }
    let secs = start.elapsed().as_secs_f64();
    for d in &diags {
        println!("{d}");
    }
    println!(
        "{} files, {} documents, {} objects, {} diagnostics, {:.1} MB in {:.3} s ({:.1} MB/s)",
        inputs.len(),
        documents,
        objects,
        diags.len(),
        bytes as f64 / 1e6,
        secs,
        bytes as f64 / 1e6 / secs
    );
}
