//! Kernel and audit log lines (`apparmor="DENIED"` …) read as libapparmor's `aa_log_parse`
//! reads them (`libraries/libapparmor/src/scanner.l` + `grammar.y`): the audit, syslog, dmesg
//! and audit-dispatch framings, every key the grammar knows with the value forms it accepts
//! (quoted, hex-encoded, digits, IP addresses, `?`/`none`), and its failure modes (an unknown
//! key ends the record as `AA_RECORD_INVALID` with the rest as `info`; a non-AppArmor audit
//! type is `INVALID` with the type as operation). [`Record::print`] writes what upstream's
//! `test_multi` prints.

use crate::glob::Glob;
use std::fmt::Write as _;

/// `aa_record_event_type`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Event {
    /// Not an AppArmor record, or one that did not parse.
    #[default]
    Invalid,
    /// `ERROR`.
    Error,
    /// `AUDIT`.
    Audit,
    /// `ALLOWED` (complain mode).
    Allowed,
    /// `DENIED`.
    Denied,
    /// `HINT`.
    Hint,
    /// `STATUS`.
    Status,
}

impl Event {
    /// As test_multi prints it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Invalid => "AA_RECORD_INVALID",
            Self::Error => "AA_RECORD_ERROR",
            Self::Audit => "AA_RECORD_AUDIT",
            Self::Allowed => "AA_RECORD_ALLOWED",
            Self::Denied => "AA_RECORD_DENIED",
            Self::Hint => "AA_RECORD_HINT",
            Self::Status => "AA_RECORD_STATUS",
        }
    }

    fn from_audit_type(n: u64) -> Self {
        match n {
            1501 => Self::Audit,
            1502 => Self::Allowed,
            1503 => Self::Denied,
            1504 => Self::Hint,
            1505 => Self::Status,
            1506 => Self::Error,
            _ => Self::Invalid,
        }
    }
}

/// `aa_log_record`: the fields test_multi prints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Record {
    pub event: Event,
    pub audit_id: Option<String>,
    pub operation: Option<String>,
    pub requested_mask: Option<String>,
    pub denied_mask: Option<String>,
    pub fsuid: Option<u64>,
    pub ouid: Option<u64>,
    pub profile: Option<String>,
    pub peer_profile: Option<String>,
    pub peer: Option<String>,
    pub name: Option<String>,
    pub comm: Option<String>,
    pub name2: Option<String>,
    pub namespace: Option<String>,
    pub attribute: Option<String>,
    pub task: u64,
    pub parent: u64,
    pub magic_token: u64,
    pub info: Option<String>,
    pub peer_info: Option<String>,
    pub error_code: u64,
    pub pid: u64,
    pub peer_pid: u64,
    pub active_hat: Option<String>,
    pub net_addr: Option<String>,
    pub peer_addr: Option<String>,
    pub net_family: Option<String>,
    pub net_sock_type: Option<String>,
    pub net_protocol: Option<String>,
    pub net_local_addr: Option<String>,
    pub net_foreign_addr: Option<String>,
    pub net_local_port: u64,
    pub net_foreign_port: u64,
    pub dbus_bus: Option<String>,
    pub dbus_path: Option<String>,
    pub dbus_interface: Option<String>,
    pub dbus_member: Option<String>,
    pub signal: Option<String>,
    pub fs_type: Option<String>,
    pub flags: Option<String>,
    pub src_name: Option<String>,
    pub execpath: Option<String>,
    pub class: Option<String>,
    pub epoch: u64,
    pub audit_sub_id: u64,
}

/// Longest line read (test_multi reads 1023 bytes).
pub const MAX_LINE: usize = 1 << 16;

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0x1d)
}

