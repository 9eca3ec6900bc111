//! Findings on sshd's effective configuration, judged with dev-sec ssh-baseline's expected values
//! (`controls/sshd_spec.rb` @975dff3; crypto lists for OpenSSH ≥ 8.5 from `libraries/ssh_crypto.rb`).
//! Each finding names the line that decided the value (`file:line`), or says it is sshd's default.

use std::sync::Arc;

use kguard_model::{Location, Pos};
use kguard_report::{Finding, RuleMeta, Severity};

use super::Effective;

const SSHD_DOC: &str = "https://man.openbsd.org/sshd_config";
const DEVSEC: &str = "https://github.com/dev-sec/ssh-baseline/blob/master/controls/sshd_spec.rb";

/// dev-sec's ciphers for OpenSSH ≥ 8.5.
pub const VALID_CIPHERS: &str =
    "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr";
/// dev-sec's key exchange algorithms for OpenSSH ≥ 8.5.
pub const VALID_KEXS: &str =
    "sntrup761x25519-sha512@openssh.com,curve25519-sha256@libssh.org,diffie-hellman-group-exchange-sha256";
/// dev-sec's MACs for OpenSSH ≥ 8.5.
pub const VALID_MACS: &str =
    "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-512,hmac-sha2-256";

macro_rules! rule {
    ($c:ident, $id:literal, $name:literal, $sev:ident, $title:literal, $what:literal, $why:literal, $fix:literal, $alias:literal) => {
        #[doc = $title]
        pub const $c: RuleMeta = RuleMeta {
            id: $id,
            name: $name,
            family: "node-sshd",
            severity: Severity::$sev,
            title: $title,
            what: $what,
            why: $why,
            fix: $fix,
            references: &[SSHD_DOC, DEVSEC],
            aliases: &[$alias],
            opt_in: false,
        };
    };
}

