//! The keywords of sshd_config (OpenSSH 9.2 with Debian's patches): how each is parsed, whether
//! it may appear in a `Match` block, its default as `sshd -T` prints it, and the order of
//! `sshd -T`'s output.

use super::algos::Algo;

/// How a keyword's arguments are read and kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One of the listed values (case-insensitive) → its printed form; first value wins.
    Choice(&'static [(&'static str, &'static str)]),
    /// Non-negative integer; first wins.
    Int,
    /// `convtime` seconds; first wins.
    Time,
    /// `none` or `convtime`; first wins.
    TimeOrNone,
    /// `none` or integer; first wins.
    IntOrNone,
    /// One word (a file name, a user); first wins.
    Word,
    /// The rest of the line; first wins.
    Rest,
    /// An algorithm list; first wins; assembled against the defaults at the end.
    Algos(Algo),
    /// All the words of the first line, printed on one line.
    OneLine,
    /// All the words of the first line, one printed line each.
    FirstLineEach,
    /// Every word of every line, one printed line each.
    Accumulate,
    /// One word per line, every line kept (HostKey, HostCertificate).
    AccumulateOne,
    /// `Port`.
    Port,
    /// `ListenAddress`.
    Listen,
    /// `Subsystem name command…`.
    Subsystem,
    /// `MaxStartups begin[:rate:full]` (last value wins).
    MaxStartups,
    /// `PerSourceNetBlockSize v4[:v6]`.
    NetBlock,
    /// `IPQoS interactive [bulk]`.
    IpQos,
    /// `RekeyLimit size [time]`.
    RekeyLimit,
    /// Octal umask.
    Octal,
    /// Accepted and ignored silently.
    Ignore,
    /// Accepted with a "Deprecated option" warning.
    Deprecated,
    /// Accepted with an "Unsupported option" warning.
    Unsupported,
    /// `Include`.
    Include,
    /// `Match`.
    Match,
}

/// One keyword.
#[derive(Clone, Copy, Debug)]
pub struct Keyword {
    /// The option it sets (lower case, as `sshd -T` prints it).
    pub option: &'static str,
    /// How it is parsed.
    pub kind: Kind,
    /// Allowed inside `Match` (and copied from a matching block over the global value).
    pub in_match: bool,
}

const YESNO: &[(&str, &str)] = &[("yes", "yes"), ("no", "no")];
const ROOT: &[(&str, &str)] = &[
    ("without-password", "without-password"),
    ("prohibit-password", "without-password"),
    ("forced-commands-only", "forced-commands-only"),
    ("yes", "yes"),
    ("no", "no"),
];
const FAMILY: &[(&str, &str)] = &[("inet", "inet"), ("inet6", "inet6"), ("any", "any")];
const GATEWAY: &[(&str, &str)] = &[("clientspecified", "clientspecified"), ("yes", "yes"), ("no", "no")];
const FWD: &[(&str, &str)] = &[("yes", "yes"), ("all", "yes"), ("no", "no"), ("local", "local"), ("remote", "remote")];
const COMPRESSION: &[(&str, &str)] = &[("yes", "yes"), ("delayed", "yes"), ("no", "no")];
const TUNNEL: &[(&str, &str)] =
    &[("yes", "yes"), ("point-to-point", "point-to-point"), ("ethernet", "ethernet"), ("no", "no")];
const RHOSTS: &[(&str, &str)] = &[("yes", "yes"), ("no", "no"), ("shosts-only", "shosts-only")];
const FPHASH: &[(&str, &str)] = &[("md5", "MD5"), ("sha256", "SHA256")];
const LOGLEVEL: &[(&str, &str)] = &[
    ("quiet", "QUIET"),
    ("fatal", "FATAL"),
    ("error", "ERROR"),
    ("info", "INFO"),
    ("verbose", "VERBOSE"),
    ("debug", "DEBUG"),
    ("debug1", "DEBUG"),
    ("debug2", "DEBUG2"),
    ("debug3", "DEBUG3"),
];
const FACILITY: &[(&str, &str)] = &[
    ("daemon", "DAEMON"),
    ("user", "USER"),
    ("auth", "AUTH"),
    ("authpriv", "AUTHPRIV"),
    ("local0", "LOCAL0"),
    ("local1", "LOCAL1"),
    ("local2", "LOCAL2"),
    ("local3", "LOCAL3"),
    ("local4", "LOCAL4"),
    ("local5", "LOCAL5"),
    ("local6", "LOCAL6"),
    ("local7", "LOCAL7"),
];
const PKOPTS: &[(&str, &str)] =
    &[("none", "none"), ("touch-required", "touch-required"), ("verify-required", "verify-required")];

const fn kw(option: &'static str, kind: Kind, in_match: bool) -> Keyword {
    Keyword { option, kind, in_match }
}

