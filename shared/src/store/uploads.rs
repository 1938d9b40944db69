//! The imports bucket (S3): presigned PUT URLs for clients, and streamed reads for the import
//! worker, which never holds a whole file in memory.

use std::io::Read;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use sha2::{Digest, Sha256};

use super::{StoreError, sdk_error};

/// An S3 client for the SDK configuration. S3-compatible endpoints (moto locally) answer only
/// path-style addresses, and the SDK's endpoint variables cannot say so; AWS answers both.
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let custom_endpoint = sdk.endpoint_url().is_some()
        || ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|url| !url.trim().is_empty()));
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(custom_endpoint)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

#[derive(Clone, Debug)]
pub struct Uploads {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl Uploads {
    pub fn new(sdk: &aws_config::SdkConfig, bucket: impl Into<String>) -> Uploads {
        Uploads {
            s3: s3_client(sdk),
            bucket: bucket.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A URL the client can PUT the file to until `expires_in` has passed.
    pub async fn presign_put(&self, key: &str, expires_in: Duration) -> Result<String, StoreError> {
        let config = PresigningConfig::expires_in(expires_in)
            .map_err(|e| StoreError::Corrupt(format!("presigning: {e}")))?;
        let request = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(sdk_error)?;
        Ok(request.uri().to_string())
    }

    async fn get(&self, key: &str) -> Result<ByteStream, StoreError> {
        match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(out.body),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                Err(StoreError::NotFound(format!("upload {key}")))
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// SHA-256 (hex) and size of an object, read once as a stream.
    pub async fn sha256(&self, key: &str) -> Result<(String, u64), StoreError> {
        let mut body = self.get(key).await?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|e| StoreError::Unavailable(format!("reading {key}: {e}")))?;
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok((hex::encode(hasher.finalize()), size))
    }

    /// The object as a blocking `Read`, for the CSV reader on a blocking thread
    /// (`tokio::task::spawn_blocking`): it pulls one network chunk at a time.
    pub async fn open(&self, key: &str) -> Result<ObjectReader, StoreError> {
        Ok(ObjectReader {
            body: self.get(key).await?,
            runtime: tokio::runtime::Handle::current(),
            chunk: Vec::new(),
            at: 0,
        })
    }
}

pub struct ObjectReader {
    body: ByteStream,
    runtime: tokio::runtime::Handle,
    chunk: Vec<u8>,
    at: usize,
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.chunk.len() {
            match self.runtime.block_on(self.body.next()) {
                None => return Ok(0),
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                Some(Ok(bytes)) => {
                    self.chunk.clear();
                    self.chunk.extend_from_slice(&bytes);
                    self.at = 0;
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
