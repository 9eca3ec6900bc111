//! Fuzzes Dockerfiles through `kguard_dockerfile::parse` (directives, continuations,
//! here-documents, JSON and shell forms, BuildKit's instruction checks) and what parses through
//! every check, the shell-command reader included. Any panic or hang is a bug; an error must name
//! a line and column inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match kguard_dockerfile::parse(text) {
        Ok(df) => {
            for cmd in df.commands() {
                assert!(cmd.pos.line >= 1 && cmd.end_line >= cmd.pos.line);
                let _ = kguard_dockerfile::shell::commands(&cmd.value.join(" "));
            }
            let _ = kguard_dockerfile::checks::run(&df);
        }
        Err(e) => {
            let lines = u32::try_from(text.lines().count()).unwrap_or(u32::MAX);
            assert!(e.pos.line >= 1 && e.pos.line <= lines.max(1), "{e}");
        }
    }
    let _ = kguard_dockerfile::check(&"Dockerfile".into(), text);
});
