//! What `aa-status` (AppArmor 3.0.8, `binutils/aa_status.c`) reports: the loaded profiles by
//! mode, from `/sys/kernel/security/apparmor/profiles`, and the confined processes, from each
//! `/proc/<pid>/attr/current` and `/proc/<pid>/exe`. The caller reads the files; this module
//! builds the report and prints it as `aa-status` (text) and `aa-status --json` do.

use serde_json::Value;

/// The profile modes `aa-status` groups profiles by, in its order.
pub const PROFILE_MODES: &[&str] = &["enforce", "complain", "kill", "unconfined"];
/// The process modes `aa-status` groups processes by, in its order.
pub const PROCESS_MODES: &[&str] = &["enforce", "complain", "unconfined", "mixed", "kill"];
/// `aa-status --json`'s `version`.
pub const JSON_VERSION: &str = "2";

/// One loaded profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedProfile {
    /// Name (`parent//child` for hats and children).
    pub name: String,
    /// Mode: enforce, complain, kill, unconfined, … (`user` read as `prompt`).
    pub mode: String,
}

/// One process with a profile (or unconfined with a profile named after its executable).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// The pid (the `/proc` entry name).
    pub pid: String,
    /// Its label's profile.
    pub profile: String,
    /// The resolved executable.
    pub exe: String,
    /// enforce, complain, unconfined, mixed, kill.
    pub mode: String,
}

/// The report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// Loaded profiles, in list order.
    pub profiles: Vec<LoadedProfile>,
    /// Processes, in any order (the report sorts them).
    pub processes: Vec<Process>,
    /// Lines of the profile list that are not `name (mode)` (aa-status stops at them).
    pub bad_lines: Vec<String>,
}

/// libapparmor's `aa_splitcon`: `name (mode)` → (name, Some(mode)); `unconfined` and a label
/// without a mode → (label, None). A trailing newline is dropped.
#[must_use]
pub fn split_label(con: &str) -> (&str, Option<&str>) {
    let con = con.strip_suffix('\n').unwrap_or(con);
    if let Some(inner) = con.strip_suffix(')')
        && let Some((name, mode)) = inner.rsplit_once(" (")
    {
        return (name, Some(mode));
    }
    (con, None)
}

impl Status {
    /// Reads the profile list (`/sys/kernel/security/apparmor/profiles`).
    #[must_use]
    pub fn from_profiles(text: &str) -> Self {
        let mut s = Self::default();
        for line in text.lines() {
            match split_label(line) {
                (name, Some(mode)) => s.profiles.push(LoadedProfile {
                    name: name.to_owned(),
                    mode: if mode == "user" { "prompt" } else { mode }.to_owned(),
                }),
                _ => s.bad_lines.push(line.to_owned()),
            }
        }
        s
    }

    /// Adds process `pid` from its `attr/current` text and resolved executable, as aa-status
    /// does: a confined label is kept with its mode; an unconfined one only when a loaded
    /// profile is named after the executable (mode `unconfined`).
    pub fn add_process(&mut self, pid: &str, current: &str, exe: &str) {
        let current = current.trim_end_matches('\0');
        let (profile, mode) = match split_label(current) {
            (p, Some(m)) => (p.to_owned(), if m == "user" { "prompt" } else { m }.to_owned()),
            (_, None) if self.profiles.iter().any(|p| p.name == exe) => (exe.to_owned(), "unconfined".to_owned()),
            (_, None) => return,
        };
        self.processes.push(Process { pid: pid.to_owned(), profile, exe: exe.to_owned(), mode });
    }

    fn profiles_in(&self, mode: &str) -> Vec<&LoadedProfile> {
        let mut v: Vec<&LoadedProfile> = self.profiles.iter().filter(|p| p.mode == mode).collect();
        v.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        v
    }

    fn processes_in(&self, mode: &str, by_exe: bool) -> Vec<&Process> {
        let mut v: Vec<&Process> = self.processes.iter().filter(|p| p.mode == mode).collect();
        let pid = |p: &Process| p.pid.parse::<u64>().unwrap_or(u64::MAX);
        if by_exe {
            v.sort_by(|a, b| a.exe.as_bytes().cmp(b.exe.as_bytes()).then(pid(a).cmp(&pid(b))));
        } else {
            v.sort_by(|a, b| a.profile.as_bytes().cmp(b.profile.as_bytes()).then(pid(a).cmp(&pid(b))));
        }
        v
    }

