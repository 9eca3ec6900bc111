//! Randomized differential test against Debian's `sshd -T` (openssh-server): random
//! configurations (global lines, drop-ins, `Match` blocks, modifiers, aliases, mistakes) are given
//! to sshd and to our evaluator; the exit (accepted/refused) and every output line must agree.
//! Needs `/usr/sbin/sshd` and root (`sshd -T` wants /run/sshd); skips visibly otherwise, fails
//! when KGUARD_REQUIRE_SHARED is set. KGUARD_SSHD_CASES sets the number of configurations (200).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::process::Command;

use kguard_node::source::MemSource;
use kguard_node::sshd::{Connection, effective};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

const LINES: &[&str] = &[
    "PermitRootLogin yes",
    "PermitRootLogin no",
    "PermitRootLogin prohibit-password",
    "PermitRootLogin without-password",
    "PermitRootLogin forced-commands-only",
    "PasswordAuthentication no",
    "PasswordAuthentication yes",
    "KbdInteractiveAuthentication no",
    "ChallengeResponseAuthentication no",
    "X11Forwarding yes",
    "X11Forwarding no",
    "AllowTcpForwarding local",
    "AllowTcpForwarding all",
    "AllowTcpForwarding no",
    "AllowAgentForwarding no",
    "MaxAuthTries 3",
    "MaxAuthTries 10",
    "LoginGraceTime 1m30s",
    "LoginGraceTime 30",
    "LoginGraceTime 0",
    "ClientAliveInterval 5m",
    "ClientAliveCountMax 0",
    "Port 2222",
    "Port 22",
    "Port 8022",
    "ListenAddress 127.0.0.1",
    "ListenAddress [::1]:2200",
    "ListenAddress 0.0.0.0:2022",
    "Ciphers -aes128-ctr,aes192-ctr",
    "Ciphers +aes128-cbc",
    "Ciphers ^aes256-gcm@openssh.com",
    "Ciphers aes256-ctr,chacha20-poly1305@openssh.com",
    "Ciphers aes*-ctr",
    "MACs +hmac-sha1-96",
    "MACs -*sha1*",
    "MACs hmac-sha2-512-etm@openssh.com",
    "KexAlgorithms ^curve25519-sha256",
    "KexAlgorithms -ecdh-*",
    "HostKeyAlgorithms -ssh-rsa*",
    "PubkeyAcceptedKeyTypes +ssh-rsa",
    "Banner /etc/issue.net",
    "Banner none",
    "AcceptEnv LANG LC_*",
    "AcceptEnv XMODIFIERS",
    "AllowUsers alice bob",
    "DenyUsers mallory",
    "AllowGroups admins",
    "MaxStartups 10:30:60",
    "MaxStartups 5",
    "LogLevel VERBOSE",
    "LogLevel debug",
    "LogLevel=INFO",
    "Compression delayed",
    "Compression no",
    "GatewayPorts clientspecified",
    "PermitTunnel point-to-point",
    "IPQoS af21 cs1",
    "IPQoS lowdelay",
    "IPQoS 0x10",
    "RekeyLimit 1G 1h",
    "RekeyLimit default none",
    "RekeyLimit 512M",
    "Subsystem sftp /usr/lib/openssh/sftp-server",
    "UseDNS yes",
    "TCPKeepAlive no",
    "ForceCommand /bin/true -x",
    "PermitUserEnvironment yes",
    "PermitEmptyPasswords yes",
    "StreamLocalBindMask 0022",
    "AuthorizedKeysFile none",
    "AuthenticationMethods publickey,password",
    "PermitOpen localhost:80",
    "SyslogFacility LOCAL3",
    "FingerprintHash md5",
    "AddressFamily inet",
    "UsePAM yes",
    "IgnoreRhosts shosts-only",
    "PerSourceMaxStartups 3",
    "PerSourceNetBlockSize 24:64",
    "DisableForwarding yes",
    "X11DisplayOffset 20",
    "Protocol 2",
    "UsePrivilegeSeparation sandbox",
    "MaxSessions 0",
    "Banner=\"/etc/issue net\"",
    "pErMiTrOoTlOgIn no",
    "Bogus yes",
    "MaxAuthTries",
    "MaxAuthTries x",
    "PermitRootLogin maybe",
];
const MATCHES: &[&str] = &[
    "Match User alice",
    "Match User bob",
    "Match User *,!root",
    "Match Address 192.0.2.0/24",
    "Match Address !192.0.2.10,*",
    "Match Host *.example.com",
    "Match Host=h.example.com",
    "Match LocalPort 22",
    "Match LocalAddress 10.0.0.1",
    "Match all",
    "Match Group admins",
    "Match User alice Address 10.0.0.0/8",
];
const IN_MATCH_BAD: &[&str] = &["Port 2022", "UsePAM yes"];