struct Lex<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Lex<'a> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| is_ws(*c)) {
            self.i += 1;
        }
    }
    fn rest(&self) -> &'a [u8] {
        self.s.get(self.i..).unwrap_or_default()
    }
    fn eat(&mut self, t: &str) -> bool {
        if self.rest().starts_with(t.as_bytes()) {
            self.i += t.len();
            true
        } else {
            false
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.i;
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
        std::str::from_utf8(self.s.get(start..self.i).unwrap_or_default()).unwrap_or_default()
    }
    fn digits(&mut self) -> Option<u64> {
        let d = self.take_while(|c| c.is_ascii_digit());
        if d.is_empty() { None } else { Some(d.parse().unwrap_or(u64::MAX)) }
    }
    /// A quoted string (backslash escapes the next character), the opening quote current.
    fn quoted(&mut self) -> Option<String> {
        if !self.eat("\"") {
            return None;
        }
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    self.i += 1;
                    out.push(self.peek()?);
                    self.i += 1;
                }
                b'\n' => return None,
                c => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }
    /// A quoted string or an upper-case hex string (decoded).
    fn safe_string(&mut self) -> Option<String> {
        if self.peek() == Some(b'"') {
            return self.quoted();
        }
        let start = self.i;
        let hex = self.take_while(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c));
        let even = hex.len() - hex.len() % 2;
        if even == 0 || even != hex.len() {
            // the scanner takes the pairs, and the odd digit left over breaks the grammar
            self.i = start;
            return None;
        }
        self.i = start + even;
        let bytes: Vec<u8> = (0..even)
            .step_by(2)
            .filter_map(|k| u8::from_str_radix(hex.get(k..k + 2).unwrap_or("00"), 16).ok())
            .collect();
        // garbage decoded from a kernel bug (lp1689667) is refused, not printed
        let text = String::from_utf8(bytes).ok()?;
        if text.chars().any(char::is_control) {
            return None;
        }
        Some(text)
    }
    /// `audit(EPOCH.MS:SERIAL):`.
    fn audit_id(&mut self, r: &mut Record) -> bool {
        self.ws();
        if !self.eat("audit(") {
            return false;
        }
        let Some(a) = self.digits() else { return false };
        let ms = if self.eat(".") { self.take_while(|c| c.is_ascii_digit()).to_owned() } else { return false };
        if !self.eat(":") {
            return false;
        }
        let Some(serial) = self.digits() else { return false };
        if !self.eat("):") {
            return false;
        }
        r.audit_id = Some(format!("{a}.{ms}:{serial}"));
        r.epoch = a;
        r.audit_sub_id = serial;
        true
    }
}

/// `ipproto_to_string`.
fn ipproto(n: u64) -> String {
    match n {
        0 => "ip".into(),
        1 => "icmp".into(),
        2 => "igmp".into(),
        4 => "ipip".into(),
        6 => "tcp".into(),
        8 => "egp".into(),
        12 => "pup".into(),
        17 => "udp".into(),
        22 => "idp".into(),
        29 => "tp".into(),
        33 => "dccp".into(),
        41 => "ipv6".into(),
        46 => "rsvp".into(),
        47 => "gre".into(),
        50 => "esp".into(),
        51 => "ah".into(),
        58 => "icmpv6".into(),
        92 => "mtp".into(),
        94 => "beetph".into(),
        98 => "encap".into(),
        103 => "pim".into(),
        108 => "comp".into(),
        132 => "sctp".into(),
        136 => "udplite".into(),
        137 => "mpls".into(),
        255 => "raw".into(),
        n => format!("unknown({n})"),
    }
}

