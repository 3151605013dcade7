//! The provider key of `/info` and the well-known document: spec 07 lets a provider sign with
//! Ed25519, RSA of at least 2048 bits or ECDSA P-256, so a key is judged by its SPKI algorithm
//! before any Ed25519-only check (fingerprint forms) is applied.

use amp_core::PublicKey;
use base64::Engine as _;
use spki::der::Decode as _;
use spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};

const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// A provider key of an algorithm spec 07 allows.
#[derive(Debug)]
pub enum ProviderKey {
    Ed25519(PublicKey),
    Rsa { bits: usize },
    P256,
}

/// Classify a `-----BEGIN PUBLIC KEY-----` PEM; the error says what is wrong with it.
pub fn parse(pem: &str) -> Result<ProviderKey, String> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    if !pem.contains("-----BEGIN PUBLIC KEY-----") {
        return Err("not a `BEGIN PUBLIC KEY` (SPKI) PEM".to_string());
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|e| format!("the PEM body is not Base64 ({e})"))?;
    let spki = SubjectPublicKeyInfoRef::from_der(&der)
        .map_err(|e| format!("not a SubjectPublicKeyInfo ({e})"))?;
    let oid = spki.algorithm.oid;
    if oid == ED25519 {
        return PublicKey::from_spki_pem(pem)
            .map(ProviderKey::Ed25519)
            .map_err(|e| format!("an Ed25519 key that does not parse ({e})"));
    }
    if oid == RSA {
        let key = spki.subject_public_key.raw_bytes();
        return modulus_bits(key)
            .map(|bits| ProviderKey::Rsa { bits })
            .ok_or_else(|| "an RSA key whose modulus cannot be read".to_string());
    }
    if oid == EC {
        let curve = spki
            .algorithm
            .parameters
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        return match curve {
            Some(c) if c == P256 => Ok(ProviderKey::P256),
            Some(c) => Err(format!("an ECDSA key on curve {c}, not P-256")),
            None => Err("an ECDSA key without a named curve".to_string()),
        };
    }
    Err(format!(
        "a key of algorithm {oid} (07 allows Ed25519, RSA-2048+, ECDSA P-256)"
    ))
}

/// Bits of the modulus of a DER `RSAPublicKey ::= SEQUENCE { modulus INTEGER, ... }`.
fn modulus_bits(der: &[u8]) -> Option<usize> {
    /// (header length, content length) of the TLV at `at` with tag `tag`.
    fn tlv(der: &[u8], at: usize, tag: u8) -> Option<(usize, usize)> {
        if *der.get(at)? != tag {
            return None;
        }
        let first = *der.get(at + 1)?;
        if first < 0x80 {
            return Some((2, usize::from(first)));
        }
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*der.get(at + 2 + i)?);
        }
        Some((2 + n, len))
    }
    let (seq_header, _) = tlv(der, 0, 0x30)?;
    let (int_header, int_len) = tlv(der, seq_header, 0x02)?;
    let start = seq_header + int_header;
    let modulus = der.get(start..start + int_len)?;
    let significant = modulus
        .iter()
        .position(|b| *b != 0)
        .map(|i| &modulus[i..])?;
    let lead = significant.first()?;
    Some((significant.len() - 1) * 8 + (8 - lead.leading_zeros() as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_of(der: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
    }

    /// SPKI for rsaEncryption with a modulus of `bytes` bytes (top bit set) and e = 65537.
    fn rsa_spki(bytes: usize) -> Vec<u8> {
        fn len(n: usize) -> Vec<u8> {
            if n < 0x80 {
                vec![n as u8]
            } else if n < 0x100 {
                vec![0x81, n as u8]
            } else {
                vec![0x82, (n >> 8) as u8, n as u8]
            }
        }
        let mut modulus = vec![0x00, 0xc1];
        modulus.resize(bytes + 1, 0x5a);
        let mut int = vec![0x02];
        int.extend(len(modulus.len()));
        int.extend(&modulus);
        int.extend([0x02, 0x03, 0x01, 0x00, 0x01]);
        let mut seq = vec![0x30];
        seq.extend(len(int.len()));
        seq.extend(int);
        let mut bits = vec![0x03];
        bits.extend(len(seq.len() + 1));
        bits.push(0);
        bits.extend(seq);
        let alg = [
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
            0x00,
        ];
        let mut inner = alg.to_vec();
        inner.extend(bits);
        let mut out = vec![0x30];
        out.extend(len(inner.len()));
        out.extend(inner);
        out
    }

    #[test]
    fn algorithms_spec_07_allows_are_recognised() {
        let ed = amp_core::SecretKey::from_seed([7; 32])
            .public_key()
            .to_spki_pem();
        assert!(matches!(parse(&ed), Ok(ProviderKey::Ed25519(_))));
        assert!(matches!(
            parse(&pem_of(&rsa_spki(256))),
            Ok(ProviderKey::Rsa { bits: 2048 })
        ));
        assert!(matches!(
            parse(&pem_of(&rsa_spki(128))),
            Ok(ProviderKey::Rsa { bits: 1024 })
        ));
        // id-ecPublicKey on prime256v1 with a dummy 65-byte point.
        let mut ec = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
        ];
        ec.resize(ec.len() + 64, 0x11);
        assert!(matches!(parse(&pem_of(&ec)), Ok(ProviderKey::P256)));
        assert!(parse("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_err());
        assert!(parse(&pem_of(&[0x30, 0x00])).is_err());
    }
}
