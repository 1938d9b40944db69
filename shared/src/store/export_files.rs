//! The exports bucket (S3): files written a part at a time with multipart upload, so an
//! export of any size holds at most one part in memory per file; manifests; and presigned
//! download URLs.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::uploads::s3_client;
use super::{StoreError, sdk_error};

/// S3 refuses parts under 5 MiB except the last (moto too).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// Room past the part size in each buffer, so the write that fills a part never makes the
/// buffer grow (a `Vec` grows by doubling: a part would briefly need two or three times its
/// size).
const PART_SLACK: usize = 1024 * 1024;

#[derive(Clone, Debug)]
pub struct ExportBucket {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl ExportBucket {
    pub fn new(sdk: &aws_config::SdkConfig, bucket: impl Into<String>) -> ExportBucket {
        ExportBucket {
            s3: s3_client(sdk),
            bucket: bucket.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A writer of one object, uploading a part each time `part_size` bytes (at least
    /// [`MIN_PART_SIZE`]) have been written.
    pub fn writer(&self, key: &str, content_type: &str, part_size: usize) -> ObjectWriter {
        ObjectWriter {
            bucket: self.clone(),
            key: key.to_string(),
            content_type: content_type.to_string(),
            part_size: part_size.max(MIN_PART_SIZE),
            buffer: Vec::new(),
            upload_id: None,
            parts: Vec::new(),
            bytes: 0,
        }
    }

    pub async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StoreError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// The whole object (manifests, and files in tests).
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| StoreError::Unavailable(format!("reading {key}: {e}")))?;
                Ok(Some(bytes.to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(e) => Err(sdk_error(e)),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// Multipart uploads started under `prefix` and neither completed nor aborted.
    pub async fn unfinished_uploads(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let out = self
            .s3
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .prefix(prefix)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out
            .uploads()
            .iter()
            .filter_map(|u| u.key().map(str::to_string))
            .collect())
    }

    /// A URL that downloads the object until `expires_in` has passed.
    pub async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, StoreError> {
        let config = PresigningConfig::expires_in(expires_in)
            .map_err(|e| StoreError::Corrupt(format!("presigning: {e}")))?;
        let request = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(sdk_error)?;
        Ok(request.uri().to_string())
    }
}

/// One object being written. A file that stays under one part is written with a single
/// `PutObject` on [`ObjectWriter::finish`]; a larger one with multipart upload, which
/// [`ObjectWriter::abort`] cancels (the bucket's lifecycle rule also removes parts a crashed
/// run left after a day).
pub struct ObjectWriter {
    bucket: ExportBucket,
    key: String,
    content_type: String,
    part_size: usize,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
    bytes: u64,
}

impl ObjectWriter {
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Parts uploaded so far.
    pub fn parts(&self) -> usize {
        self.parts.len()
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends `data`; uploads a part once a part's worth is buffered.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        if self.buffer.capacity() == 0 {
            self.buffer.reserve_exact(self.part_size + PART_SLACK);
        }
        self.buffer.extend_from_slice(data);
        self.bytes += data.len() as u64;
        if self.buffer.len() >= self.part_size {
            self.upload_part().await?;
        }
        Ok(())
    }

    async fn upload_part(&mut self) -> Result<(), StoreError> {
        let s3 = &self.bucket.s3;
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let out = s3
                    .create_multipart_upload()
                    .bucket(&self.bucket.bucket)
                    .key(&self.key)
                    .content_type(&self.content_type)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                let id = out
                    .upload_id()
                    .ok_or_else(|| StoreError::Unavailable("no multipart upload id".into()))?
                    .to_string();
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = i32::try_from(self.parts.len() + 1)
            .map_err(|_| StoreError::Corrupt("too many parts".into()))?;
        // The next part's buffer is allocated on its first write: never two at once.
        let body = std::mem::take(&mut self.buffer);
        let out = s3
            .upload_part()
            .bucket(&self.bucket.bucket)
            .key(&self.key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(sdk_error)?;
        self.parts.push(
            CompletedPart::builder()
                .set_e_tag(out.e_tag().map(str::to_string))
                .part_number(number)
                .build(),
        );
        Ok(())
    }

    /// Writes what is buffered and makes the object visible, whole.
    pub async fn finish(mut self) -> Result<(String, u64), StoreError> {
        let Some(upload_id) = self.upload_id.clone() else {
            let body = std::mem::take(&mut self.buffer);
            self.bucket.put(&self.key, body, &self.content_type).await?;
            return Ok((self.key, self.bytes));
        };
        if !self.buffer.is_empty() {
            self.upload_part().await?;
        }
        self.bucket
            .s3
            .complete_multipart_upload()
            .bucket(&self.bucket.bucket)
            .key(&self.key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(std::mem::take(&mut self.parts)))
                    .build(),
            )
            .send()
            .await
            .map_err(sdk_error)?;
        Ok((self.key, self.bytes))
    }

    /// Cancels the object: nothing of it becomes visible.
    pub async fn abort(self) -> Result<(), StoreError> {
        if let Some(upload_id) = &self.upload_id {
            self.bucket
                .s3
                .abort_multipart_upload()
                .bucket(&self.bucket.bucket)
                .key(&self.key)
                .upload_id(upload_id)
                .send()
                .await
                .map_err(sdk_error)?;
        }
        Ok(())
    }
}
