//! Where rendered documents (invoice, receipt and credit-note PDFs) are
//! kept: a directory on local disk by default, or any S3-compatible object
//! store (AWS S3, MinIO, R2, …) reached with presigned SigV4 requests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage is misconfigured: {0}")]
    Config(String),
    #[error("local storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("object storage: {0}")]
    Remote(String),
}

/// Settings for an S3-compatible store.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// `https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:9000`, …
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Path-style URLs (`endpoint/bucket/key`, what MinIO wants) instead of
    /// virtual-host style (`bucket.endpoint/key`).
    pub path_style: bool,
}

#[derive(Debug, Clone)]
pub enum Storage {
    Local(PathBuf),
    S3 { bucket: Box<Bucket>, credentials: Box<Credentials>, http: reqwest::Client },
}

/// How long a presigned request stays valid: it is used at once.
const SIGNED_FOR: Duration = Duration::from_secs(300);

fn check_key(key: &str) -> Result<(), StorageError> {
    let ok = !key.is_empty()
        && key.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(StorageError::Config(format!("bad object key `{key}`")))
    }
}

impl Storage {
    pub fn local(dir: impl Into<PathBuf>) -> Storage {
        Storage::Local(dir.into())
    }

    pub fn s3(s: &S3Settings) -> Result<Storage, StorageError> {
        let endpoint = s.endpoint.parse().map_err(|e| StorageError::Config(format!("s3_endpoint: {e}")))?;
        let style = if s.path_style { UrlStyle::Path } else { UrlStyle::VirtualHost };
        let bucket = Bucket::new(endpoint, style, s.bucket.clone(), s.region.clone())
            .map_err(|e| StorageError::Config(format!("s3_bucket: {e}")))?;
        let credentials = Credentials::new(s.access_key_id.clone(), s.secret_access_key.clone());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| StorageError::Config(e.to_string()))?;
        Ok(Storage::S3 { bucket: Box::new(bucket), credentials: Box::new(credentials), http })
    }

    /// A short description for logs (`local:/srv/bursar/files`, `s3:bucket`).
    pub fn describe(&self) -> String {
        match self {
            Storage::Local(dir) => format!("local:{}", dir.display()),
            Storage::S3 { bucket, .. } => format!("s3:{}", bucket.name()),
        }
    }

    /// Stores an object, replacing any object under the same key. Local
    /// writes go to a temporary file renamed into place, so a reader never
    /// sees half a file.
    pub async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), StorageError> {
        check_key(key)?;
        match self {
            Storage::Local(dir) => {
                let path = dir.join(key);
                let parent = path.parent().unwrap_or(Path::new(".")).to_path_buf();
                tokio::fs::create_dir_all(&parent).await?;
                let tmp = parent.join(format!(".{}.tmp", uuid::Uuid::now_v7()));
                tokio::fs::write(&tmp, &bytes).await?;
                if let Err(e) = tokio::fs::rename(&tmp, &path).await {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(e.into());
                }
                Ok(())
            }
            Storage::S3 { bucket, credentials, http } => {
                let url = bucket.put_object(Some(credentials), key).sign(SIGNED_FOR);
                let resp = http
                    .put(url)
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(bytes)
                    .send()
                    .await
                    .map_err(|e| StorageError::Remote(e.to_string()))?;
                if !resp.status().is_success() {
                    let status = resp.status();
                    let body = resp.text().await.unwrap_or_default();
                    return Err(StorageError::Remote(format!("PUT {key}: {status}: {}", s3_error(&body))));
                }
                Ok(())
            }
        }
    }

    /// Reads an object; `None` when there is none under the key.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        check_key(key)?;
        match self {
            Storage::Local(dir) => match tokio::fs::read(dir.join(key)).await {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.into()),
            },
            Storage::S3 { bucket, credentials, http } => {
                let url = bucket.get_object(Some(credentials), key).sign(SIGNED_FOR);
                let resp = http.get(url).send().await.map_err(|e| StorageError::Remote(e.to_string()))?;
                match resp.status() {
                    s if s.is_success() => {
                        Ok(Some(resp.bytes().await.map_err(|e| StorageError::Remote(e.to_string()))?.to_vec()))
                    }
                    reqwest::StatusCode::NOT_FOUND => Ok(None),
                    s => {
                        let body = resp.text().await.unwrap_or_default();
                        Err(StorageError::Remote(format!("GET {key}: {s}: {}", s3_error(&body))))
                    }
                }
            }
        }
    }
}

/// The `<Code>` of an S3 error document, or the start of the body.
fn s3_error(body: &str) -> String {
    let code = body.split_once("<Code>").and_then(|(_, r)| r.split_once("</Code>")).map(|(c, _)| c.to_string());
    code.unwrap_or_else(|| body.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_plain_relative_paths() {
        assert!(check_key("invoices/live/inv_01.pdf").is_ok());
        for bad in ["", "/abs", "a//b", "../x", "a/./b", "a b", "a\\b", "é"] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn local_put_then_get_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::local(dir.path());
        assert_eq!(s.get("a/b.pdf").await.unwrap(), None);
        s.put("a/b.pdf", b"one".to_vec(), "application/pdf").await.unwrap();
        s.put("a/b.pdf", b"two".to_vec(), "application/pdf").await.unwrap();
        assert_eq!(s.get("a/b.pdf").await.unwrap().as_deref(), Some(&b"two"[..]));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("a")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files remain");
    }
}