rule!(
    ROOT_LOGIN,
    "SSH001",
    "sshd-root-login",
    High,
    "sshd lets root log in with a password",
    "PermitRootLogin is yes or forced-commands-only in sshd's effective configuration (dev-sec sshd-06 accepts no, without-password, prohibit-password).",
    "A root password login is the most attacked account on any exposed node; a node should be reached as a named user and escalate with audit.",
    "Set `PermitRootLogin no` (or prohibit-password) before any Include that could set it, in the file sshd reads first.",
    "sshd-06"
);
rule!(
    PASSWORD_AUTH,
    "SSH002",
    "sshd-password-authentication",
    High,
    "sshd accepts password authentication",
    "PasswordAuthentication is yes (dev-sec sshd-27 expects no).",
    "Passwords can be guessed and phished; keys cannot be brute-forced over the network.",
    "Set `PasswordAuthentication no` (on Debian, in a file of /etc/ssh/sshd_config.d/ that sorts first).",
    "sshd-27"
);
rule!(
    KBD_INTERACTIVE,
    "SSH003",
    "sshd-kbd-interactive",
    Medium,
    "sshd accepts keyboard-interactive authentication",
    "KbdInteractiveAuthentication (ChallengeResponseAuthentication) is yes (dev-sec sshd-29 expects no).",
    "With PAM, keyboard-interactive is password authentication by another name.",
    "Set `KbdInteractiveAuthentication no`.",
    "sshd-29"
);
rule!(
    EMPTY_PASSWORDS,
    "SSH004",
    "sshd-empty-passwords",
    Critical,
    "sshd accepts empty passwords",
    "PermitEmptyPasswords is yes (dev-sec sshd-28 expects no).",
    "An account without a password becomes a login without credentials.",
    "Set `PermitEmptyPasswords no`.",
    "sshd-28"
);
rule!(
    X11_FORWARDING,
    "SSH005",
    "sshd-x11-forwarding",
    Low,
    "sshd allows X11 forwarding",
    "X11Forwarding is yes (dev-sec sshd-42 expects no).",
    "X11 forwarding exposes the client's display to the node and is not needed on a server.",
    "Set `X11Forwarding no`.",
    "sshd-42"
);
rule!(
    AGENT_FORWARDING,
    "SSH006",
    "sshd-agent-forwarding",
    Medium,
    "sshd allows agent forwarding",
    "AllowAgentForwarding is yes (dev-sec sshd-40 expects no).",
    "Whoever is root on the node can use a forwarded agent to log in wherever the user's keys open.",
    "Set `AllowAgentForwarding no`.",
    "sshd-40"
);
rule!(
    TCP_FORWARDING,
    "SSH007",
    "sshd-tcp-forwarding",
    Medium,
    "sshd allows TCP forwarding",
    "AllowTcpForwarding is not no (dev-sec sshd-39 expects no).",
    "Port forwarding turns the node into a pivot into the cluster network (kubelet, etcd, pods).",
    "Set `AllowTcpForwarding no`.",
    "sshd-39"
);
rule!(
    MAX_AUTH_TRIES,
    "SSH008",
    "sshd-max-auth-tries",
    Low,
    "sshd allows more authentication attempts than dev-sec's 2",
    "MaxAuthTries is above 2 (dev-sec sshd-19).",
    "More attempts per connection make online guessing cheaper.",
    "Set `MaxAuthTries 2`.",
    "sshd-19"
);
rule!(
    LOGIN_GRACE_TIME,
    "SSH009",
    "sshd-login-grace-time",
    Low,
    "sshd waits longer than 30 s for a login",
    "LoginGraceTime is above 30 seconds (dev-sec sshd-18 expects 30s).",
    "Unauthenticated connections held open exhaust MaxStartups (a cheap denial of service).",
    "Set `LoginGraceTime 30s`.",
    "sshd-18"
);
rule!(
    WEAK_CIPHERS,
    "SSH010",
    "sshd-weak-ciphers",
    Medium,
    "sshd offers ciphers outside dev-sec's list",
    "The effective Ciphers include an algorithm dev-sec's list for OpenSSH ≥ 8.5 does not (sshd-01).",
    "CBC modes and 3DES have known weaknesses; a server should offer only AEAD and CTR ciphers.",
    "Set `Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr`.",
    "sshd-01"
);
rule!(
    WEAK_MACS,
    "SSH011",
    "sshd-weak-macs",
    Medium,
    "sshd offers MACs outside dev-sec's list",
    "The effective MACs include an algorithm dev-sec's list does not (sshd-03): SHA-1, MD5, 64-bit UMAC or encrypt-and-MAC modes.",
    "Weak or encrypt-and-MAC integrity algorithms weaken the channel.",
    "Set `MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com`.",
    "sshd-03"
);
rule!(
    WEAK_KEX,
    "SSH012",
    "sshd-weak-kex",
    Medium,
    "sshd offers key exchanges outside dev-sec's list",
    "The effective KexAlgorithms include an algorithm dev-sec's list does not (sshd-02).",
    "SHA-1 and small-group Diffie-Hellman and the NIST curves are not what a hardened server offers.",
    "Set `KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256@libssh.org,diffie-hellman-group-exchange-sha256`.",
    "sshd-02"
);
rule!(
    WEAK_HOSTKEY,
    "SSH013",
    "sshd-weak-hostkey-algorithms",
    Medium,
    "sshd offers SHA-1 or DSA host key algorithms",
    "HostKeyAlgorithms include ssh-rsa (RSA with SHA-1) or ssh-dss (dev-sec sshd-14 allows rsa, ecdsa and ed25519 keys).",
    "SHA-1 signatures are forgeable with chosen-prefix collisions; DSA keys are 1024-bit.",
    "Remove ssh-rsa and ssh-dss from HostKeyAlgorithms (`HostKeyAlgorithms -ssh-rsa*,ssh-dss*`).",
    "sshd-14"
);
rule!(
    USER_ENVIRONMENT,
    "SSH014",
    "sshd-permit-user-environment",
    Medium,
    "sshd reads users' environment files",
    "PermitUserEnvironment is not no (dev-sec sshd-17).",
    "~/.ssh/environment can set LD_PRELOAD and bypass ForceCommand restrictions.",
    "Set `PermitUserEnvironment no`.",
    "sshd-17"
);

