use crate::common::*;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

async fn fetch(app: &TestApp, path: &str) -> (u16, String, Vec<u8>) {
    let resp = app.req(Method::GET, path).send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, ct, resp.bytes().await.unwrap().to_vec())
}

fn text_of(pdf: &[u8]) -> String {
    pdf_extract::extract_text_from_mem(pdf).unwrap()
}

/// A paid EUR invoice for a German business customer, with a refund to
/// credit balance (so a credit note exists).
async fn paid_invoice(app: &TestApp, locale: &str) -> Value {
    let (s, c) = app
        .post(
            "/v1/customers",
            json!({"name": "Lernwerk GmbH", "email": "billing@lernwerk.example", "locale": locale,
                   "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}}),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    let (s, inv) = app
        .post(
            "/v1/invoices",
            json!({"customer": c["id"], "description": "Team workshop",
                   "lines": [{"description": "Exam strategy workshop", "quantity": 2, "unit_amount": 45000}]}),
        )
        .await;
    assert_eq!(s, 201, "{inv}");
    let (s, fin) = app.post(&format!("/v1/invoices/{}/finalize", inv["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(s, 200, "{fin}");
    fin
}

#[tokio::test]
async fn invoice_receipt_and_credit_note_pdfs_are_rendered_and_stored() {
    let app = TestApp::spawn_with(|c| {
        c.tax_origin_country = Some("DE".into());
        c.seller_name = "Akademie Nord GmbH".into();
        c.seller_address = vec!["Am Hafen 5".into(), "20457 Hamburg".into()];
        c.seller_tax_id = Some("DE123456788".into());
    })
    .await;
    let inv = paid_invoice(&app, "en-US").await;
    let id = inv["id"].as_str().unwrap();
    let number = inv["number"].as_str().unwrap();
    let (s, ct, pdf) = fetch(&app, &format!("/v1/invoices/{id}/pdf")).await;
    assert_eq!((s, ct.as_str()), (200, "application/pdf"));
    assert!(pdf.starts_with(b"%PDF-"));
    let text = text_of(&pdf);
    for want in [
        number,
        "Akademie Nord GmbH",
        "DE123456788",
        "Lernwerk GmbH",
        "Hauptstr. 1",
        "Exam strategy workshop",
        "€1,071.00",
        "€171.00",
        "PAID",
    ] {
        assert!(text.contains(want), "`{want}` missing from the invoice PDF:\n{text}");
    }
    // Stored once, then served from storage unchanged.
    let stored = app.tdb.dir.path().join(format!("files/test/invoices/{id}-paid-0.pdf"));
    assert_eq!(std::fs::read(&stored).unwrap(), pdf);
    let (_, _, again) = fetch(&app, &format!("/v1/invoices/{id}/pdf")).await;
    assert_eq!(again, pdf);

    let (s, _, receipt) = fetch(&app, &format!("/v1/invoices/{id}/receipt")).await;
    assert_eq!(s, 200);
    let rt = text_of(&receipt);
    assert!(rt.contains("Receipt") && rt.contains(number) && rt.contains("€1,071.00"), "{rt}");

    // A partial refund to credit balance issues a credit note with its own PDF,
    // and the invoice PDF is rendered anew with the note listed.
    let (s, r) =
        app.post(&format!("/v1/invoices/{id}/refund"), json!({"amount": 11900, "refund_to": "credit_balance"})).await;
    assert_eq!(s, 200, "{r}");
    let cn = r["credit_notes"][0].clone();
    let (s, _, cn_pdf) = fetch(&app, &format!("/v1/credit_notes/{}/pdf", cn["id"].as_str().unwrap())).await;
    assert_eq!(s, 200);
    let ct_text = text_of(&cn_pdf);
    for want in [cn["number"].as_str().unwrap(), number, "€119.00", "€19.00", "account balance"] {
        assert!(ct_text.contains(want), "`{want}` missing from the credit note PDF:\n{ct_text}");
    }
    let (_, _, after) = fetch(&app, &format!("/v1/invoices/{id}/pdf")).await;
    assert!(text_of(&after).contains(cn["number"].as_str().unwrap()));
    assert!(app.tdb.dir.path().join(format!("files/test/invoices/{id}-paid-1.pdf")).exists());
}

#[tokio::test]
async fn documents_follow_the_customer_locale_and_drafts_are_not_stored() {
    let app = TestApp::spawn_with(|c| c.tax_origin_country = Some("DE".into())).await;
    let inv = paid_invoice(&app, "de-DE").await;
    let (_, _, pdf) = fetch(&app, &format!("/v1/invoices/{}/pdf", inv["id"].as_str().unwrap())).await;
    let text = text_of(&pdf);
    for want in ["Rechnung", "Gesamtbetrag", "1.071,00", "Bezahlt"] {
        assert!(text.contains(want), "`{want}` missing:\n{text}");
    }
    let (_, d) = app
        .post(
            "/v1/invoices",
            json!({"customer": inv["customer"], "lines": [{"description": "Draft item", "unit_amount": 500}]}),
        )
        .await;
    let did = d["id"].as_str().unwrap();
    let (s, _, draft_pdf) = fetch(&app, &format!("/v1/invoices/{did}/pdf")).await;
    assert_eq!(s, 200);
    assert!(text_of(&draft_pdf).contains("Entwurf"));
    let stored: Vec<String> = std::fs::read_dir(app.tdb.dir.path().join("files/test/invoices"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(stored.iter().all(|f| !f.starts_with(did)), "{stored:?}");
    // Receipts exist for paid invoices only; unknown ids are 404.
    let (s, _, body) = fetch(&app, &format!("/v1/invoices/{did}/receipt")).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_error(s, &body, 409, None);
    let (s, _, body) = fetch(&app, "/v1/credit_notes/cn_nothere/pdf").await;
    assert_error(s, &serde_json::from_slice(&body).unwrap(), 404, Some("id"));
}

/// A local S3-compatible store: path-style PUT and GET, authenticated with
/// presigned AWS Signature Version 4 query parameters, checked exactly as
/// S3 does (canonical request, string to sign, derived signing key).
/// Stored objects by key: content type and bytes.
type Objects = Arc<Mutex<BTreeMap<String, (String, Vec<u8>)>>>;

#[derive(Clone, Default)]
struct FakeS3 {
    objects: Objects,
    rejected: Arc<Mutex<Vec<String>>>,
}

const S3_KEY: &str = "AKIDEXAMPLE";
const S3_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn verify_sigv4(method: &str, path: &str, raw_query: &str, host: &str, secret: &str) -> Result<(), String> {
    let mut params: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).ok_or(format!("missing {k}"));
    if get("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" {
        return Err("algorithm".into());
    }
    let signature = get("X-Amz-Signature")?;
    let credential = get("X-Amz-Credential")?.replace("%2F", "/");
    let parts: Vec<&str> = credential.split('/').collect();
    let [key_id, date, region, "s3", "aws4_request"] = parts[..] else {
        return Err(format!("credential {credential}"));
    };
    if key_id != S3_KEY {
        return Err("InvalidAccessKeyId".into());
    }
    if get("X-Amz-SignedHeaders")? != "host" {
        return Err("signed headers".into());
    }
    let amz_date = get("X-Amz-Date")?;
    let expires: i64 = get("X-Amz-Expires")?.parse().map_err(|_| "expires")?;
    let signed_at = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", &amz_date)
        .map_err(|e| e.to_string())?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|e| e.to_string())?
        .timestamp();
    let age = jiff::Timestamp::now().as_second() - signed_at.as_second();
    if !(-900..=expires).contains(&age) {
        return Err("AccessDenied: request has expired".into());
    }
    params.retain(|(k, _)| k != "X-Amz-Signature");
    params.sort();
    let query = params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let canonical = format!("{method}\n{path}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD");
    let scope = format!("{date}/{region}/s3/aws4_request");
    let to_sign =
        format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
    let k = hmac(format!("AWS4{secret}").as_bytes(), date);
    let k = hmac(&k, region);
    let k = hmac(&k, "s3");
    let k = hmac(&k, "aws4_request");
    if hex::encode(hmac(&k, &to_sign)) != signature {
        return Err("SignatureDoesNotMatch".into());
    }
    Ok(())
}

impl FakeS3 {
    async fn start(&self) -> String {
        use axum::extract::{Request, State};
        use axum::response::IntoResponse;
        async fn handle(State(s3): State<FakeS3>, req: Request) -> axum::response::Response {
            let (parts, body) = req.into_parts();
            let path = parts.uri.path().to_string();
            let host = parts.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("").to_string();
            let method = parts.method.as_str().to_string();
            if let Err(code) = verify_sigv4(&method, &path, parts.uri.query().unwrap_or(""), &host, S3_SECRET) {
                s3.rejected.lock().unwrap().push(code.clone());
                let xml = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code></Error>");
                return (axum::http::StatusCode::FORBIDDEN, [("content-type", "application/xml")], xml).into_response();
            }
            let Some(key) = path.strip_prefix("/docs/") else {
                return (axum::http::StatusCode::NOT_FOUND, "<Error><Code>NoSuchBucket</Code></Error>").into_response();
            };
            match method.as_str() {
                "PUT" => {
                    let ct = parts.headers.get("content-type").and_then(|h| h.to_str().ok()).unwrap_or("").to_string();
                    let bytes = axum::body::to_bytes(body, 10 << 20).await.unwrap().to_vec();
                    s3.objects.lock().unwrap().insert(key.to_string(), (ct, bytes));
                    (axum::http::StatusCode::OK, [("etag", "\"x\"")], "").into_response()
                }
                "GET" => match s3.objects.lock().unwrap().get(key) {
                    Some((ct, b)) => ([("content-type", ct.clone())], b.clone()).into_response(),
                    None => {
                        (axum::http::StatusCode::NOT_FOUND, "<Error><Code>NoSuchKey</Code></Error>").into_response()
                    }
                },
                _ => axum::http::StatusCode::METHOD_NOT_ALLOWED.into_response(),
            }
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = axum::Router::new().fallback(handle).with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        format!("http://{addr}")
    }
}

async fn s3_app(s3: &FakeS3, secret: &str) -> TestApp {
    let endpoint = s3.start().await;
    let secret = secret.to_string();
    TestApp::spawn_with(move |c| {
        c.storage = "s3".into();
        c.s3_endpoint = Some(endpoint);
        c.s3_bucket = Some("docs".into());
        c.s3_region = "eu-central-1".into();
        c.s3_access_key_id = Some(S3_KEY.into());
        c.s3_secret_access_key = Some(secret);
    })
    .await
}

#[tokio::test]
async fn pdfs_are_kept_in_s3_compatible_storage() {
    let s3 = FakeS3::default();
    let app = s3_app(&s3, S3_SECRET).await;
    let inv = paid_invoice(&app, "en-GB").await;
    let id = inv["id"].as_str().unwrap();
    let (s, _, pdf) = fetch(&app, &format!("/v1/invoices/{id}/pdf")).await;
    assert_eq!(s, 200);
    assert_eq!(*s3.rejected.lock().unwrap(), Vec::<String>::new());
    let stored = s3.objects.lock().unwrap().get(&format!("test/invoices/{id}-paid-0.pdf")).cloned();
    let (ct, bytes) = stored.expect("the PDF was PUT to the bucket");
    assert_eq!((ct.as_str(), bytes), ("application/pdf", pdf.clone()));
    // The second read comes from the bucket: change the stored object and see it served.
    let mut tampered = pdf.clone();
    tampered.extend_from_slice(b"%marker");
    s3.objects
        .lock()
        .unwrap()
        .insert(format!("test/invoices/{id}-paid-0.pdf"), ("application/pdf".into(), tampered.clone()));
    let (_, _, again) = fetch(&app, &format!("/v1/invoices/{id}/pdf")).await;
    assert_eq!(again, tampered);
    assert!(!app.tdb.dir.path().join("files").exists(), "nothing was written locally");
}

#[tokio::test]
async fn a_store_that_refuses_the_signature_is_a_clear_503() {
    let s3 = FakeS3::default();
    let app = s3_app(&s3, "not-the-secret").await;
    let inv = paid_invoice(&app, "en-US").await;
    let (s, _, body) = fetch(&app, &format!("/v1/invoices/{}/pdf", inv["id"].as_str().unwrap())).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_error(s, &body, 503, None);
    assert!(s3.rejected.lock().unwrap().iter().any(|r| r == "SignatureDoesNotMatch"));
    assert!(s3.objects.lock().unwrap().is_empty());
}