const MONTHS: &[&str] = &["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Parses one log line.
#[must_use]
pub fn parse_line(line: &str) -> Record {
    let mut r = Record::default();
    let bytes = line.as_bytes();
    let bytes = bytes.get(..bytes.len().min(MAX_LINE)).unwrap_or_default();
    let mut l = Lex { s: bytes, i: 0 };
    l.ws();
    if l.eat("type=") {
        audit_type(&mut l, &mut r);
    } else if l.peek() == Some(b'[') {
        // dmesg: [stamp] audit: type=N audit(...): keys
        if dmesg_stamp(&mut l) {
            l.ws();
            if l.eat("audit:") && key_type(&mut l, &mut r) && l.audit_id(&mut r) {
                let _ = key_list(&mut l, &mut r);
            } else {
                r.event = Event::Invalid;
            }
        }
    } else if l.rest().starts_with(b"msg=") {
        l.eat("msg=");
        if l.audit_id(&mut r) {
            let _ = key_list(&mut l, &mut r);
        }
    } else {
        syslog(&mut l, &mut r);
    }
    r
}

fn dmesg_stamp(l: &mut Lex<'_>) -> bool {
    let start = l.i;
    if !l.eat("[") {
        return false;
    }
    let a = l.take_while(|c| c.is_ascii_digit() || c == b' ');
    let ok = a.len() >= 5 && l.eat(".") && l.take_while(|c| c.is_ascii_digit()).len() >= 6 && l.eat("]");
    if !ok {
        l.i = start;
    }
    ok
}

fn key_type(l: &mut Lex<'_>, r: &mut Record) -> bool {
    l.ws();
    if !l.eat("type=") {
        return false;
    }
    match l.digits() {
        Some(n) => {
            r.event = Event::from_audit_type(n);
            true
        }
        None => false,
    }
}

fn audit_type(l: &mut Lex<'_>, r: &mut Record) {
    let t = l.take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'[' | b']' | b'_' | b'-'));
    let event = match t {
        "APPARMOR_DENIED" => Some(Event::Denied),
        "APPARMOR_AUDIT" => Some(Event::Audit),
        "APPARMOR_ALLOWED" => Some(Event::Allowed),
        "APPARMOR_HINT" => Some(Event::Hint),
        "APPARMOR_STATUS" => Some(Event::Status),
        "APPARMOR_ERROR" => Some(Event::Error),
        "AVC" | "USER_AVC" => None,
        _ => match t.strip_prefix("UNKNOWN[").and_then(|x| x.strip_suffix(']')).and_then(|n| n.parse().ok()) {
            Some(n) => Some(Event::from_audit_type(n)),
            None if t.chars().all(|c| c.is_ascii_digit()) && !t.is_empty() => {
                r.event = Event::Invalid;
                return;
            }
            None => {
                // another audit type: its name as the operation, the message as info
                r.operation = Some(t.to_owned());
                r.event = Event::Invalid;
                l.ws();
                if l.eat("msg=") && l.audit_id(r) {
                    l.ws();
                    let rest = String::from_utf8_lossy(l.rest()).trim_end_matches('\n').to_owned();
                    r.info = Some(rest);
                }
                return;
            }
        },
    };
    l.ws();
    if !(l.eat("msg=") && l.audit_id(r)) {
        r.event = Event::Invalid;
        return;
    }
    if t == "USER_AVC" {
        user_msg(l, r);
        return;
    }
    if key_list(l, r)
        && let Some(e) = event
    {
        r.event = e;
    }
}

/// A user-space AVC's tail: `pid= uid= auid= ses= msg='KEYS'` (the D-Bus daemon's records).
fn user_msg(l: &mut Lex<'_>, r: &mut Record) {
    for k in ["pid=", "uid=", "auid=", "ses="] {
        l.ws();
        if !(l.eat(k) && l.digits().is_some()) {
            r.event = Event::Invalid;
            return;
        }
    }
    l.ws();
    if !l.eat("msg='") {
        r.event = Event::Invalid;
        return;
    }
    let _ = key_list(l, r);
}

/// Whether a user-space AVC tail follows (`pid=N uid=`).
fn at_user_msg(l: &Lex<'_>) -> bool {
    let rest = l.rest();
    let start = rest.iter().position(|c| !is_ws(*c)).unwrap_or(rest.len());
    let rest = rest.get(start..).unwrap_or_default();
    rest.starts_with(b"pid=") && {
        let after = rest.iter().skip(4).skip_while(|c| c.is_ascii_digit()).skip_while(|c| is_ws(**c));
        after.take(4).copied().collect::<Vec<u8>>() == b"uid="
    }
}

fn syslog(l: &mut Lex<'_>, r: &mut Record) {
    // date: `Mon DD HH:MM:SS` or `YYYY-MM-DD[T]HH:MM:SS[.frac][tz]`
    let month = MONTHS.iter().find(|m| l.rest().starts_with(m.as_bytes()));
    if let Some(m) = month {
        l.eat(m);
        l.take_while(|c| c.is_ascii_alphabetic());
        l.ws();
        if l.digits().is_none() {
            return;
        }
    } else {
        let d = l.take_while(|c| c.is_ascii_digit() || c == b'-');
        if d.len() != 10 {
            return;
        }
        if !l.eat("T") {
            l.ws();
        }
    }
    l.ws();
    let time = l.take_while(|c| c.is_ascii_digit() || matches!(c, b':' | b'.' | b'+' | b'-'));
    if time.len() < 8 {
        return;
    }
    l.ws();
    // hostname, then `kernel:` or `prog[pid]:`
    let host = l.take_while(|c| !is_ws(c));
    if host.is_empty() {
        return;
    }
    l.ws();
    if l.eat("kernel:") || (host == "kern.notice:") {
        l.ws();
        dmesg_stamp(l);
        l.ws();
        if l.eat("audit:") {
            if !key_type(l, r) || !l.audit_id(r) {
                r.event = Event::Invalid;
                return;
            }
            if at_user_msg(l) {
                user_msg(l, r);
            } else {
                let _ = key_list(l, r);
            }
            return;
        }
        if l.rest().starts_with(b"type=") && !key_type(l, r) {
            return;
        }
        if l.audit_id(r) {
            let _ = key_list(l, r);
        }
        return;
    }
    let prog = l.take_while(|c| !is_ws(c));
    let user = prog.ends_with("]:") && prog.contains('[');
    if user {
        let _ = key_list(l, r);
    }
}

