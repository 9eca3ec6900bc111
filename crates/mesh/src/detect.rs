//! PERMISSIVE-port detection: is the first thing a client sends a TLS ClientHello, and which SNI
//! does it name? Parsed as linkerd2-proxy's `linkerd-tls` `parse_sni` does (same accept, reject
//! and "need more bytes" answers for every prefix), then driven over a growing buffer as its
//! `DetectTls` does: a 512-byte peek first, then more bytes up to a capacity, every byte read kept
//! so the proxy replays it to whichever side (mTLS termination or plaintext) takes the connection.
//!
//! Pure: bytes in, a verdict out. The proxy owns the socket and the timeout.

/// What the bytes so far say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sni {
    /// Not enough bytes yet: the TLS record header matched but the whole record is not there.
    Incomplete,
    /// Affirmatively not a ClientHello we can use (plaintext, another TLS record, no SNI, a
    /// name that is not a DNS name): treat the connection as plaintext.
    None,
    /// A ClientHello naming this server name (lowercase ASCII).
    Name(String),
}

/// The largest vector length accepted anywhere in the ClientHello (linkerd's bound: a huge
/// record is not a proxy's hello).
pub const MAX_VECTOR: usize = 8192;

#[derive(Debug)]
struct EndOfInput;

type R<T> = Result<T, EndOfInput>;

/// A cursor with `untrusted::Reader`'s semantics (what `parse_sni` is written against).
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> R<u8> {
        let (&b, rest) = self.buf.split_first().ok_or(EndOfInput)?;
        self.buf = rest;
        Ok(b)
    }
    fn u16(&mut self) -> R<u16> {
        let hi = self.byte()?;
        let lo = self.byte()?;
        Ok(u16::from(hi) << 8 | u16::from(lo))
    }
    fn bytes(&mut self, n: usize) -> R<&'a [u8]> {
        if n > self.buf.len() {
            return Err(EndOfInput);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    fn at_end(&self) -> bool {
        self.buf.is_empty()
    }
    fn skip_to_end(&mut self) {
        self.buf = &[];
    }
    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }
}

/// `untrusted::Input::read_all`: `f` must consume everything, else the input counts as short.
fn read_all<'a, T>(buf: &'a [u8], f: impl FnOnce(&mut Reader<'a>) -> R<Option<T>>) -> R<Option<T>> {
    let mut r = Reader { buf };
    let out = f(&mut r)?;
    if r.at_end() { Ok(out) } else { Err(EndOfInput) }
}

/// A vector with a big-endian u16 length; longer than [`MAX_VECTOR`] is a rejection.
fn read_vector<'a, T>(input: &mut Reader<'a>, f: impl FnOnce(&mut Reader<'a>) -> R<Option<T>>) -> R<Option<T>> {
    let len = usize::from(input.u16()?);
    if len > MAX_VECTOR {
        return Ok(None);
    }
    let body = input.bytes(len)?;
    read_all(body, f)
}

fn skip_vector(input: &mut Reader<'_>) -> R<bool> {
    read_vector(input, |r| {
        r.skip_to_end();
        Ok(Some(()))
    })
    .map(|r| r.is_some())
}

fn skip_vector_u8(input: &mut Reader<'_>) -> R<()> {
    let len = input.byte()?;
    input.bytes(usize::from(len)).map(|_| ())
}

fn extract_sni<'a>(input: &mut Reader<'a>) -> R<Option<&'a [u8]>> {
    // TLS record header: handshake (22), legacy version 3.1 or 3.3.
    if input.byte()? != 22 || input.byte()? != 0x03 {
        return Ok(None);
    }
    let minor = input.byte()?;
    if minor != 0x01 && minor != 0x03 {
        return Ok(None);
    }
    let r = read_vector(input, |input| {
        // HandshakeType::client_hello, then a 24-bit length read as 0x00 + u16 vector.
        if input.byte()? != 1 || input.byte()? != 0 {
            return Ok(None);
        }
        read_vector(input, |input| {
            if input.byte()? != 0x03 || input.byte()? != 0x03 {
                return Ok(None);
            }
            input.bytes(32)?; // random
            skip_vector_u8(input)?; // session_id
            if !skip_vector(input)? {
                return Ok(None); // cipher_suites
            }
            skip_vector_u8(input)?; // compression_methods
            read_vector(input, |input| {
                while !input.at_end() {
                    if input.u16()? != 0 {
                        skip_vector(input)?; // not server_name
                        continue;
                    }
                    let r = read_vector(input, |input| {
                        read_vector(input, |input| {
                            if input.byte()? != 0 {
                                return Ok(None); // not host_name
                            }
                            read_vector(input, |input| Ok(Some(input.rest())))
                        })
                    });
                    input.skip_to_end();
                    return r;
                }
                Ok(None)
            })
        })
    });
    input.skip_to_end();
    r
}