/// Looks up a keyword (case-insensitive), following aliases.
#[must_use]
pub fn lookup(name: &str) -> Option<Keyword> {
    use Kind::*;
    let lower = name.to_ascii_lowercase();
    let k = match lower.as_str() {
        "port" => kw("port", Port, false),
        "listenaddress" => kw("listenaddress", Listen, false),
        "addressfamily" => kw("addressfamily", Choice(FAMILY), false),
        "usepam" => kw("usepam", Choice(YESNO), false),
        "logingracetime" => kw("logingracetime", Time, false),
        "x11displayoffset" => kw("x11displayoffset", Int, true),
        "maxauthtries" => kw("maxauthtries", Int, true),
        "maxsessions" => kw("maxsessions", Int, true),
        "clientaliveinterval" => kw("clientaliveinterval", Time, true),
        "clientalivecountmax" => kw("clientalivecountmax", Int, true),
        "requiredrsasize" => kw("requiredrsasize", Int, true),
        "streamlocalbindmask" => kw("streamlocalbindmask", Octal, true),
        "unusedconnectiontimeout" => kw("unusedconnectiontimeout", TimeOrNone, true),
        "permitrootlogin" => kw("permitrootlogin", Choice(ROOT), true),
        "ignorerhosts" => kw("ignorerhosts", Choice(RHOSTS), true),
        "ignoreuserknownhosts" => kw("ignoreuserknownhosts", Choice(YESNO), false),
        "hostbasedauthentication" => kw("hostbasedauthentication", Choice(YESNO), true),
        "hostbasedusesnamefrompacketonly" => kw("hostbasedusesnamefrompacketonly", Choice(YESNO), true),
        "pubkeyauthentication" | "dsaauthentication" => kw("pubkeyauthentication", Choice(YESNO), true),
        "kerberosauthentication" => kw("kerberosauthentication", Choice(YESNO), true),
        "kerberosorlocalpasswd" => kw("kerberosorlocalpasswd", Choice(YESNO), false),
        "kerberosticketcleanup" => kw("kerberosticketcleanup", Choice(YESNO), false),
        "gssapiauthentication" => kw("gssapiauthentication", Choice(YESNO), true),
        "gssapicleanupcredentials" => kw("gssapicleanupcredentials", Choice(YESNO), false),
        "gssapikeyexchange" => kw("gssapikeyexchange", Choice(YESNO), false),
        "gssapistrictacceptorcheck" => kw("gssapistrictacceptorcheck", Choice(YESNO), false),
        "gssapistorecredentialsonrekey" => kw("gssapistorecredentialsonrekey", Choice(YESNO), false),
        "gssapikexalgorithms" => kw("gssapikexalgorithms", Algos(Algo::GssKex), false),
        "passwordauthentication" => kw("passwordauthentication", Choice(YESNO), true),
        "kbdinteractiveauthentication" | "challengeresponseauthentication" => {
            kw("kbdinteractiveauthentication", Choice(YESNO), true)
        }
        "printmotd" => kw("printmotd", Choice(YESNO), false),
        "printlastlog" => kw("printlastlog", Choice(YESNO), false),
        "x11forwarding" => kw("x11forwarding", Choice(YESNO), true),
        "x11uselocalhost" => kw("x11uselocalhost", Choice(YESNO), true),
        "permittty" => kw("permittty", Choice(YESNO), true),
        "permituserrc" => kw("permituserrc", Choice(YESNO), true),
        "strictmodes" => kw("strictmodes", Choice(YESNO), false),
        "tcpkeepalive" | "keepalive" => kw("tcpkeepalive", Choice(YESNO), false),
        "permitemptypasswords" => kw("permitemptypasswords", Choice(YESNO), true),
        "compression" => kw("compression", Choice(COMPRESSION), false),
        "gatewayports" => kw("gatewayports", Choice(GATEWAY), true),
        "usedns" => kw("usedns", Choice(YESNO), false),
        "allowtcpforwarding" => kw("allowtcpforwarding", Choice(FWD), true),
        "allowagentforwarding" => kw("allowagentforwarding", Choice(YESNO), true),
        "disableforwarding" => kw("disableforwarding", Choice(YESNO), true),
        "allowstreamlocalforwarding" => kw("allowstreamlocalforwarding", Choice(FWD), true),
        "streamlocalbindunlink" => kw("streamlocalbindunlink", Choice(YESNO), true),
        "fingerprinthash" => kw("fingerprinthash", Choice(FPHASH), false),
        "exposeauthinfo" => kw("exposeauthinfo", Choice(YESNO), true),
        "pidfile" => kw("pidfile", Word, false),
        "modulifile" => kw("modulifile", Word, false),
        "xauthlocation" => kw("xauthlocation", Word, false),
        "ciphers" => kw("ciphers", Algos(Algo::Ciphers), false),
        "macs" => kw("macs", Algos(Algo::Macs), false),
        "banner" => kw("banner", Word, true),
        "forcecommand" => kw("forcecommand", Rest, true),
        "chrootdirectory" => kw("chrootdirectory", Word, true),
        "trustedusercakeys" => kw("trustedusercakeys", Word, true),
        "revokedkeys" => kw("revokedkeys", Word, true),
        "securitykeyprovider" => kw("securitykeyprovider", Word, false),
        "authorizedprincipalsfile" => kw("authorizedprincipalsfile", Word, true),
        "versionaddendum" => kw("versionaddendum", Rest, false),
        "authorizedkeyscommand" => kw("authorizedkeyscommand", Rest, true),
        "authorizedkeyscommanduser" => kw("authorizedkeyscommanduser", Word, true),
        "authorizedprincipalscommand" => kw("authorizedprincipalscommand", Rest, true),
        "authorizedprincipalscommanduser" => kw("authorizedprincipalscommanduser", Word, true),
        "hostkeyagent" => kw("hostkeyagent", Word, false),
        "kexalgorithms" => kw("kexalgorithms", Algos(Algo::Kex), false),
        "casignaturealgorithms" => kw("casignaturealgorithms", Algos(Algo::CaSig), true),
        "hostbasedacceptedalgorithms" | "hostbasedacceptedkeytypes" => {
            kw("hostbasedacceptedalgorithms", Algos(Algo::KeyTypes), true)
        }
        "hostkeyalgorithms" => kw("hostkeyalgorithms", Algos(Algo::KeyTypes), false),
        "pubkeyacceptedalgorithms" | "pubkeyacceptedkeytypes" => {
            kw("pubkeyacceptedalgorithms", Algos(Algo::KeyTypes), true)
        }
        "loglevel" => kw("loglevel", Choice(LOGLEVEL), true),
        "syslogfacility" => kw("syslogfacility", Choice(FACILITY), false),
        "authorizedkeysfile" | "authorizedkeysfile2" => kw("authorizedkeysfile", OneLine, true),
        "hostkey" => kw("hostkey", AccumulateOne, false),
        "hostcertificate" => kw("hostcertificate", AccumulateOne, false),
        "allowusers" => kw("allowusers", Accumulate, true),
        "denyusers" => kw("denyusers", Accumulate, true),
        "allowgroups" => kw("allowgroups", Accumulate, true),
        "denygroups" => kw("denygroups", Accumulate, true),
        "acceptenv" => kw("acceptenv", Accumulate, true),
        "setenv" => kw("setenv", FirstLineEach, true),
        "authenticationmethods" => kw("authenticationmethods", OneLine, true),
        "logverbose" => kw("logverbose", OneLine, true),
        "subsystem" => kw("subsystem", Subsystem, false),
        "maxstartups" => kw("maxstartups", MaxStartups, false),
        "persourcemaxstartups" => kw("persourcemaxstartups", IntOrNone, false),
        "persourcenetblocksize" => kw("persourcenetblocksize", NetBlock, false),
        "permittunnel" => kw("permittunnel", Choice(TUNNEL), true),
        "ipqos" => kw("ipqos", IpQos, true),
        "rekeylimit" => kw("rekeylimit", RekeyLimit, true),
        "permitopen" => kw("permitopen", OneLine, true),
        "permitlisten" => kw("permitlisten", OneLine, true),
        "permituserenvironment" => kw("permituserenvironment", Word, false),
        "pubkeyauthoptions" => kw("pubkeyauthoptions", Choice(PKOPTS), true),
        "debianbanner" => kw("debianbanner", Choice(YESNO), false),
        "rdomain" => kw("rdomain", Word, true),
        "channeltimeout" => kw("channeltimeout", OneLine, true),
        "include" => kw("include", Include, true),
        "match" => kw("match", Match, true),
        "protocol" => kw("protocol", Ignore, false),
        "useprivilegeseparation"
        | "serverkeybits"
        | "keyregenerationinterval"
        | "rhostsrsaauthentication"
        | "rsaauthentication"
        | "uselogin"
        | "pamauthenticationviakbdint"
        | "verifyreversemapping"
        | "reversemappingcheck"
        | "skeyauthentication" => kw("deprecated", Deprecated, false),
        "kerberosgetafstoken" => kw("unsupported", Unsupported, false),
        _ => return None,
    };
    Some(k)
}