/// The key list; stops at an unknown token (INVALID, the rest as info) or a value the grammar
/// does not accept (INVALID).
fn key_list(l: &mut Lex<'_>, r: &mut Record) -> bool {
    let mut any = false;
    loop {
        l.ws();
        let rest = l.rest();
        if l.peek().is_none() || (rest.first() == Some(&b'\'') && rest.iter().skip(1).all(|c| is_ws(*c))) {
            if !any {
                r.event = Event::Invalid;
            }
            return any;
        }
        let start = l.i;
        let key = l.take_while(|c| c.is_ascii_alphanumeric() || c == b'_');
        if key.is_empty() || !l.eat("=") || !known_key(key) {
            l.i = start;
            r.event = Event::Invalid;
            r.info = Some(String::from_utf8_lossy(l.rest()).trim_end_matches('\n').to_owned());
            return false;
        }
        if !value(l, r, key) {
            r.event = Event::Invalid;
            return false;
        }
        any = true;
    }
}

const KEYS: &[&str] = &[
    "apparmor",
    "type",
    "operation",
    "name",
    "name2",
    "namespace",
    "mask",
    "denied_mask",
    "requested_mask",
    "denied",
    "requested",
    "attribute",
    "task",
    "parent",
    "magic_token",
    "info",
    "peer_info",
    "pid",
    "peer_pid",
    "profile",
    "peer_profile",
    "label",
    "peer_label",
    "tcontext",
    "family",
    "sock_type",
    "protocol",
    "error",
    "fsuid",
    "FSUID",
    "ouid",
    "OUID",
    "sauid",
    "hostname",
    "addr",
    "terminal",
    "exe",
    "comm",
    "capability",
    "capname",
    "offset",
    "target",
    "laddr",
    "faddr",
    "lport",
    "fport",
    "bus",
    "path",
    "interface",
    "member",
    "method",
    "signal",
    "peer",
    "fstype",
    "flags",
    "srcname",
    "class",
    "peer_addr",
    "execpath",
    "saddr",
    "daddr",
    "src",
    "dest",
];

fn known_key(k: &str) -> bool {
    KEYS.contains(&k)
}

