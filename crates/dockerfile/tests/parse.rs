//! The Dockerfile parser on tricky and on bad input: positions, continuations, here-documents,
//! JSON form, the escape directive, comments inside continuations; errors at line:column, and
//! bounded work on large input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_dockerfile::parse::{Command, MAX_LOGICAL_LINE, parse};
use kguard_model::Pos;

fn commands(text: &str) -> Vec<Command> {
    parse(text).unwrap().commands().cloned().collect()
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn instructions_are_case_insensitive_with_positions() {
    let c = commands("# comment\n\n  from alpine:3.20 AS base\n\tRun echo hi\nCOPY --chown=1:1 --link a b /dst/\n");
    assert_eq!(c.len(), 3);
    assert_eq!((c[0].cmd.as_str(), c[0].pos, c[0].end_line), ("from", Pos::new(3, 3), 3));
    assert_eq!(c[0].value, ["alpine:3.20", "AS", "base"]);
    assert_eq!((c[1].cmd.as_str(), c[1].pos), ("run", Pos::new(4, 2)));
    assert_eq!(c[1].value, ["echo hi"]);
    assert_eq!(c[2].flags, ["--chown=1:1", "--link"]);
    assert_eq!(c[2].value, ["a", "b", "/dst/"]);
}

#[test]
fn continuations_skip_comments_and_empty_lines() {
    let text = "FROM debian:12\nRUN apt-get update \\\n# a comment inside\n\n    && apt-get install -y curl \\  \n    && rm -rf /var/lib/apt/lists/*\nUSER app\n";
    let c = commands(text);
    assert_eq!(c[1].pos, Pos::new(2, 1));
    assert_eq!(c[1].end_line, 6);
    assert_eq!(c[1].value, ["apt-get update     && apt-get install -y curl     && rm -rf /var/lib/apt/lists/*"]);
    assert_eq!((c[2].cmd.as_str(), c[2].pos), ("user", Pos::new(7, 1)));
}

#[test]
fn escape_directive_changes_the_continuation_character() {
    let text = "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN dir c:\\ `\n    && echo done\nWORKDIR c:\\app\n";
    let df = parse(text).unwrap();
    assert_eq!(df.escape, '`');
    let c: Vec<_> = df.commands().collect();
    assert_eq!(c[1].value, ["dir c:\\     && echo done"]);
    assert_eq!(c[2].value, ["c:\\app"]);
    // After an instruction, `# escape=` is a comment.
    let c = commands("FROM a:1\n# escape=`\nRUN a \\\n b\n");
    assert_eq!(c[1].value, ["a  b"]);
    assert!(error("# escape=x\nFROM a:1\n").starts_with("1:1: invalid escape token"));
    assert!(error("# escape=`\n# escape=\\\nFROM a:1\n").starts_with("2:1: only one escape"));
}

#[test]
fn json_and_shell_forms() {
    let c = commands(
        "FROM a:1\nCMD [\"nginx\", \"-g\", \"daemon off;\"]\nENTRYPOINT [\"a\"] trailing\nRUN [not json\nCMD []\n",
    );
    assert!(c[1].json);
    assert_eq!(c[1].value, ["nginx", "-g", "daemon off;"]);
    assert!(c[2].json);
    assert_eq!(c[2].value, ["a"]);
    assert!(!c[3].json);
    assert_eq!(c[3].value, ["[not json"]);
    assert!(c[4].json && c[4].value.is_empty());
    assert_eq!(error("FROM a:1\nRUN [\"a\", 1]\n"), "2:1: in the JSON (exec) form, the array must hold only strings");
}

#[test]
fn env_arg_label_forms() {
    let c = commands("FROM a:1\nENV A=1 B=\"two words\" C=x\\ y\nENV OLD value with spaces\nARG V=1 W\nLABEL a=b\n");
    assert_eq!(c[1].value, ["A", "1", "=", "B", "\"two words\"", "=", "C", "x\\ y", "="]);
    assert_eq!(c[2].value, ["OLD", "value with spaces", ""]);
    assert_eq!(c[3].value, ["V=1", "W"]);
    assert_eq!(c[4].value, ["a", "b", "="]);
    assert!(error("FROM a:1\nENV A=1 B\n").starts_with("2:1: ENV: \"B\" has no `=`"));
    assert!(error("FROM a:1\nENV A\n").starts_with("2:1: ENV must have two arguments"));
}

#[test]
fn stages_as_trivy_models_them() {
    let df =
        parse("ARG V=3\nFROM golang:1.22 AS build\nRUN go build\nFROM alpine:${V}\nCOPY --from=build /x /x\n").unwrap();
    let names: Vec<&str> = df.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["", "golang:1.22 AS build", "alpine:${V}"]);
    assert_eq!(df.stages[1].commands.len(), 2);
}

