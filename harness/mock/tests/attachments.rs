//! Attachment API of the mock (spec 08 "Attachments"): the strict flow end to end, and for
//! every attachment defect a probe that sees the strict behaviour on a clean mock and not on a
//! mock with only that defect planted.

mod common;

use amp_mock::{Defect, MockConfig};
use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const TEXT: &[u8] = b"hello attachment\n";
const ELF: &[u8] = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00payload";

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A client that does not follow redirects (the download answers 302).
fn raw_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn request_upload(m: &Mock, a: &Agent, name: &str, ct: &str, size: u64, dg: &str) -> Resp {
    m.post(
        "/attachments/upload",
        Some(&a.api_key),
        &json!({"filename": name, "content_type": ct, "size": size, "digest": dg}),
    )
    .await
}

async fn put(url: &str, bytes: &[u8]) -> u16 {
    raw_client()
        .put(url)
        .body(bytes.to_vec())
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Upload request + PUT; returns (attachment id, upload url).
async fn uploaded(m: &Mock, a: &Agent, name: &str, ct: &str, bytes: &[u8]) -> (String, String) {
    let r = request_upload(m, a, name, ct, bytes.len() as u64, &digest(bytes)).await;
    assert_eq!(r.status, 201, "upload request: {}", r.text);
    let id = r.body["attachment_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let url = r.body["upload_url"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(put(&url, bytes).await, 200, "PUT {url}");
    (id, url)
}

async fn confirm(m: &Mock, a: &Agent, id: &str) -> Resp {
    m.post(
        &format!("/attachments/{id}/confirm"),
        Some(&a.api_key),
        &json!({}),
    )
    .await
}

async fn meta(m: &Mock, a: &Agent, id: &str) -> Value {
    let r = m.get(&format!("/attachments/{id}"), Some(&a.api_key)).await;
    assert_eq!(r.status, 200, "metadata: {}", r.text);
    r.body
}

/// Upload, confirm, and return the payload attachment object built from the metadata.
async fn scanned(m: &Mock, a: &Agent, name: &str, ct: &str, bytes: &[u8]) -> Value {
    let (id, _) = uploaded(m, a, name, ct, bytes).await;
    let c = confirm(m, a, &id).await;
    assert_eq!(c.status, 200, "confirm: {}", c.text);
    object(&meta(m, a, &id).await)
}

fn object(meta: &Value) -> Value {
    let mut o = json!({});
    o["id"] = meta["attachment_id"].clone();
    for f in [
        "filename",
        "content_type",
        "size",
        "digest",
        "url",
        "scan_status",
        "uploaded_at",
        "expires_at",
    ] {
        o[f] = meta[f].clone();
    }
    if o["url"].is_null() {
        // Pending/rejected attachments have no URL yet; a syntactically valid one lets the
        // route reach the attachment checks.
        o["url"] = json!("https://example.invalid/none");
    }
    o
}

fn with_attachments(atts: Vec<Value>) -> Value {
    json!({"type": "notification", "message": "see attached", "attachments": atts})
}

async fn route_with(m: &Mock, from: &Agent, to: &Agent, atts: Vec<Value>) -> Resp {
    let body = m.body(from, &to.address, "files", &with_attachments(atts));
    m.route(from, &body).await
}

#[tokio::test]
async fn full_flow_clean() {
    let m = mock(&[]).await;
    let info = m.get("/info", None).await;
    assert!(
        info.body["capabilities"]
            .as_array()
            .is_some_and(|c| c.iter().any(|x| x == "attachments"))
    );
    assert_eq!(info.body["attachment_limits"]["av_scanning"], json!(false));
    let a = m.register("acme", "alice").await;
    let b = m.register("acme", "bob").await;
    let r = request_upload(
        &m,
        &a,
        "notes.txt",
        "text/plain",
        TEXT.len() as u64,
        &digest(TEXT),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["upload_method"], "PUT");
    assert_eq!(r.body["expires_in"], 3600);
    let id = r.body["attachment_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(id.starts_with("att_"));
    let url = r.body["upload_url"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Before the PUT nothing can be confirmed.
    assert_eq!(confirm(&m, &a, &id).await.status, 409);
    assert_eq!(put(&url, TEXT).await, 200);
    let c = confirm(&m, &a, &id).await;
    assert_eq!(c.status, 200, "{}", c.text);
    assert_eq!(c.body["scan_status"], "pending");
    let md = meta(&m, &a, &id).await;
    assert_eq!(md["scan_status"], "clean");
    let up = amp_core::parse_rfc3339(md["uploaded_at"].as_str().unwrap_or("")).unwrap_or(0);
    let ex = amp_core::parse_rfc3339(md["expires_at"].as_str().unwrap_or("")).unwrap_or(0);
    assert!(ex - up >= 7 * 24 * 3600);
    // Others cannot see it.
    assert_eq!(
        m.get(&format!("/attachments/{id}"), Some(&b.api_key))
            .await
            .status,
        404
    );
    // The payload object is a valid ATT-004 attachment and routes once.
    let obj = object(&md);
    assert_eq!(amp_core::envelope::validate_attachment(&obj), Ok(()));
    let r = route_with(&m, &a, &b, vec![obj.clone()]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = m.pending(&b).await;
    assert_eq!(
        got[0]["payload"]["attachments"][0], obj,
        "ATT-003: attachment modified"
    );
    // Download: 302 to a public URL with the safe headers.
    let d = raw_client()
        .get(m.url(&format!("/attachments/{id}/download")))
        .bearer_auth(&b.api_key)
        .send()
        .await
        .expect("download");
    assert_eq!(d.status().as_u16(), 302);
    let loc = d.headers()["location"].to_str().unwrap_or("").to_string();
    assert_eq!(loc, md["url"].as_str().unwrap_or(""));
    let f = raw_client().get(&loc).send().await.expect("file");
    assert_eq!(f.status().as_u16(), 200);
    assert_eq!(f.headers()["content-type"], "text/plain");
    assert_eq!(
        f.headers()["content-disposition"],
        "attachment; filename=\"notes.txt\""
    );
    assert_eq!(f.bytes().await.unwrap_or_default().as_ref(), TEXT);
    // UPL-017: one byte range.
    let part = raw_client()
        .get(&loc)
        .header("range", "bytes=0-4")
        .send()
        .await
        .expect("range");
    assert_eq!(part.status().as_u16(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 0-4/{}", TEXT.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap_or_default().as_ref(), &TEXT[..5]);
    // A wrong token is refused.
    let bad = raw_client()
        .get(format!("{loc}x"))
        .send()
        .await
        .expect("file");
    assert_eq!(bad.status().as_u16(), 403);
}

#[tokio::test]
async fn refusals_on_a_clean_mock() {
    let m = mock(&[]).await;
    let a = m.register("acme", "alice").await;
    let b = m.register("acme", "bob").await;
    let r = request_upload(&m, &a, "x.txt", "text/plain", 3, "sha256:ABC").await;
    assert_eq!((r.status, r.err()), (400, "invalid_field"));
    for name in ["../x", "CON", "a%2Fb", "bell\u{7}"] {
        let r = request_upload(&m, &a, name, "text/plain", 1, &digest(b"x")).await;
        assert_eq!(r.status, 400, "{name:?} accepted");
    }
    assert_eq!(
        m.get("/attachments/..%2F..%2Fetc", Some(&a.api_key))
            .await
            .status,
        404
    );
    // Unknown id in a route.
    let mut obj = scanned(&m, &a, "a.txt", "text/plain", TEXT).await;
    obj["id"] = json!("att_1_deadbeef");
    let r = route_with(&m, &a, &b, vec![obj]).await;
    assert_eq!((r.status, r.err()), (404, "attachment_not_found"));
    // A rejected scan (digest mismatch) is final: a second confirm does not rescan.
    let r = request_upload(
        &m,
        &a,
        "m.txt",
        "text/plain",
        TEXT.len() as u64,
        &digest(b"other bytes here!"),
    )
    .await;
    let id = r.body["attachment_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let url = r.body["upload_url"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(put(&url, TEXT).await, 200);
    assert_eq!(confirm(&m, &a, &id).await.status, 200);
    assert_eq!(meta(&m, &a, &id).await["scan_status"], "rejected");
    assert_eq!(confirm(&m, &a, &id).await.body["scan_status"], "rejected");
    // Type mismatch by magic bytes (SCAN-001): a PDF declared as an image.
    let pdf = b"%PDF-1.7\n1 0 obj\n";
    let o = scanned(&m, &a, "pic.png", "image/png", pdf).await;
    assert_eq!(o["scan_status"], "rejected");
    // A failed route does not consume the attachment.
    let good = scanned(&m, &a, "g.txt", "text/plain", TEXT).await;
    let mut lying = good.clone();
    lying["size"] = json!(1);
    assert_eq!(route_with(&m, &a, &b, vec![lying]).await.status, 400);
    assert_eq!(route_with(&m, &a, &b, vec![good]).await.status, 200);
}

#[tokio::test]
async fn expiry_follows_the_clock() {
    let clock = amp_mock::Clock::manual(1_800_000_000);
    let m = mock_with(MockConfig {
        clock: clock.clone(),
        ..config(&[])
    })
    .await;
    let a = m.register("acme", "alice").await;
    let b = m.register("acme", "bob").await;
    // UPL-004: the presigned URL dies after an hour.
    let r = request_upload(
        &m,
        &a,
        "a.txt",
        "text/plain",
        TEXT.len() as u64,
        &digest(TEXT),
    )
    .await;
    let url = r.body["upload_url"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    clock.advance(std::time::Duration::from_secs(3601));
    assert_eq!(put(&url, TEXT).await, 403);
    // ATT-005: a scanned attachment lives 7 days, then routes and downloads answer 410.
    let obj = scanned(&m, &a, "b.txt", "text/plain", TEXT).await;
    let id = obj["id"].as_str().unwrap_or_default().to_string();
    clock.advance(std::time::Duration::from_secs(7 * 24 * 3600 + 1));
    let r = route_with(&m, &a, &b, vec![obj]).await;
    assert_eq!((r.status, r.err()), (410, "attachment_expired"));
    let d = m
        .get(&format!("/attachments/{id}/download"), Some(&a.api_key))
        .await;
    assert_eq!(d.status, 410);
}

// --- defect probes ------------------------------------------------------------------------------

async fn refuses_foreign(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let b = m.register("acme", "bob").await;
    let obj = scanned(m, &a, "a.txt", "text/plain", TEXT).await;
    let r = route_with(m, &b, &a, vec![obj]).await;
    r.status == 403
}
defect_test!(foreign, Defect::AttachmentForeignAccepted, refuses_foreign);

async fn refuses_pending(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let b = m.register("acme", "bob").await;
    let (id, _) = uploaded(m, &a, "a.txt", "text/plain", TEXT).await;
    let obj = object(&meta(m, &a, &id).await);
    let r = route_with(m, &a, &b, vec![obj]).await;
    (r.status, r.err()) == (409, "attachment_pending")
}
defect_test!(pending, Defect::AttachmentPendingRouted, refuses_pending);

async fn refuses_rejected(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let b = m.register("acme", "bob").await;
    let obj = scanned(m, &a, "run.bin", "application/octet-stream", ELF).await;
    let r = route_with(m, &a, &b, vec![obj]).await;
    (r.status, r.err()) == (422, "attachment_rejected")
}
defect_test!(rejected, Defect::AttachmentRejectedRouted, refuses_rejected);

async fn ignores_claimed_scan_status(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let b = m.register("acme", "bob").await;
    let mut obj = scanned(m, &a, "run.bin", "application/octet-stream", ELF).await;
    obj["scan_status"] = json!("clean");
    route_with(m, &a, &b, vec![obj]).await.status == 422
}
defect_test!(
    scan_status_trusted,
    Defect::AttachmentScanStatusTrusted,
    ignores_claimed_scan_status
);

async fn checks_digest(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let b = m.register("acme", "bob").await;
    let mut obj = scanned(m, &a, "a.txt", "text/plain", TEXT).await;
    obj["digest"] = json!(digest(b"something else"));
    route_with(m, &a, &b, vec![obj]).await.status == 400
}
defect_test!(
    digest_checked,
    Defect::AttachmentDigestNotChecked,
    checks_digest
);

async fn refuses_reuse(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let b = m.register("acme", "bob").await;
    let obj = scanned(m, &a, "a.txt", "text/plain", TEXT).await;
    assert_eq!(route_with(m, &a, &b, vec![obj.clone()]).await.status, 200);
    let r = route_with(m, &a, &b, vec![obj]).await;
    (r.status, r.err()) == (409, "attachment_already_used")
}
defect_test!(reuse, Defect::AttachmentReuseAccepted, refuses_reuse);

async fn refuses_eleven(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let b = m.register("acme", "bob").await;
    let mut atts = Vec::new();
    for i in 0..11 {
        atts.push(scanned(m, &a, &format!("f{i}.txt"), "text/plain", TEXT).await);
    }
    let r = route_with(m, &a, &b, atts.clone()).await;
    let refused = (r.status, r.err()) == (400, "too_many_attachments");
    if refused {
        // Ten are fine (and only possible because the refused route consumed nothing).
        atts.pop();
        let ten = route_with(m, &a, &b, atts).await;
        assert_eq!(ten.status, 200, "{}", ten.text);
    }
    refused
}
defect_test!(too_many, Defect::TooManyAttachmentsAccepted, refuses_eleven);

async fn refuses_oversize(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let at = request_upload(
        m,
        &a,
        "big.bin",
        "application/octet-stream",
        26_214_400,
        &digest(b"x"),
    )
    .await;
    assert_eq!(at.status, 201);
    let r = request_upload(
        m,
        &a,
        "big.bin",
        "application/octet-stream",
        26_214_401,
        &digest(b"x"),
    )
    .await;
    (r.status, r.err()) == (413, "attachment_too_large")
}
defect_test!(oversize, Defect::OversizeUploadAccepted, refuses_oversize);

async fn refuses_md5(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let r = request_upload(
        m,
        &a,
        "a.txt",
        "text/plain",
        3,
        "md5:900150983cd24fb0d6963f7d28e17f72",
    )
    .await;
    (r.status, r.err()) == (422, "invalid_digest_algorithm")
}
defect_test!(md5, Defect::UploadMd5Accepted, refuses_md5);

async fn short_upload_url(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let r = request_upload(m, &a, "a.txt", "text/plain", 3, &digest(b"abc")).await;
    r.body["expires_in"]
        .as_u64()
        .is_some_and(|s| (1..=3600).contains(&s))
}
defect_test!(upload_ttl, Defect::UploadUrlLongLived, short_upload_url);

async fn single_use_url(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let (_, url) = uploaded(m, &a, "a.txt", "text/plain", TEXT).await;
    put(&url, TEXT).await >= 400
}
defect_test!(presigned, Defect::PresignedReusable, single_use_url);

async fn size_capped(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let r = request_upload(
        m,
        &a,
        "a.txt",
        "text/plain",
        TEXT.len() as u64,
        &digest(TEXT),
    )
    .await;
    let url = r.body["upload_url"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    put(&url, &TEXT.repeat(4)).await == 413
}
defect_test!(size_unchecked, Defect::UploadSizeUnchecked, size_capped);

async fn week_ttl(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let r = request_upload(m, &a, "a.txt", "text/plain", 3, &digest(b"abc")).await;
    let id = r.body["attachment_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let md = meta(m, &a, &id).await;
    let up = amp_core::parse_rfc3339(md["uploaded_at"].as_str().unwrap_or("")).unwrap_or(0);
    let ex = amp_core::parse_rfc3339(md["expires_at"].as_str().unwrap_or("")).unwrap_or(0);
    ex - up >= 7 * 24 * 3600
}
defect_test!(short_ttl, Defect::AttachmentShortTtl, week_ttl);

async fn rejects_elf(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let o = scanned(m, &a, "run.bin", "application/octet-stream", ELF).await;
    o["scan_status"] == "rejected"
}
defect_test!(executable, Defect::ExecutableNotRejected, rejects_elf);

async fn rejects_shell(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let o = scanned(m, &a, "run.sh", "application/x-sh", b"echo hi\n").await;
    o["scan_status"] == "rejected"
}
defect_test!(blocked_mime, Defect::BlockedMimeAccepted, rejects_shell);

async fn has_disposition(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let o = scanned(m, &a, "my report (1).txt", "text/plain", TEXT).await;
    let f = raw_client()
        .get(o["url"].as_str().unwrap_or_default())
        .send()
        .await
        .expect("file");
    f.headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        == Some("attachment; filename=\"my_report__1_.txt\"")
}
defect_test!(disposition, Defect::DownloadNoDisposition, has_disposition);