fn value(l: &mut Lex<'_>, r: &mut Record, key: &str) -> bool {
    macro_rules! quoted {
        ($f:expr) => {{
            match l.quoted() {
                Some(v) => {
                    $f = Some(v);
                    true
                }
                None => false,
            }
        }};
    }
    macro_rules! safe {
        ($f:expr) => {{
            match l.safe_string() {
                Some(v) => {
                    $f = Some(v);
                    true
                }
                None => false,
            }
        }};
    }
    macro_rules! num {
        ($f:expr) => {{
            match l.digits() {
                Some(v) => {
                    $f = v;
                    true
                }
                None => false,
            }
        }};
    }
    match key {
        "apparmor" => {
            let e = match l.quoted().as_deref() {
                Some("DENIED") => Event::Denied,
                Some("AUDIT") => Event::Audit,
                Some("ALLOWED") => Event::Allowed,
                Some("HINT") => Event::Hint,
                Some("STATUS") => Event::Status,
                Some("ERROR") => Event::Error,
                _ => return false,
            };
            r.event = e;
            true
        }
        "type" => match l.digits() {
            Some(n) => {
                r.event = Event::from_audit_type(n);
                true
            }
            None => false,
        },
        "operation" => quoted!(r.operation),
        "name" => safe!(r.name),
        "namespace" => safe!(r.namespace),
        "name2" | "target" => safe!(r.name2),
        "mask" | "denied_mask" | "denied" => quoted!(r.denied_mask),
        "requested_mask" | "requested" => quoted!(r.requested_mask),
        "attribute" => quoted!(r.attribute),
        "task" => num!(r.task),
        "parent" => num!(r.parent),
        "magic_token" => num!(r.magic_token),
        "info" => quoted!(r.info),
        "peer_info" => quoted!(r.peer_info),
        "peer" => quoted!(r.peer),
        "pid" => num!(r.pid),
        "peer_pid" => num!(r.peer_pid),
        "profile" | "label" => safe!(r.profile),
        "peer_profile" | "peer_label" | "tcontext" => safe!(r.peer_profile),
        "family" => quoted!(r.net_family),
        "sock_type" => quoted!(r.net_sock_type),
        "protocol" => {
            if l.peek() == Some(b'"') {
                quoted!(r.net_protocol)
            } else {
                match l.digits() {
                    Some(n) => {
                        r.net_protocol = Some(ipproto(n));
                        true
                    }
                    None => false,
                }
            }
        }
        "error" => {
            l.eat("-");
            num!(r.error_code)
        }
        "fsuid" => match l.digits() {
            Some(n) => {
                r.fsuid = Some(n);
                true
            }
            None => false,
        },
        "ouid" => match l.digits() {
            Some(n) => {
                r.ouid = Some(n);
                true
            }
            None => false,
        },
        "FSUID" | "OUID" => l.quoted().is_some(),
        "sauid" | "capability" | "offset" => l.digits().is_some(),
        "hostname" | "terminal" => l.eat("?") || l.safe_string().is_some(),
        "addr" => {
            if l.eat("?") || eat_word(l, "none") {
                true
            } else {
                safe!(r.net_addr)
            }
        }
        "peer_addr" => {
            if eat_word(l, "none") {
                true
            } else {
                safe!(r.peer_addr)
            }
        }
        "exe" | "comm" => safe!(r.comm),
        "capname" => quoted!(r.name),
        "laddr" | "faddr" | "saddr" | "daddr" => {
            let a = l.take_while(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c) || c == b'.' || c == b':');
            if a.len() < 3 {
                return false;
            }
            if matches!(key, "laddr" | "saddr") {
                r.net_local_addr = Some(a.to_owned());
            } else {
                r.net_foreign_addr = Some(a.to_owned());
            }
            true
        }
        "lport" | "src" => num!(r.net_local_port),
        "fport" | "dest" => num!(r.net_foreign_port),
        "bus" => quoted!(r.dbus_bus),
        "path" => quoted!(r.dbus_path),
        "interface" => quoted!(r.dbus_interface),
        "member" | "method" => quoted!(r.dbus_member),
        "signal" => {
            let id = l.take_while(|c| !is_ws(c) && !matches!(c, b'(' | b')' | b'=' | b'"' | b'\'' | b'!'));
            if id.is_empty() {
                return false;
            }
            r.signal = Some(id.to_owned());
            true
        }
        "fstype" => quoted!(r.fs_type),
        "flags" => quoted!(r.flags),
        "srcname" => quoted!(r.src_name),
        "execpath" => quoted!(r.execpath),
        "class" => quoted!(r.class),
        _ => false,
    }
}

fn eat_word(l: &mut Lex<'_>, w: &str) -> bool {
    let next = l.rest().get(w.len()).copied();
    if l.rest().starts_with(w.as_bytes()) && next.is_none_or(is_ws) {
        l.i += w.len();
        true
    } else {
        false
    }
}

