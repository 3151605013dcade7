//! The file rules of attachments (spec 04 attachment rules, 07 scanning pipeline, 08 uploads):
//! file names (ATT-009), media types (UPL-002, SCAN-005/006), the digest format (ATT-017) and
//! the scan's required steps (SCAN-001, SCAN-007).

use crate::defects::Defect;
use crate::error::ApiError;
use crate::service::AppState;
use crate::store::attachments::Attachment;
use sha2::{Digest, Sha256};

/// SCAN-005 (MUST) and SCAN-006 (SHOULD) blocked media types.
pub const BLOCKED_MIME: &[&str] = &[
    "application/x-executable",
    "application/x-msdos-program",
    "application/x-msdownload",
    "application/x-dosexec",
    "application/vnd.microsoft.portable-executable",
    "application/x-mach-o-executable",
    "application/x-sh",
    "application/x-shellscript",
    "application/x-csh",
    "application/x-perl",
    "application/x-python-code",
    "application/hta",
    "application/java-archive",
    "application/vnd.apple.installer+xml",
    "application/x-rpm",
    "application/x-deb",
    "application/x-msi",
];

/// ATT-009: names Windows reserves for devices, refused whatever the extension.
const RESERVED_NAMES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// ATT-009: refuse names that are path steps or device names; `Ok` carries the name as given.
pub(super) fn check_filename(name: &str) -> Result<(), ApiError> {
    let bad = |why: &str| {
        ApiError::invalid_field(
            "filename",
            format!("filename {why} (ATT-009): send a plain file name such as `report.pdf`"),
        )
    };
    let n = name.chars().count();
    if n == 0 || n > amp_core::envelope::MAX_FILENAME_CHARS {
        return Err(bad("must be 1-255 characters"));
    }
    if name
        .chars()
        .any(|c| matches!(c, '/' | '\\') || c.is_control())
    {
        return Err(bad("contains a path separator or control character"));
    }
    let lower = name.to_ascii_lowercase();
    if name.contains("..")
        || ["%2f", "%5c", "%2e", "%00"]
            .iter()
            .any(|s| lower.contains(s))
    {
        return Err(bad("contains `..` or a percent-encoded path step"));
    }
    let stem = sanitize_filename(name);
    let stem = stem.split('.').next().unwrap_or("").to_ascii_uppercase();
    if RESERVED_NAMES.contains(&stem.as_str()) {
        return Err(bad("is a reserved device name"));
    }
    if sanitize_filename(name).is_empty() {
        return Err(bad("has no usable characters"));
    }
    Ok(())
}

/// ATT-009 / UPL-015: the name as it may appear in `Content-Disposition`: every character
/// outside `[A-Za-z0-9._-]` becomes `_`, leading and trailing dots, spaces and underscores
/// that came from them are stripped.
pub fn sanitize_filename(name: &str) -> String {
    let trimmed = name.trim_matches(|c: char| c == '.' || c.is_whitespace());
    let s: String = trimmed
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.trim_matches('.').chars().take(255).collect()
}

pub(super) fn valid_content_type(ct: &str) -> bool {
    let essence = ct.split(';').next().unwrap_or("").trim();
    let token = |x: &str| {
        !x.is_empty()
            && x.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    !ct.chars().any(char::is_control)
        && essence
            .split_once('/')
            .is_some_and(|(t, s)| token(t) && token(s))
}

fn essence(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// UPL-002 / ATT-017: `sha256:` + 64 lowercase hex. Another algorithm prefix is 422; a
/// malformed sha256 value is 400.
pub(super) fn check_digest(state: &AppState, d: &str) -> Result<(), ApiError> {
    match d.strip_prefix("sha256:") {
        Some(hex) => {
            if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                Ok(())
            } else {
                Err(ApiError::invalid_field(
                    "digest",
                    "digest must be `sha256:` followed by 64 lowercase hex digits (UPL-002)",
                ))
            }
        }
        None if state.has(Defect::UploadMd5Accepted)
            && d.split_once(':')
                .is_some_and(|(alg, v)| !alg.is_empty() && !v.is_empty()) =>
        {
            Ok(())
        }
        None => {
            let alg: String = d.split(':').next().unwrap_or("").chars().take(16).collect();
            Err(ApiError::new(
                422,
                "invalid_digest_algorithm",
                format!(
                    "digest algorithm `{alg}` is not supported: use `sha256:<64 lowercase hex>` (UPL-002)"
                ),
            )
            .with_field("digest"))
        }
    }
}

/// Executable formats by magic bytes (SCAN-007): ELF, MZ/PE, Mach-O (thin and fat).
pub fn executable_magic(data: &[u8]) -> Option<&'static str> {
    const SIGS: &[(&[u8], &str)] = &[
        (b"\x7fELF", "ELF"),
        (b"MZ", "MZ/PE"),
        (b"\xfe\xed\xfa\xce", "Mach-O"),
        (b"\xfe\xed\xfa\xcf", "Mach-O"),
        (b"\xce\xfa\xed\xfe", "Mach-O"),
        (b"\xcf\xfa\xed\xfe", "Mach-O"),
        (b"\xca\xfe\xba\xbe", "Mach-O universal"),
    ];
    SIGS.iter()
        .find(|(sig, _)| data.starts_with(sig))
        .map(|(_, name)| *name)
}