/// `sshd -T`'s output order and, for each option, its default (empty: printed only when set).
pub const ORDER: &[(&str, &[&str])] = &[
    ("port", &[]),
    ("addressfamily", &["any"]),
    ("listenaddress", &[]),
    ("usepam", &["no"]),
    ("logingracetime", &["120"]),
    ("x11displayoffset", &["10"]),
    ("maxauthtries", &["6"]),
    ("maxsessions", &["10"]),
    ("clientaliveinterval", &["0"]),
    ("clientalivecountmax", &["3"]),
    ("requiredrsasize", &["1024"]),
    ("streamlocalbindmask", &["0177"]),
    ("unusedconnectiontimeout", &["none"]),
    ("permitrootlogin", &["without-password"]),
    ("ignorerhosts", &["yes"]),
    ("ignoreuserknownhosts", &["no"]),
    ("hostbasedauthentication", &["no"]),
    ("hostbasedusesnamefrompacketonly", &["no"]),
    ("pubkeyauthentication", &["yes"]),
    ("kerberosauthentication", &["no"]),
    ("kerberosorlocalpasswd", &["yes"]),
    ("kerberosticketcleanup", &["yes"]),
    ("gssapiauthentication", &["no"]),
    ("gssapicleanupcredentials", &["yes"]),
    ("gssapikeyexchange", &["no"]),
    ("gssapistrictacceptorcheck", &["yes"]),
    ("gssapistorecredentialsonrekey", &["no"]),
    ("gssapikexalgorithms", &[super::algos::GSSKEX_DEFAULT]),
    ("passwordauthentication", &["yes"]),
    ("kbdinteractiveauthentication", &["yes"]),
    ("printmotd", &["yes"]),
    ("printlastlog", &["yes"]),
    ("x11forwarding", &["no"]),
    ("x11uselocalhost", &["yes"]),
    ("permittty", &["yes"]),
    ("permituserrc", &["yes"]),
    ("strictmodes", &["yes"]),
    ("tcpkeepalive", &["yes"]),
    ("permitemptypasswords", &["no"]),
    ("compression", &["yes"]),
    ("gatewayports", &["no"]),
    ("usedns", &["no"]),
    ("allowtcpforwarding", &["yes"]),
    ("allowagentforwarding", &["yes"]),
    ("disableforwarding", &["no"]),
    ("allowstreamlocalforwarding", &["yes"]),
    ("streamlocalbindunlink", &["no"]),
    ("fingerprinthash", &["SHA256"]),
    ("exposeauthinfo", &["no"]),
    ("pidfile", &["/run/sshd.pid"]),
    ("modulifile", &["/etc/ssh/moduli"]),
    ("xauthlocation", &["/usr/bin/xauth"]),
    ("ciphers", &[super::algos::CIPHERS_DEFAULT]),
    ("macs", &[super::algos::MACS_DEFAULT]),
    ("banner", &["none"]),
    ("forcecommand", &["none"]),
    ("chrootdirectory", &["none"]),
    ("trustedusercakeys", &["none"]),
    ("revokedkeys", &["none"]),
    ("securitykeyprovider", &["internal"]),
    ("authorizedprincipalsfile", &["none"]),
    ("versionaddendum", &["none"]),
    ("authorizedkeyscommand", &["none"]),
    ("authorizedkeyscommanduser", &["none"]),
    ("authorizedprincipalscommand", &["none"]),
    ("authorizedprincipalscommanduser", &["none"]),
    ("hostkeyagent", &["none"]),
    ("kexalgorithms", &[super::algos::KEX_DEFAULT]),
    ("casignaturealgorithms", &[super::algos::CASIG_DEFAULT]),
    ("hostbasedacceptedalgorithms", &[super::algos::KEYTYPES_DEFAULT]),
    ("hostkeyalgorithms", &[super::algos::KEYTYPES_DEFAULT]),
    ("pubkeyacceptedalgorithms", &[super::algos::KEYTYPES_DEFAULT]),
    ("loglevel", &["INFO"]),
    ("syslogfacility", &["AUTH"]),
    ("authorizedkeysfile", &[".ssh/authorized_keys .ssh/authorized_keys2"]),
    ("hostkey", &["/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ecdsa_key", "/etc/ssh/ssh_host_ed25519_key"]),
    ("hostcertificate", &[]),
    ("allowusers", &[]),
    ("denyusers", &[]),
    ("allowgroups", &[]),
    ("denygroups", &[]),
    ("acceptenv", &[]),
    ("setenv", &[]),
    ("authenticationmethods", &["any"]),
    ("logverbose", &[]),
    ("subsystem", &[]),
    ("maxstartups", &["10:30:100"]),
    ("persourcemaxstartups", &["none"]),
    ("persourcenetblocksize", &["32:128"]),
    ("permittunnel", &["no"]),
    ("ipqos", &["lowdelay throughput"]),
    ("rekeylimit", &["0 0"]),
    ("permitopen", &["any"]),
    ("permitlisten", &["any"]),
    ("permituserenvironment", &["no"]),
    ("pubkeyauthoptions", &["none"]),
];