impl Record {
    /// What upstream's `test_multi` prints after `START` and `File:`.
    #[must_use]
    pub fn print(&self) -> String {
        let mut o = String::new();
        let mut s = |label: &str, v: &Option<String>| {
            if let Some(v) = v {
                let _ = writeln!(o, "{label}: {v}");
            }
        };
        s("Event type", &Some(self.event.name().to_owned()));
        s("Audit ID", &self.audit_id);
        s("Operation", &self.operation);
        s("Mask", &self.requested_mask);
        s("Denied Mask", &self.denied_mask);
        let n = |v: u64| (v != 0).then(|| v.to_string());
        s("fsuid", &self.fsuid.map(|v| v.to_string()));
        s("ouid", &self.ouid.map(|v| v.to_string()));
        s("Profile", &self.profile);
        s("Peer profile", &self.peer_profile);
        s("Peer", &self.peer);
        s("Name", &self.name);
        s("Command", &self.comm);
        s("Name2", &self.name2);
        s("Namespace", &self.namespace);
        s("Attribute", &self.attribute);
        s("Task", &n(self.task));
        s("Parent", &n(self.parent));
        s("Token", &n(self.magic_token));
        s("Info", &self.info);
        s("Peer info", &self.peer_info);
        s("ErrorCode", &n(self.error_code));
        s("PID", &n(self.pid));
        s("Peer PID", &n(self.peer_pid));
        s("Active hat", &self.active_hat);
        s("Net Addr", &self.net_addr);
        s("Peer Addr", &self.peer_addr);
        s("Network family", &self.net_family);
        s("Socket type", &self.net_sock_type);
        s("Protocol", &self.net_protocol);
        s("Local addr", &self.net_local_addr);
        s("Foreign addr", &self.net_foreign_addr);
        s("Local port", &n(self.net_local_port));
        s("Foreign port", &n(self.net_foreign_port));
        s("DBus bus", &self.dbus_bus);
        s("DBus path", &self.dbus_path);
        s("DBus interface", &self.dbus_interface);
        s("DBus member", &self.dbus_member);
        s("Signal", &self.signal);
        s("FS Type", &self.fs_type);
        s("Flags", &self.flags);
        s("Src name", &self.src_name);
        s("Execpath", &self.execpath);
        s("Class", &self.class);
        s("Epoch", &n(self.epoch));
        s("Audit subid", &n(self.audit_sub_id));
        o
    }
}

/// A profile (or hat) and the rules proposed for it, from log events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Proposal {
    /// The profile the events name (`a//b`: hat `b` of `a`).
    pub profile: String,
    /// Rules of the top profile, in event order, without duplicates.
    pub rules: Vec<String>,
    /// Hats and their rules.
    pub hats: Vec<(String, Vec<String>)>,
}

/// Space-separated access words, sorted (as aa-logprof writes them).
fn sorted(m: &str) -> String {
    let mut w: Vec<&str> = m.split_whitespace().collect();
    w.sort_unstable();
    w.dedup();
    w.join(" ")
}

fn quote_path(p: &str) -> String {
    if p.contains(char::is_whitespace) { format!("\"{p}\"") } else { p.to_owned() }
}

/// File permissions as aa-logprof writes them, from a log mask (`r`, `wc`, `r::`, `::r`, `x`…):
/// create/delete/append-as-write become `w`, exec becomes `ix` with `mr` (an exec event), in
/// AppArmor's order `m r w a l k` then the exec mode.
fn file_perms(mask: &str, exec_event: bool) -> String {
    let mut set = std::collections::BTreeSet::new();
    let mut exec = false;
    for c in mask.chars() {
        match c {
            'r' | 'm' | 'l' | 'k' | 'a' => {
                set.insert(c);
            }
            'w' | 'c' | 'd' => {
                set.insert('w');
            }
            'x' => exec = true,
            _ => {}
        }
    }
    if exec && exec_event {
        set.insert('m');
        set.insert('r');
    }
    if set.contains(&'w') {
        set.remove(&'a');
    }
    let mut out: String = "mrwalk".chars().filter(|c| set.contains(c)).collect();
    if exec && exec_event {
        out.push_str("ix");
    }
    out
}

const FILE_OPS: &[&str] = &[
    "open",
    "exec",
    "mkdir",
    "rmdir",
    "rename_src",
    "rename_dest",
    "link",
    "symlink",
    "unlink",
    "chmod",
    "chown",
    "getattr",
    "setattr",
    "truncate",
    "file_lock",
    "file_mmap",
    "file_receive",
    "inode_permission",
    "inode_create",
    "inode_link",
    "inode_unlink",
    "inode_rename",
    "inode_setattr",
    "mknod",
    "sendfile",
];

/// The rule aa-logprof proposes for one event, with the profile it belongs to; `None` when the
/// event yields no rule (no path, no mask, not an AppArmor event).
#[must_use]
pub fn propose_rule(r: &Record) -> Option<String> {
    propose_rule_globbed(r, Glob::None)
}