fn sshd() -> Option<&'static str> {
    let path = "/usr/sbin/sshd";
    if std::path::Path::new(path).exists() && Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout == b"0\n") {
        return Some(path);
    }
    if kguard_testkit::strict() {
        panic!("KGUARD_REQUIRE_SHARED is set but /usr/sbin/sshd (openssh-server) is missing or we are not root");
    }
    kguard_testkit::skip("sshd_differential", "needs /usr/sbin/sshd (apt-get install openssh-server) and root");
    None
}

fn config(rng: &mut Rng, lines: usize) -> String {
    let mut s = String::new();
    let mut in_match = false;
    for _ in 0..lines {
        let r = rng.next() % 10;
        if r == 0 {
            s.push_str(rng.pick(MATCHES));
            s.push('\n');
            in_match = true;
        } else if r == 1 && in_match && rng.next().is_multiple_of(8) {
            s.push_str(rng.pick(IN_MATCH_BAD));
            s.push('\n');
        } else {
            let l = rng.pick(LINES);
            if (l.starts_with("Bogus") || l == "MaxAuthTries" || l.ends_with(" x") || l.ends_with("maybe"))
                && !rng.next().is_multiple_of(4)
            {
                continue;
            }
            if in_match {
                s.push('\t')
            }
            s.push_str(l);
            s.push('\n');
        }
    }
    s
}

#[test]
fn random_configs_agree_with_sshd_t() {
    let Some(sshd) = sshd() else { return };
    let _ = std::fs::create_dir_all("/run/sshd");
    let dir = std::env::temp_dir().join(format!("kguard-sshd-diff-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("d")).unwrap();
    let key = dir.join("host");
    let ok = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status().unwrap();
    assert!(ok.success());
    let obj = dir.to_str().unwrap().to_owned();
    let n: usize = std::env::var("KGUARD_SSHD_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let spec = "user=alice,host=h.example.com,addr=192.0.2.10,laddr=10.0.0.1,lport=22";
    let conn: Connection = spec.parse().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut agree, mut disagreements) = (0, Vec::new());
    for i in 0..n {
        let k = (rng.next() % 4) as usize;
        let dropin = config(&mut rng, k);
        let k = 1 + (rng.next() % 12) as usize;
        let body = config(&mut rng, k);
        let include = if rng.next().is_multiple_of(2) { format!("Include {obj}/d/*.conf\n") } else { String::new() };
        let main = format!("{include}HostKey {obj}/host\n{body}");
        std::fs::write(dir.join("sshd_config"), &main).unwrap();
        std::fs::write(dir.join("d/10-x.conf"), &dropin).unwrap();
        let out =
            Command::new(sshd).args(["-T", "-f"]).arg(dir.join("sshd_config")).args(["-C", spec]).output().unwrap();
        let mut src = MemSource::new();
        src.insert(format!("{obj}/sshd_config"), main.clone());
        src.insert(format!("{obj}/d/10-x.conf"), dropin.clone());
        src.insert(format!("{obj}/host"), "");
        let ours = effective(&src, &format!("{obj}/sshd_config"), Some(&conn));
        let same = match (&ours, out.status.code()) {
            (Err(_), Some(255)) => true,
            (Ok(e), Some(0)) => {
                let theirs: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
                let mine = e.lines();
                if mine == theirs {
                    true
                } else {
                    let missing: Vec<&String> = theirs.iter().filter(|l| !mine.contains(l)).collect();
                    let extra: Vec<&String> = mine.iter().filter(|l| !theirs.contains(l)).collect();
                    disagreements
                        .push(format!("case {i}: sshd {missing:?} ours {extra:?}\n{main}--- drop-in\n{dropin}"));
                    false
                }
            }
            (r, code) => {
                disagreements.push(format!(
                    "case {i}: sshd exit {code:?} ({}), ours {:?}\n{main}--- drop-in\n{dropin}",
                    String::from_utf8_lossy(&out.stderr).trim(),
                    r.as_ref().err()
                ));
                false
            }
        };
        if same {
            agree += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("sshd -T differential: {agree}/{n} random configurations agree");
    for d in disagreements.iter().take(10) {
        eprintln!("  disagreement: {d}");
    }
    assert_eq!(agree, n, "{} disagreements", disagreements.len());
}
