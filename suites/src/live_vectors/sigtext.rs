//! Signature texts and bytes as vectors vary them: the base64 data characters of a text (either
//! alphabet), the bytes they carry, how a vector's bytes relate to a real signature (the same,
//! S + L, flipped bits, cut, extended), and how to write other bytes in the same text shape
//! (alphabet, padding, whitespace and unused bits at the same places). Shared by the signature
//! and federation trials, which re-make a vector's signature for the run's own messages.

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// The Ed25519 group order L, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// At most this many flipped bits count as "the same signature, corrupted".
const MAX_FLIPPED_BITS: u32 = 8;

fn sextet(c: u8) -> Option<u8> {
    STD.iter()
        .position(|&x| x == c)
        .or_else(|| URL.iter().position(|&x| x == c))
        .and_then(|p| u8::try_from(p).ok())
}

/// The 6-bit values of the text's base64 data characters (either alphabet), in order.
pub(crate) fn data_values(text: &str) -> Vec<u8> {
    text.bytes().filter_map(sextet).collect()
}

/// Bytes from 6-bit values; a trailing partial byte is dropped (the unused bits).
pub(crate) fn unpack(values: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for v in values {
        acc = (acc << 6) | u32::from(*v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap_or(0));
        }
    }
    out
}

/// 6-bit values of the unpadded standard encoding of `bytes`.
fn pack(bytes: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD
        .encode(bytes)
        .bytes()
        .filter_map(sextet)
        .collect()
}

/// `live` bytes written in the shape of `text` (which encodes `bytes`): same alphabet, the same
/// non-data characters (padding, whitespace) at the same places, the same unused bits set.
pub(crate) fn reshape(text: &str, bytes: &[u8], live: &[u8]) -> Option<String> {
    let (vector, plain, fresh) = (data_values(text), pack(bytes), pack(live));
    if vector.len() != plain.len() || fresh.len() != plain.len() {
        return None;
    }
    let url = text.contains(['-', '_']);
    let alphabet = if url { URL } else { STD };
    let mut i = 0;
    let mut out = String::with_capacity(text.len());
    for c in text.bytes() {
        if sextet(c).is_some() {
            let v = fresh[i] ^ (vector[i] ^ plain[i]);
            out.push(char::from(alphabet[usize::from(v & 63)]));
            i += 1;
        } else {
            out.push(char::from(c));
        }
    }
    Some(out)
}

/// What was done to the signature bytes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bytes {
    Same,
    /// S replaced by S + L (malleability).
    SPlusL,
    /// XOR with this mask (flipped bits).
    Flipped(Vec<u8>),
    /// Cut to this length.
    Prefix(usize),
    /// These bytes appended.
    Extended(Vec<u8>),
}

pub(crate) fn s_plus_l(sig: &[u8]) -> Vec<u8> {
    let mut out = sig.to_vec();
    let mut carry = 0u16;
    for (i, l) in L.iter().enumerate() {
        let sum = u16::from(out[32 + i]) + u16::from(*l) + carry;
        out[32 + i] = u8::try_from(sum & 0xff).unwrap_or(0);
        carry = sum >> 8;
    }
    out
}

pub(crate) fn relate(b: &[u8], s: &[u8]) -> Option<Bytes> {
    if b == s {
        return Some(Bytes::Same);
    }
    if b.len() == 64 && b == s_plus_l(s) {
        return Some(Bytes::SPlusL);
    }
    if b.len() == 64 {
        let mask: Vec<u8> = b.iter().zip(s).map(|(x, y)| x ^ y).collect();
        if mask.iter().map(|x| x.count_ones()).sum::<u32>() <= MAX_FLIPPED_BITS {
            return Some(Bytes::Flipped(mask));
        }
    }
    if b.len() < 64 && s.starts_with(b) && !b.is_empty() {
        return Some(Bytes::Prefix(b.len()));
    }
    if b.len() > 64 && b.starts_with(s) {
        return Some(Bytes::Extended(b[64..].to_vec()));
    }
    None
}

pub(crate) fn apply(bytes: &Bytes, s: &[u8]) -> Vec<u8> {
    match bytes {
        Bytes::Same => s.to_vec(),
        Bytes::SPlusL => s_plus_l(s),
        Bytes::Flipped(mask) => s.iter().zip(mask).map(|(x, m)| x ^ m).collect(),
        Bytes::Prefix(n) => s[..(*n).min(s.len())].to_vec(),
        Bytes::Extended(extra) => [s, extra.as_slice()].concat(),
    }
}