#[test]
fn heredocs() {
    let text = "FROM a:1\nRUN <<EOF\napt-get update\n  apt-get install -y x\nEOF\nRUN <<-EOT bash\n\techo hi\n\tEOT\nCOPY <<EOF /etc/conf\nkey=value\nEOF\nRUN cat <<A <<\"B\" > /f\none\nA\ntwo\nB\nUSER app\n";
    let c = commands(text);
    assert_eq!((c[1].pos.line, c[1].end_line), (2, 5));
    assert_eq!(c[1].value, ["apt-get update ;   apt-get install -y x"]);
    assert_eq!(c[1].heredocs[0].content, "apt-get update\n  apt-get install -y x\n");
    assert_eq!((c[2].pos.line, c[2].end_line), (6, 8));
    assert!(c[2].heredocs[0].chomp);
    assert_eq!(c[2].value, ["<<-EOT bash\n\techo hi\nEOT"]);
    assert_eq!((c[3].cmd.as_str(), c[3].end_line), ("copy", 11));
    assert_eq!(c[3].value, ["<<EOF", "/etc/conf"]);
    let names: Vec<&str> = c[4].heredocs.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["A", "B"]);
    assert_eq!((c[4].end_line, c[5].pos.line), (16, 17));
    // Not a heredoc: JSON form, or `<<` inside a quoted word.
    let c = commands("FROM a:1\nRUN [\"sh\", \"-c\", \"cat <<EOF\"]\nRUN echo '<<EOF'\nUSER x\n");
    assert_eq!(c.len(), 4);
    assert_eq!(
        error("FROM a:1\nRUN <<EOF\nno end\n"),
        "2:1: unterminated here-document \"EOF\": no line \"EOF\" ends it"
    );
}

#[test]
fn onbuild_holds_an_instruction() {
    let c = commands("FROM a:1\nONBUILD RUN sudo make\n");
    assert_eq!((c[1].cmd.as_str(), c[1].sub_cmd.as_deref()), ("onbuild", Some("run")));
    assert_eq!(c[1].value, ["sudo make"]);
}

#[test]
fn bad_files_are_errors_with_line_and_column() {
    assert_eq!(error(""), "1:1: file with no instructions");
    assert_eq!(error("# only a comment\n\n"), "1:1: file with no instructions");
    assert_eq!(error("FROM a:1\n  FOO bar\n"), "2:3: unknown instruction: foo");
    assert_eq!(error("FROM a:1\nCOPY x\n"), "2:1: COPY needs at least two arguments: sources and a destination");
    assert_eq!(error("FROM a:1\nCOPY --from x y\n"), "2:1: COPY: flag --from needs a value (--from=...)");
    assert_eq!(error("FROM a:1\nRUN --security=insecure ls\n"), "2:1: RUN: unknown flag --security");
    assert!(error("FROM a b c\n").starts_with("1:1: FROM: the second argument must be AS"));
    assert!(error("FROM a AS 1x\n").starts_with("1:1: FROM: invalid stage name \"1x\""));
    assert_eq!(error("FROM a:1\nWORKDIR\n"), "2:1: WORKDIR takes exactly one argument");
    assert_eq!(error("FROM a:1\nSHELL bash\n"), "2:1: SHELL takes its arguments in JSON form");
    assert!(error("FROM a:1\nHEALTHCHECK SOMETIMES ls\n").starts_with("2:1: HEALTHCHECK: unknown type"));
}

#[test]
fn large_input_is_bounded_and_linear() {
    // Many continuation lines: one logical line, read once.
    let mut text = String::from("FROM a:1\nRUN true");
    for _ in 0..100_000 {
        text.push_str(" \\\n && true");
    }
    text.push('\n');
    let c = commands(&text);
    assert_eq!(c[1].end_line, 100_002);
    // A logical line over the cap is an error, not unbounded memory.
    let long = format!("FROM a:1\nRUN {}\\\n{}\n", "x".repeat(MAX_LOGICAL_LINE), "y");
    assert!(error(&long).contains("instruction longer than"));
    // A long physical line and a large here-document.
    let text = format!("FROM a:1\nRUN echo {}\nRUN <<EOF\n{}EOF\n", "z".repeat(2_000_000), "line\n".repeat(200_000));
    let c = commands(&text);
    assert_eq!(c[2].end_line, 200_004);
    // Carriage returns, a byte-order mark, no final newline.
    let c = commands("\u{feff}FROM a:1\r\nRUN a \\\r\n  b");
    assert_eq!(c[1].value, ["a   b"]);
}

#[test]
fn arbitrary_bytes_never_panic() {
    let pieces =
        ["FROM", " ", "\\", "\n", "<<", "EOF", "\"", "'", "[", "]", "#", "=", "--", "`", "\t", "é", "RUN", "COPY"];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..5_000 {
        let mut text = String::new();
        for _ in 0..40 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            text.push_str(pieces[(seed % pieces.len() as u64) as usize]);
        }
        if let Ok(df) = parse(&text) {
            let _ = kguard_dockerfile::checks::run(&df);
        }
    }
}