    /// `aa-status`'s text (its default `--verbose` report), from `apparmor module is loaded.`
    /// on. Processes of one profile are ordered by pid (aa-status leaves ties to `qsort`).
    #[must_use]
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::from("apparmor module is loaded.\n");
        let _ = writeln!(out, "{} profiles are loaded.", self.profiles.len());
        for mode in PROFILE_MODES {
            let list = self.profiles_in(mode);
            let _ = writeln!(out, "{} profiles are in {mode} mode.", list.len());
            for p in list {
                let _ = writeln!(out, "   {}", p.name);
            }
        }
        let _ = writeln!(out, "{} processes have profiles defined.", self.processes.len());
        for mode in PROCESS_MODES {
            let list = self.processes_in(mode, false);
            if *mode == "unconfined" {
                let _ = writeln!(out, "{} processes are unconfined but have a profile defined.", list.len());
            } else {
                let _ = writeln!(out, "{} processes are in {mode} mode.", list.len());
            }
            for p in list {
                let shown = if p.profile == p.exe { "" } else { p.profile.as_str() };
                let _ = writeln!(out, "   {} ({}) {shown}", p.exe, p.pid);
            }
        }
        out
    }

    /// `aa-status --json`, as one line: `{"version": "2", "profiles": {NAME: MODE, …},
    /// "processes": {EXE: [{"profile", "pid", "status"}, …], …}}` in aa-status's order
    /// (profiles by mode then name; processes by mode then executable). aa-status 3.0.8 omits
    /// the comma between two modes' processes and repeats an executable's key in each mode;
    /// this is valid JSON: one key per executable, its entries in the same order.
    #[must_use]
    pub fn json_text(&self) -> String {
        let q = |s: &str| Value::String(s.to_owned()).to_string();
        let mut out = format!("{{\"version\": {}, \"profiles\": {{", q(JSON_VERSION));
        let mut first = true;
        for mode in PROFILE_MODES {
            for p in self.profiles_in(mode) {
                out.push_str(if first { "" } else { ", " });
                first = false;
                out.push_str(&format!("{}: {}", q(&p.name), q(mode)));
            }
        }
        out.push_str("}, \"processes\": {");
        let mut groups: Vec<(&str, Vec<&Process>)> = Vec::new();
        for mode in PROCESS_MODES {
            for p in self.processes_in(mode, true) {
                match groups.iter_mut().find(|(e, _)| *e == p.exe) {
                    Some((_, v)) => v.push(p),
                    None => groups.push((&p.exe, vec![p])),
                }
            }
        }
        for (i, (exe, list)) in groups.iter().enumerate() {
            out.push_str(if i == 0 { "" } else { ", " });
            let entries: Vec<String> = list
                .iter()
                .map(|p| {
                    format!("{{\"profile\": {}, \"pid\": {}, \"status\": {}}}", q(&p.profile), q(&p.pid), q(&p.mode))
                })
                .collect();
            out.push_str(&format!("{}: [{}]", q(exe), entries.join(", ")));
        }
        out.push_str("}}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_as_aa_status() {
        let mut s =
            Status::from_profiles("/usr/sbin/nscd (enforce)\nfoo (kill)\nbar (unconfined)\n/usr/bin/true (complain)\n");
        s.add_process("105", "foo (kill)\n", "/usr/bin/true");
        s.add_process("101", "/usr/sbin/nscd (enforce)", "/usr/sbin/nscd");
        s.add_process("104", "unconfined", "/usr/bin/true");
        s.add_process("103", "a//&b (mixed)", "/usr/bin/true");
        s.add_process("106", "unconfined", "/usr/bin/sleep");
        let want = "apparmor module is loaded.\n4 profiles are loaded.\n1 profiles are in enforce mode.\n   /usr/sbin/nscd\n\
                    1 profiles are in complain mode.\n   /usr/bin/true\n1 profiles are in kill mode.\n   foo\n\
                    1 profiles are in unconfined mode.\n   bar\n4 processes have profiles defined.\n\
                    1 processes are in enforce mode.\n   /usr/sbin/nscd (101) \n0 processes are in complain mode.\n\
                    1 processes are unconfined but have a profile defined.\n   /usr/bin/true (104) \n\
                    1 processes are in mixed mode.\n   /usr/bin/true (103) a//&b\n1 processes are in kill mode.\n   /usr/bin/true (105) foo\n";
        assert_eq!(s.text(), want);
        let v: Value = serde_json::from_str(&s.json_text()).unwrap();
        assert_eq!(v["processes"]["/usr/bin/true"].as_array().unwrap().len(), 3);
        assert_eq!(v["profiles"]["foo"], "kill");
    }
}