/// [`propose_rule`], with a file rule's path globbed as aa-logprof's "Glob" or "Glob with
/// extension" choice would (`/var/log/app/x.log` → `/var/log/app/*` or `/var/log/app/*.log`).
#[must_use]
pub fn propose_rule_globbed(r: &Record, glob: Glob) -> Option<String> {
    // aa-logprof learns from ALLOWED (complain mode) and DENIED events only: an AUDIT record
    // logs an access the profile already allows, STATUS/ERROR/HINT records no access
    if !matches!(r.event, Event::Allowed | Event::Denied) {
        return None;
    }
    let op = r.operation.as_deref()?;
    let mask = r.denied_mask.as_deref().or(r.requested_mask.as_deref());
    if op == "capable" {
        return Some(format!("capability {},", r.name.as_deref()?));
    }
    if op.starts_with("dbus_") {
        let access = mask?;
        let bus = r.dbus_bus.as_deref()?;
        if access == "bind" {
            return Some(format!("dbus bind bus={bus} name={},", r.name.as_deref()?));
        }
        if access == "eavesdrop" {
            return Some(format!("dbus eavesdrop bus={bus},"));
        }
        let mut s = format!("dbus {access} bus={bus}");
        for (k, v) in [("path", &r.dbus_path), ("interface", &r.dbus_interface), ("member", &r.dbus_member)] {
            if let Some(v) = v {
                s.push_str(&format!(" {k}={v}"));
            }
        }
        if let Some(p) = &r.peer_profile {
            s.push_str(&format!(" peer=(label={p})"));
        }
        s.push(',');
        return Some(s);
    }
    let class = r.class.as_deref().unwrap_or_default();
    if class == "posix_mqueue" || class == "sysv_mqueue" {
        let kind = if class == "posix_mqueue" { "posix" } else { "sysv" };
        let name = r.name.as_deref().map(|n| format!(" {n}")).unwrap_or_default();
        return Some(format!("mqueue {} type={kind}{name},", sorted(mask?)));
    }
    if class == "io_uring" {
        let label = r.peer_profile.as_deref().map(|l| format!(" label={l}")).unwrap_or_default();
        return Some(format!("io_uring {}{label},", sorted(mask?)));
    }
    if class == "namespace" && op == "userns_create" {
        return Some("userns create,".to_owned());
    }
    if op == "signal" {
        return Some(format!("signal {} set={} peer={},", sorted(mask?), r.signal.as_deref()?, r.peer.as_deref()?));
    }
    if op == "ptrace" {
        return Some(format!("ptrace {} peer={},", sorted(mask?), r.peer.as_deref()?));
    }
    if op == "umount" {
        return Some(format!("umount {},", r.name.as_deref()?));
    }
    if op == "pivotroot" {
        return Some(format!("pivot_root oldroot={} {},", r.src_name.as_deref()?, r.name.as_deref()?));
    }
    if op == "mount" {
        let mut s = String::from("mount");
        if let Some(t) = &r.fs_type {
            s.push_str(&format!(" fstype={t}"));
        }
        if let Some(f) = &r.flags {
            let mut opts: Vec<&str> = f.split(',').map(str::trim).filter(|o| !o.is_empty()).collect();
            opts.sort_unstable();
            s.push_str(&format!(" options=({})", opts.join(", ")));
        }
        if let Some(src) = &r.src_name {
            s.push_str(&format!(" {src}"));
        }
        s.push_str(&format!(" -> {},", r.name.as_deref()?));
        return Some(s);
    }
    if r.net_family.as_deref() == Some("unix") {
        let access = r.denied_mask.as_deref()?;
        let mut s = format!("unix ({})", sorted(access).replace(' ', ", "));
        if let Some(t) = &r.net_sock_type {
            s.push_str(&format!(" type={t}"));
        }
        if let Some(a) = &r.net_addr {
            s.push_str(&format!(" addr={a}"));
        }
        if let Some(a) = &r.peer_addr {
            s.push_str(&format!(" peer=(addr={a})"));
        }
        if r.net_addr.is_none() && r.peer_addr.is_none() {
            return None;
        }
        s.push(',');
        return Some(s);
    }
    if r.info.as_deref() == Some("label not found") {
        return None;
    }
    if matches!(op, "change_profile" | "change_onexec") {
        return Some(format!("change_profile -> {},", r.name2.as_deref().or(r.name.as_deref())?));
    }
    if r.net_family.is_some() && r.class.as_deref().is_none_or(|c| c == "net") && r.name.is_none() {
        let mut s = String::from("network");
        if let Some(m) = mask {
            s.push_str(&format!(" ({})", sorted(m).replace(' ', ", ")));
        }
        s.push_str(&format!(" {}", r.net_family.as_deref()?));
        if let Some(t) = &r.net_sock_type {
            s.push_str(&format!(" {t}"));
        }
        if let Some(a) = &r.net_local_addr {
            s.push_str(&format!(" ip={a}"));
        }
        if r.net_local_port != 0 {
            s.push_str(&format!(" port={}", r.net_local_port));
        }
        // accesses that have no peer drop the peer conditions (`NetworkRule.from_hashlog`)
        let peerless = mask.is_some_and(|m| {
            m.split([' ', ',']).any(|a| {
                matches!(a, "create" | "bind" | "listen" | "shutdown" | "getattr" | "setattr" | "getopt" | "setopt")
            })
        });
        if !peerless && (r.net_foreign_addr.is_some() || r.net_foreign_port != 0) {
            let mut peer = Vec::new();
            if let Some(a) = &r.net_foreign_addr {
                peer.push(format!("ip={a}"));
            }
            if r.net_foreign_port != 0 {
                peer.push(format!("port={}", r.net_foreign_port));
            }
            s.push_str(&format!(" peer=({})", peer.join(" ")));
        }
        s.push(',');
        return Some(s);
    }
    if FILE_OPS.contains(&op) && r.class.as_deref().is_none_or(|c| c == "file") {
        let name = r.name.as_deref()?;
        let perms = file_perms(mask?, op == "exec");
        if perms.is_empty() {
            return None;
        }
        let owner = matches!((r.fsuid, r.ouid), (Some(a), Some(b)) if a == b)
            || mask.is_some_and(|m| m.split_once("::").is_some_and(|(own, other)| !own.is_empty() && other.is_empty()));
        return Some(format!("{}{} {perms},", if owner { "owner " } else { "" }, quote_path(&glob.apply(name))));
    }
    None
}

