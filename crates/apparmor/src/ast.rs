//! The parsed policy: profiles, their flags and rules, with positions.

use std::collections::BTreeMap;
use std::sync::Arc;

use kguard_model::Pos;

/// Where something was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// File.
    pub file: Arc<str>,
    /// Position of its first character.
    pub pos: Pos,
}

/// A parsed policy file: its top-level profiles and the preamble's variables.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Top-level profiles in order.
    pub profiles: Vec<Profile>,
    /// `@{VAR}` set variables after the whole file (values unexpanded).
    pub variables: BTreeMap<String, Vec<String>>,
    /// `$VAR` booleans.
    pub booleans: BTreeMap<String, bool>,
    /// `alias a -> b,`.
    pub aliases: Vec<(String, String)>,
    /// `abi <…>,` statements.
    pub abi: Vec<String>,
    /// Deprecations (path-named profiles).
    pub warnings: Vec<crate::error::Warning>,
}

/// The profile mode (its mode flag).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// Rules enforced (no flag, or `enforce`).
    #[default]
    Enforce,
    /// Violations logged, allowed.
    Complain,
    /// Violations kill the task.
    Kill,
    /// No confinement (a profile that only names transitions).
    Unconfined,
    /// Violations asked of a user-space daemon.
    Prompt,
    /// Everything not denied is allowed.
    DefaultAllow,
}

impl Mode {
    /// The flag's name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Complain => "complain",
            Self::Kill => "kill",
            Self::Unconfined => "unconfined",
            Self::Prompt => "prompt",
            Self::DefaultAllow => "default_allow",
        }
    }
}

/// One profile, hat or child profile.
#[derive(Clone, Debug)]
pub struct Profile {
    /// Name (for hats without the `^`), namespace not included.
    pub name: String,
    /// `:ns:` namespace.
    pub namespace: Option<String>,
    /// Attachment (the executable path pattern), when given apart from the name or when the name
    /// is a path.
    pub attachment: Option<String>,
    /// Whether this is a hat (`^name` or `hat name`).
    pub hat: bool,
    /// The mode.
    pub mode: Mode,
    /// Flags as written.
    pub flags: Vec<String>,
    /// `xattrs=(…)`.
    pub xattrs: Vec<(String, Option<String>)>,
    /// Rules in order (include files' rules in place).
    pub rules: Vec<Rule>,
    /// Hats and child profiles.
    pub children: Vec<Profile>,
    /// Where the header is.
    pub span: Span,
}

impl Profile {
    /// The full name as the kernel lists it (`parent//child`).
    #[must_use]
    pub fn display_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!(":{ns}:{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// allow / deny.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Access {
    /// `allow` or nothing.
    #[default]
    Allow,
    /// `deny`.
    Deny,
}

/// The qualifiers in front of a rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Qualifiers {
    /// `audit`.
    pub audit: bool,
    /// `allow`/`deny`.
    pub access: Access,
    /// `allow` written explicitly.
    pub explicit_allow: bool,
    /// `owner` (or inside an `owner { }` block).
    pub owner: bool,
    /// `priority=N`.
    pub priority: Option<i32>,
}

/// One rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Qualifiers.
    pub q: Qualifiers,
    /// What kind of rule.
    pub kind: RuleKind,
    /// Where it starts.
    pub span: Span,
}

/// File permissions of one file rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilePerms {
    /// r
    pub read: bool,
    /// w
    pub write: bool,
    /// a
    pub append: bool,
    /// l
    pub link: bool,
    /// k
    pub lock: bool,
    /// m
    pub mmap_exec: bool,
    /// The exec mode: `x`, `ix`, `px`, `Pix`, `cux`, … as written (None: no exec).
    pub exec: Option<String>,
}

impl FilePerms {
    /// Whether the rule grants `perm` (one of `r w a l k m x`).
    #[must_use]
    pub fn has(&self, perm: char) -> bool {
        match perm {
            'r' => self.read,
            'w' => self.write,
            'a' => self.append || self.write,
            'l' => self.link,
            'k' => self.lock,
            'm' => self.mmap_exec,
            'x' => self.exec.is_some(),
            _ => false,
        }
    }

    /// The permissions written back as text.
    #[must_use]
    pub fn text(&self) -> String {
        let mut s = String::new();
        for (c, on) in [
            ('r', self.read),
            ('w', self.write),
            ('a', self.append),
            ('l', self.link),
            ('k', self.lock),
            ('m', self.mmap_exec),
        ] {
            if on {
                s.push(c);
            }
        }
        if let Some(x) = &self.exec {
            s.push_str(x);
        }
        s
    }
}

/// A `key=value` (or `key=(v…)`, `key in (v…)`) condition of a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cond {
    /// Key.
    pub key: String,
    /// Values.
    pub values: Vec<String>,
    /// Written with `in`.
    pub is_in: bool,
    /// Written with `:=` (a network rule's `label:=`, the label to set).
    pub set: bool,
    /// Nested conditions (`peer=(label=… addr=…)`).
    pub nested: Vec<Cond>,
}

/// What a rule says.
#[derive(Clone, Debug)]
pub enum RuleKind {
    /// `capability [names],` (empty: all).
    Capability(Vec<String>),
    /// `network [perms] [domain] [type/protocol] [conds],`.
    Network {
        /// Access permissions.
        perms: Vec<String>,
        /// Address family.
        domain: Option<String>,
        /// Socket type or protocol.
        kind: Option<String>,
        /// ip/port/peer conditions.
        conds: Vec<Cond>,
    },
    /// A file rule (`path perms [-> target]`, or bare `file,`: path `None`).
    File {
        /// Path pattern (variables expanded), None for `file,`.
        path: Option<String>,
        /// Permissions.
        perms: FilePerms,
        /// Exec transition target.
        target: Option<String>,
        /// Exec condition `safe`/`unsafe` written in front.
        exec_cond: Option<String>,
    },
    /// `link [subset] a -> b,`.
    Link {
        /// `subset`.
        subset: bool,
        /// Link name.
        from: String,
        /// Target.
        to: String,
    },
    /// mount, remount, umount, pivot_root.
    Mount {
        /// Keyword.
        op: String,
        /// Conditions (options=, fstype=, …).
        conds: Vec<Cond>,
        /// Source (mount) / new root (pivot_root).
        source: Option<String>,
        /// Mount point / target.
        target: Option<String>,
    },
    /// signal, ptrace, unix, dbus, mqueue, io_uring, userns: permissions and conditions.
    Mediated {
        /// The class keyword.
        class: String,
        /// Permissions (empty: all).
        perms: Vec<String>,
        /// Conditions.
        conds: Vec<Cond>,
        /// A trailing name (mqueue).
        name: Option<String>,
    },
    /// `change_profile [safe|unsafe] [exec] [-> profile],`.
    ChangeProfile {
        /// `safe`/`unsafe`.
        exec_mode: Option<String>,
        /// Exec condition.
        exec: Option<String>,
        /// Target profile(s).
        target: Option<String>,
    },
    /// `set rlimit name <= value,`.
    Rlimit {
        /// Resource.
        resource: String,
        /// Limit as written.
        value: String,
    },
    /// `all,`.
    All,
}