/// Primary media type implied by well-known magic bytes (SCAN-001 type check).
fn magic_primary_type(data: &[u8]) -> Option<&'static str> {
    const SIGS: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "image"),
        (b"\xff\xd8\xff", "image"),
        (b"GIF87a", "image"),
        (b"GIF89a", "image"),
        (b"%PDF-", "application"),
        (b"PK\x03\x04", "application"),
        (b"\x1f\x8b", "application"),
        (b"OggS", "audio"),
        (b"ID3", "audio"),
    ];
    SIGS.iter()
        .find(|(sig, _)| data.starts_with(sig))
        .map(|(_, t)| *t)
}

/// The scan pipeline's required steps (SCAN-001, SCAN-005/006, SCAN-007). `Err` = why the
/// file is rejected.
pub(super) fn scan(state: &AppState, a: &Attachment, data: &[u8]) -> Result<(), String> {
    if data.len() as u64 != a.size {
        return Err(format!(
            "size mismatch: declared {}, uploaded {}",
            a.size,
            data.len()
        ));
    }
    if let Some(hex) = a.digest.strip_prefix("sha256:")
        && hex::encode(Sha256::digest(data)) != hex
    {
        return Err("digest mismatch".into());
    }
    let ct = essence(&a.content_type);
    if BLOCKED_MIME.contains(&ct.as_str()) && !state.has(Defect::BlockedMimeAccepted) {
        return Err(format!("blocked media type {ct}"));
    }
    if !state.has(Defect::ExecutableNotRejected)
        && let Some(kind) = executable_magic(data)
    {
        return Err(format!("executable content ({kind})"));
    }
    if !data.is_empty()
        && ct != "application/octet-stream"
        && let Some(primary) = magic_primary_type(data)
        && ct.split('/').next() != Some(primary)
    {
        return Err(format!("content is {primary}/* but declared {ct}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitises_to_the_safe_set() {
        assert_eq!(
            sanitize_filename("report final (v2).pdf"),
            "report_final__v2_.pdf"
        );
        assert_eq!(sanitize_filename("..hidden. "), "hidden");
        assert_eq!(sanitize_filename("a\"b;c.txt"), "a_b_c.txt");
        assert_eq!(sanitize_filename("résumé.txt"), "r_sum_.txt");
    }

    #[test]
    fn filename_rules() {
        for bad in [
            "../x",
            "a/b",
            "a\\b",
            "CON",
            "con.txt",
            "LPT1.log",
            "a%2Fb",
            "bell\u{7}",
            "",
            "..",
        ] {
            assert!(check_filename(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["puma.log", "report final.pdf", "résumé.txt", "CONFIG.txt"] {
            assert!(check_filename(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn magic_detection() {
        assert_eq!(executable_magic(b"\x7fELF\x02\x01"), Some("ELF"));
        assert_eq!(executable_magic(b"MZ\x90\x00"), Some("MZ/PE"));
        assert_eq!(executable_magic(b"\xcf\xfa\xed\xfe"), Some("Mach-O"));
        assert_eq!(executable_magic(b"hello"), None);
        assert_eq!(magic_primary_type(b"%PDF-1.7"), Some("application"));
        assert_eq!(magic_primary_type(b"plain"), None);
    }

    #[test]
    fn content_types() {
        assert!(valid_content_type("text/plain; charset=utf-8"));
        assert!(!valid_content_type("text"));
        assert!(!valid_content_type("text/pl ain"));
        assert_eq!(essence("Application/X-SH; q=1"), "application/x-sh");
    }
}
