//! The generated syscall table (`src/table.rs`) against libseccomp's `syscalls.csv` (read in
//! place): 508 names × 18 ABIs, every number equal and every `PNR` a pseudo number.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_seccomp::table::{ABI_COLUMNS, SYSCALLS};

#[test]
fn table_matches_libseccomp_csv() {
    let Some(path) = kguard_testkit::shared_path("oracles/seccomp/libseccomp/syscalls.csv") else { return };
    let text = std::fs::read_to_string(path).unwrap();
    let (mut passed, mut total) = (0usize, 0usize);
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let row = SYSCALLS.iter().find(|(n, _)| *n == f[0]).unwrap_or_else(|| panic!("{} missing", f[0]));
        for (i, _) in ABI_COLUMNS.iter().enumerate() {
            total += 1;
            let csv = f[1 + 2 * i];
            let ok = if csv == "PNR" { row.1[i] < 0 } else { csv.parse::<i32>().unwrap() == row.1[i] };
            passed += usize::from(ok);
        }
    }
    println!("seccomp syscall table oracle: {passed} passed of {total} (name, ABI) numbers");
    assert_eq!(total, 508 * 18);
    assert_eq!(passed, total);
    assert_eq!(SYSCALLS.len(), 508);
}