/// What linkerd2-proxy's `parse_sni` answers for these first bytes of a connection.
///
/// Once the record header matches, the answer waits for the whole record (with the ClientHello
/// in it); a record that is not a usable ClientHello keeps answering [`Sni::Incomplete`] until
/// the caller's buffer or timeout runs out, as upstream does.
#[must_use]
pub fn parse_sni(input: &[u8]) -> Sni {
    let r = read_all(input, |r| {
        let out = extract_sni(r);
        r.skip_to_end();
        out
    });
    match r {
        Err(EndOfInput) => Sni::Incomplete,
        Ok(None) => Sni::None,
        Ok(Some(name)) => match std::str::from_utf8(name).ok().filter(|n| is_dns_name(n)) {
            Some(n) => Sni::Name(n.trim_end_matches('.').to_ascii_lowercase()),
            None => Sni::None,
        },
    }
}

/// A DNS name as a TLS server name: ASCII labels of letters, digits, `-` and `_` (1–63 bytes,
/// not starting or ending with `-`), at most 253 bytes, one optional trailing dot, and not an
/// IPv4 address (an all-numeric last label).
#[must_use]
pub fn is_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let labels_ok = name.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    labels_ok && !name.rsplit('.').next().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
}

/// The first peek's size (linkerd: a proxy's ClientHello is under 300 bytes).
pub const PEEK_SIZE: usize = 512;
/// How many bytes detection may buffer before giving up on a ClientHello.
pub const DEFAULT_CAPACITY: usize = 8 * 1024;

/// The decision for a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Detected {
    /// Keep reading (the buffer is not full yet).
    NeedMore,
    /// A TLS ClientHello with this SNI: terminate (or pass on) TLS.
    Tls(String),
    /// Not a ClientHello (or none within the capacity, or the peer closed): plaintext.
    Plaintext,
}

/// Detection over a connection's first bytes: feed what arrives, replay [`Detector::buffered`]
/// to whoever takes the connection (nothing read is lost).
#[derive(Clone, Debug)]
pub struct Detector {
    buf: Vec<u8>,
    capacity: usize,
}

impl Default for Detector {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl Detector {
    /// A detector that buffers at most `capacity` bytes (at least [`PEEK_SIZE`]).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self { buf: Vec::with_capacity(PEEK_SIZE), capacity: capacity.max(PEEK_SIZE) }
    }

    /// How many more bytes the detector takes now (what to read next).
    #[must_use]
    pub fn want(&self) -> usize {
        let target = if self.buf.len() < PEEK_SIZE { PEEK_SIZE } else { self.capacity };
        target.saturating_sub(self.buf.len())
    }

    /// Adds bytes read from the connection (beyond [`Detector::want`] they are still kept, for
    /// replay, but do not change the answer) and says what is known.
    pub fn push(&mut self, bytes: &[u8]) -> Detected {
        self.buf.extend_from_slice(bytes);
        let window = self.buf.get(..self.capacity).unwrap_or(&self.buf);
        match parse_sni(window) {
            Sni::Name(n) => Detected::Tls(n),
            Sni::None => Detected::Plaintext,
            Sni::Incomplete if self.buf.len() >= self.capacity => Detected::Plaintext,
            Sni::Incomplete => Detected::NeedMore,
        }
    }

    /// The peer closed (or the detection timeout passed) before an answer: plaintext, unless
    /// the bytes already say otherwise.
    #[must_use]
    pub fn finish(&self) -> Detected {
        match parse_sni(&self.buf) {
            Sni::Name(n) => Detected::Tls(n),
            _ => Detected::Plaintext,
        }
    }

    /// Every byte read so far, to replay.
    #[must_use]
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// The buffered bytes, taking them.
    #[must_use]
    pub fn into_buffered(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_and_garbage() {
        assert_eq!(parse_sni(b"GET /TheProject.html HTTP/1.0\r\n\r\n"), Sni::None);
        assert_eq!(parse_sni(b""), Sni::Incomplete);
        assert_eq!(parse_sni(b"\x16"), Sni::Incomplete);
        assert_eq!(parse_sni(b"\x16\x02"), Sni::None);
        assert_eq!(parse_sni(b"\x16\x03\x02"), Sni::None);
        // A huge record length is refused at once.
        assert_eq!(parse_sni(b"\x16\x03\x01\xff\xff"), Sni::None);
        assert!(is_dns_name("example.com") && !is_dns_name("1.2.3.4") && !is_dns_name("-a.b"));
    }

    #[test]
    fn detector_gives_up_at_capacity() {
        let mut d = Detector::new(PEEK_SIZE);
        let mut hdr = b"\x16\x03\x01\x10\x00".to_vec();
        hdr.resize(PEEK_SIZE - 1, 0);
        assert_eq!(d.push(&hdr), Detected::NeedMore);
        assert_eq!(d.push(&[0, 0]), Detected::Plaintext);
        assert_eq!(d.buffered().len(), PEEK_SIZE + 1);
    }
}