/// Every sshd rule.
pub const RULES: &[RuleMeta] = &[
    ROOT_LOGIN,
    PASSWORD_AUTH,
    KBD_INTERACTIVE,
    EMPTY_PASSWORDS,
    X11_FORWARDING,
    AGENT_FORWARDING,
    TCP_FORWARDING,
    MAX_AUTH_TRIES,
    LOGIN_GRACE_TIME,
    WEAK_CIPHERS,
    WEAK_MACS,
    WEAK_KEX,
    WEAK_HOSTKEY,
    USER_ENVIRONMENT,
];

fn outside(list: &str, allowed: &str) -> Vec<String> {
    list.split(',').filter(|a| !allowed.split(',').any(|b| b == *a)).map(str::to_owned).collect()
}

/// The findings of an effective configuration.
#[must_use]
pub fn check(eff: &Effective) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut emit = |rule: &RuleMeta, option: &str, detail: String| {
        let setting = eff.get(option);
        let (location, source) = match setting.and_then(|s| s.origin.as_ref()) {
            Some(o) => (
                Some(Location {
                    file: Arc::from(o.file.as_str()),
                    pos: Some(Pos { line: u32::try_from(o.line).unwrap_or(u32::MAX), column: 1 }),
                }),
                format!("set at {o}"),
            ),
            None => (None, "sshd's default".to_owned()),
        };
        let mut f = Finding::new(rule, format!("{detail} ({source})"), None, Some(option.to_owned()), location);
        f.pointer = Some(Arc::from(option));
        out.push(f);
    };
    let v = |o: &str| eff.value(o).unwrap_or("").to_owned();
    let num = |o: &str| eff.value(o).and_then(|s| s.parse::<i64>().ok());
    let prl = v("permitrootlogin");
    if prl == "yes" || prl == "forced-commands-only" {
        emit(&ROOT_LOGIN, "permitrootlogin", format!("permitrootlogin {prl}"));
    }
    for (rule, opt, bad) in [
        (&PASSWORD_AUTH, "passwordauthentication", "yes"),
        (&KBD_INTERACTIVE, "kbdinteractiveauthentication", "yes"),
        (&EMPTY_PASSWORDS, "permitemptypasswords", "yes"),
        (&X11_FORWARDING, "x11forwarding", "yes"),
        (&AGENT_FORWARDING, "allowagentforwarding", "yes"),
    ] {
        if v(opt) == bad {
            emit(rule, opt, format!("{opt} {bad}"));
        }
    }
    let tcp = v("allowtcpforwarding");
    if tcp != "no" && v("disableforwarding") != "yes" {
        emit(&TCP_FORWARDING, "allowtcpforwarding", format!("allowtcpforwarding {tcp}"));
    }
    if let Some(n) = num("maxauthtries").filter(|n| *n > 2) {
        emit(&MAX_AUTH_TRIES, "maxauthtries", format!("maxauthtries {n}, dev-sec expects 2"));
    }
    if let Some(n) = num("logingracetime").filter(|n| *n > 30 || *n == 0) {
        emit(&LOGIN_GRACE_TIME, "logingracetime", format!("logingracetime {n} s, dev-sec expects 30"));
    }
    for (rule, opt, allowed) in [
        (&WEAK_CIPHERS, "ciphers", VALID_CIPHERS),
        (&WEAK_MACS, "macs", VALID_MACS),
        (&WEAK_KEX, "kexalgorithms", VALID_KEXS),
    ] {
        let extra = outside(&v(opt), allowed);
        if !extra.is_empty() {
            emit(rule, opt, format!("{opt} includes {}", extra.join(",")));
        }
    }
    let weak_hk: Vec<&str> = v("hostkeyalgorithms")
        .split(',')
        .filter(|a| a.starts_with("ssh-rsa") || a.starts_with("ssh-dss"))
        .map(|_| "")
        .collect();
    if !weak_hk.is_empty() {
        let names: Vec<String> = v("hostkeyalgorithms")
            .split(',')
            .filter(|a| a.starts_with("ssh-rsa") || a.starts_with("ssh-dss"))
            .map(str::to_owned)
            .collect();
        emit(&WEAK_HOSTKEY, "hostkeyalgorithms", format!("hostkeyalgorithms includes {}", names.join(",")));
    }
    let pue = v("permituserenvironment");
    if pue != "no" {
        emit(&USER_ENVIRONMENT, "permituserenvironment", format!("permituserenvironment {pue}"));
    }
    out
}
