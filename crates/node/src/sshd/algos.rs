//! The algorithm names OpenSSH 9.2 (Debian 12's build) knows, its defaults, and
//! `kex_assemble_names` (`+` append, `-` remove, `^` prepend, wildcard patterns).

use super::matching::{match_pattern, match_pattern_list};

pub const CIPHERS_ALL: &str = "3des-cbc,aes128-cbc,aes192-cbc,aes256-cbc,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com";
pub const CIPHERS_DEFAULT: &str =
    "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com";
pub const MACS_ALL: &str = "hmac-sha1,hmac-sha1-96,hmac-sha2-256,hmac-sha2-512,hmac-md5,hmac-md5-96,umac-64@openssh.com,umac-128@openssh.com,hmac-sha1-etm@openssh.com,hmac-sha1-96-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-md5-etm@openssh.com,hmac-md5-96-etm@openssh.com,umac-64-etm@openssh.com,umac-128-etm@openssh.com";
pub const MACS_DEFAULT: &str = "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1";
pub const KEX_ALL: &str = "diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group14-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha1,diffie-hellman-group-exchange-sha256,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,curve25519-sha256,curve25519-sha256@libssh.org,sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com";
pub const KEX_DEFAULT: &str = "sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256";
pub const KEYTYPES_ALL: &str = "ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,sk-ssh-ed25519@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521,ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,webauthn-sk-ecdsa-sha2-nistp256@openssh.com,ssh-dss,ssh-dss-cert-v01@openssh.com,ssh-rsa,ssh-rsa-cert-v01@openssh.com,rsa-sha2-256,rsa-sha2-256-cert-v01@openssh.com,rsa-sha2-512,rsa-sha2-512-cert-v01@openssh.com";
pub const KEYTYPES_DEFAULT: &str = "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256";
pub const CASIG_DEFAULT: &str = "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256";
pub const GSSKEX_DEFAULT: &str = "gss-group14-sha256-,gss-group16-sha512-,gss-nistp256-sha256-,gss-curve25519-sha256-,gss-group14-sha1-,gss-gex-sha1-";

/// Which list a keyword names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algo {
    Ciphers,
    Macs,
    Kex,
    /// Host key, public key, host-based and CA signature algorithms (wildcards allowed).
    KeyTypes,
    CaSig,
    GssKex,
}

impl Algo {
    /// (all names, default list).
    #[must_use]
    pub fn lists(self) -> (&'static str, &'static str) {
        match self {
            Self::Ciphers => (CIPHERS_ALL, CIPHERS_DEFAULT),
            Self::Macs => (MACS_ALL, MACS_DEFAULT),
            Self::Kex => (KEX_ALL, KEX_DEFAULT),
            Self::KeyTypes => (KEYTYPES_ALL, KEYTYPES_DEFAULT),
            Self::CaSig => (KEYTYPES_ALL, CASIG_DEFAULT),
            Self::GssKex => (
                "gss-group1-sha1-,gss-group14-sha1-,gss-gex-sha1-,gss-group14-sha256-,gss-group16-sha512-,gss-nistp256-sha256-,gss-curve25519-sha256-",
                GSSKEX_DEFAULT,
            ),
        }
    }

    /// The parse-time validity check (`ciphers_valid`, `mac_valid`, `kex_names_valid`,
    /// `sshkey_names_valid2(…, 1)`), after a leading `+`/`^` is removed (`-` lists are not checked).
    #[must_use]
    pub fn valid(self, arg: &str) -> bool {
        if arg.starts_with('-') {
            return true;
        }
        let list = arg.strip_prefix(['+', '^']).unwrap_or(arg);
        let (all, _) = self.lists();
        if list.is_empty() {
            return false;
        }
        list.split(',').all(|name| {
            if name.is_empty() {
                return false;
            }
            if matches!(self, Self::KeyTypes | Self::CaSig) && name.contains(['*', '?']) {
                return all.split(',').any(|k| match_pattern_list(k, name, false) == 1);
            }
            all.split(',').any(|k| k == name)
        })
    }
}

fn names_cat(a: &str, b: &str) -> String {
    let mut out: Vec<&str> = a.split(',').filter(|s| !s.is_empty()).collect();
    for n in b.split(',') {
        if !n.is_empty() && !out.contains(&n) {
            out.push(n);
        }
    }
    out.join(",")
}

/// `kex_assemble_names(list, default, all)`: the effective list, `None` when it is empty or
/// uses a negated pattern.
#[must_use]
pub fn assemble(list: Option<&str>, algo: Algo) -> Option<String> {
    let (all, def) = algo.lists();
    let Some(list) = list.filter(|l| !l.is_empty()) else { return Some(def.to_owned()) };
    let list = if let Some(add) = list.strip_prefix('+') {
        names_cat(def, add)
    } else if let Some(del) = list.strip_prefix('-') {
        let kept: Vec<&str> = def.split(',').filter(|n| match_pattern_list(n, del, false) != 1).collect();
        return Some(kept.join(","));
    } else if let Some(head) = list.strip_prefix('^') {
        names_cat(head, def)
    } else {
        list.to_owned()
    };
    let mut ret = String::new();
    for pat in list.split(',') {
        if pat.starts_with('!') {
            return None;
        }
        let matching: Vec<&str> = all.split(',').filter(|n| match_pattern(n, pat)).collect();
        ret = names_cat(&ret, &matching.join(","));
    }
    (!ret.is_empty()).then_some(ret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modifiers() {
        assert_eq!(
            assemble(Some("-aes128-ctr,aes192-ctr"), Algo::Ciphers).unwrap(),
            "chacha20-poly1305@openssh.com,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com"
        );
        assert_eq!(assemble(Some("+hmac-sha1"), Algo::Macs).unwrap(), MACS_DEFAULT);
        assert!(
            assemble(Some("^curve25519-sha256"), Algo::Kex)
                .unwrap()
                .starts_with("curve25519-sha256,sntrup761x25519-sha512,")
        );
        assert_eq!(assemble(Some("aes*-ctr"), Algo::Ciphers).unwrap(), "aes128-ctr,aes192-ctr,aes256-ctr");
        assert!(Algo::Ciphers.valid("+aes128-cbc") && !Algo::Ciphers.valid("blowfish-cbc"));
    }
}