/// Proposals for a list of events, one per top profile, in first-seen order.
#[must_use]
pub fn propose(records: &[Record]) -> Vec<Proposal> {
    propose_globbed(records, Glob::None)
}

/// [`propose`] with file paths globbed (see [`propose_rule_globbed`]): events whose paths glob
/// to the same pattern give one rule.
#[must_use]
pub fn propose_globbed(records: &[Record], glob: Glob) -> Vec<Proposal> {
    let mut out: Vec<Proposal> = Vec::new();
    for r in records {
        if !matches!(r.event, Event::Allowed | Event::Denied) {
            continue;
        }
        let Some(mut profile) = r.profile.as_deref() else { continue };
        // an unconfined task transitioning at exec: the rule goes to the program's profile
        if profile == "unconfined"
            && let Some(exe) = r.execpath.as_deref()
        {
            profile = exe;
        }
        let (top, hat) = match profile.split_once("//") {
            Some((t, h)) => (t, Some(h)),
            None => (profile, None),
        };
        let i = match out.iter().position(|p| p.profile == top) {
            Some(i) => i,
            None => {
                out.push(Proposal { profile: top.to_owned(), ..Proposal::default() });
                out.len() - 1
            }
        };
        let Some(p) = out.get_mut(i) else { continue };
        let rule = propose_rule_globbed(r, glob);
        let list = match hat {
            None => &mut p.rules,
            Some(h) => {
                let j = match p.hats.iter().position(|(n, _)| n == h) {
                    Some(j) => j,
                    None => {
                        p.hats.push((h.to_owned(), Vec::new()));
                        p.hats.len() - 1
                    }
                };
                match p.hats.get_mut(j) {
                    Some((_, l)) => l,
                    None => continue,
                }
            }
        };
        if let Some(rule) = rule
            && !list.contains(&rule)
        {
            list.push(rule);
        }
    }
    out
}

impl Proposal {
    /// The profile as aa-logprof writes it.
    #[must_use]
    pub fn render(&self) -> String {
        let mut o = String::new();
        let header = if self.profile.starts_with('/') {
            quote_path(&self.profile)
        } else {
            format!("profile {}", quote_path(&self.profile))
        };
        let _ = writeln!(o, "{header} {{");
        for r in &self.rules {
            let _ = writeln!(o, "  {r}");
        }
        if !self.rules.is_empty() {
            o.push('\n');
        }
        for (h, rules) in &self.hats {
            let _ = writeln!(o, "\n  ^{h} {{");
            for r in rules {
                let _ = writeln!(o, "    {r}");
            }
            if !rules.is_empty() {
                o.push('\n');
            }
            o.push_str("  }\n");
        }
        o.push_str("}\n");
        o
    }
}
